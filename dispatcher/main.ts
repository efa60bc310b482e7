/**
 * The dispatcher process. Reads the configuration once, creates its Pub/Sub topology and MongoDB
 * indexes, wires the real clients, serves /healthz /readyz /metrics, and on SIGTERM/SIGINT stops
 * pulling and finishes or hands back in-flight requests before exiting.
 *
 *   node --import tsx dispatcher/main.ts
 */
import { fileURLToPath } from 'node:url';
import { config, type Config } from '../infra/config.ts';
import { stopOnSignals } from '../infra/lifecycle.ts';
import { startTracing } from '../infra/tracing.ts';
import { createLogger, type Logger } from '../infra/logger.ts';
import { connectMongo } from '../infra/mongo.ts';
import { createPubSub, ensureSessionTopology } from '../infra/pubsub.ts';
import { ensureIndexes, MongoSessionStore } from '../sessions/mongo-store.ts';
import { settlesWithin } from '../infra/time.ts';
import { startOutboxRelay } from '../sessions/escalations.ts';
import { ensureOutboxIndexes } from '../sessions/mongo-outbox.ts';
import {
  Dispatcher,
  dispatcherSettings,
  type DispatcherOptions,
  type StopReport,
} from './dispatcher.ts';
import { PubSubEventPublisher } from '../sessions/events.ts';
import { startOpsServer } from './http.ts';
import { MongoPlacementLeases } from './leases.ts';
import { LiveKitAgentRooms } from './livekit.ts';
import { DispatcherMetrics } from './metrics.ts';
import { liveKitActiveSessions, registerScalingGauges } from './scaling.ts';
import { MongoProfileStore } from '../prompts/mongo-store.ts';
import { PublishedProfileCatalog, type ProfileCatalog } from './profiles.ts';
import { PubSubRequestSource } from './source.ts';
import { Reaper } from './reaper.ts';

export interface RunOverrides {
  logger?: Logger;
  profiles?: ProfileCatalog;
  onSettled?: DispatcherOptions['onSettled'];
  instanceId?: string;
  /** Collect Node process metrics too. @defaultValue true */
  processMetrics?: boolean;
}

export interface RunningDispatcher {
  dispatcher: Dispatcher;
  /** Ends sessions left open for ever; runs on its interval, or sweep it by hand. */
  reaper: Reaper;
  /** Where /healthz, /readyz and /metrics are served. */
  opsUrl: string;
  /** Graceful stop: the dispatcher first, then the clients, each with a bounded wait. */
  stop(): Promise<StopReport>;
}

const CLIENT_CLOSE_TIMEOUT_MS = 3000;

/** Wires and starts a dispatcher from configuration. */
export async function runDispatcher(
  cfg: Config,
  overrides: RunOverrides = {},
): Promise<RunningDispatcher> {
  const logger =
    overrides.logger ??
    createLogger({ level: cfg.log.level, service: 'dispatcher', logPii: cfg.log.logPii });

  const pubsub = createPubSub(cfg.pubsub);
  await ensureSessionTopology(pubsub, cfg.pubsub);
  const mongo = await connectMongo(cfg.mongo);
  await ensureIndexes(mongo.db);
  await ensureOutboxIndexes(mongo.db);
  const leases = new MongoPlacementLeases({ db: mongo.db });
  await leases.ensureIndexes();

  const shutdownTimeoutMs = cfg.dispatcher.shutdownTimeoutMs;
  const metrics = new DispatcherMetrics({
    collectProcessMetrics: overrides.processMetrics ?? true,
  });
  const store = new MongoSessionStore({ db: mongo.db });
  const rooms = new LiveKitAgentRooms(cfg.livekit);
  const events = new PubSubEventPublisher({ topic: pubsub.topic(cfg.pubsub.eventsTopic) });
  const dispatcher = new Dispatcher({
    ...dispatcherSettings(cfg),
    store,
    leases,
    rooms,
    events,
    profiles: overrides.profiles ?? new PublishedProfileCatalog(new MongoProfileStore(mongo.db)),
    source: new PubSubRequestSource({
      subscription: pubsub.subscription(cfg.pubsub.requestsSubscription),
      maxInFlight: cfg.dispatcher.maxInFlight,
      // The client keeps leasing what we still work on until our own deadline has passed.
      closeWaitMs: shutdownTimeoutMs + 1000,
    }),
    logger,
    metrics,
    instanceId: overrides.instanceId,
    onSettled: overrides.onSettled,
    readinessChecks: { mongo: () => mongo.db.command({ ping: 1 }) },
  });
  const activeSessions = liveKitActiveSessions(cfg.livekit);
  registerScalingGauges({
    registry: metrics.registry,
    policy: {
      sessionsPerWorker: cfg.dispatcher.sessionsPerWorker,
      spareWorkers: cfg.dispatcher.spareWorkers,
    },
    // The subscription's own backlog is a Cloud Monitoring metric the scaler reads directly;
    // in process, what waits is what this dispatcher has received and not yet placed.
    demand: async () => ({
      backlog: 0,
      inFlight: dispatcher.stats().inFlight,
      activeSessions: await activeSessions(),
    }),
    onError: (err) => logger.warn({ err }, 'active session count failed'),
  });
  const ops = await startOpsServer({
    health: dispatcher,
    registry: metrics.registry,
    logger,
    port: cfg.dispatcher.httpPort,
    host: cfg.dispatcher.httpHost,
  });
  dispatcher.start();
  // Every dispatcher sweeps; the store's compare-and-set transitions make that safe (no leader).
  const reaper = new Reaper({
    store,
    leases,
    rooms,
    events,
    logger,
    instanceId: overrides.instanceId,
    leaseMs: cfg.dispatcher.leaseMs,
    registry: metrics.registry,
    ...cfg.dispatcher.reaper,
  });
  reaper.start();
  // A second home for the escalation relay, beside the agent workers' (no leader needed).
  const relay = startOutboxRelay({
    cfg,
    db: mongo.db,
    pubsub,
    logger,
    role: 'dispatcher',
    registry: metrics.registry,
  });
  logger.info(
    {
      opsUrl: ops.url,
      maxInFlight: cfg.dispatcher.maxInFlight,
      subscription: cfg.pubsub.requestsSubscription,
    },
    'dispatcher running',
  );

  let stopping: Promise<StopReport> | undefined;
  const closeClient = async (name: string, close: () => Promise<unknown>) => {
    const closed = await settlesWithin(
      close().catch((err: unknown) => logger.warn({ err, client: name }, 'client close failed')),
      CLIENT_CLOSE_TIMEOUT_MS,
      `${name} close`,
    );
    if (!closed) logger.warn({ client: name }, 'client close timed out');
  };
  return {
    dispatcher,
    reaper,
    opsUrl: ops.url,
    stop: () =>
      (stopping ??= (async () => {
        const report = await dispatcher.stop();
        await reaper.stop(CLIENT_CLOSE_TIMEOUT_MS);
        await relay.stop(CLIENT_CLOSE_TIMEOUT_MS);
        await ops.close();
        await closeClient('mongo', () => mongo.close());
        await closeClient('pubsub', () => pubsub.close());
        return report;
      })()),
  };
}

async function main(): Promise<void> {
  const cfg = config();
  const logger = createLogger({
    level: cfg.log.level,
    service: 'dispatcher',
    logPii: cfg.log.logPii,
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection');
    process.exit(1);
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });

  const tracing = startTracing({ service: 'dispatcher', cfg: cfg.tracing, logger });
  const running = await runDispatcher(cfg, { logger });
  stopOnSignals({
    logger,
    stop: () => running.stop().then((report) => report.drained),
    // Do not outlive the platform's grace period by much.
    deadlineMs: cfg.dispatcher.shutdownTimeoutMs + 5000,
    flush: () => tracing.shutdown(),
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    // Configuration errors carry one line per problem; print them as they are.
    createLogger({ level: 'info', service: 'dispatcher' }).fatal(
      { err },
      'dispatcher failed to start',
    );
    process.exit(1);
  });
}
