/**
 * The API process. Reads the configuration once, connects MongoDB and Pub/Sub, opens its own
 * events subscription, serves until SIGTERM/SIGINT, then stops taking requests, closes the
 * streams and the clients, each within a deadline.
 *
 *   npm run api
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { settlesWithin } from '../infra/time.ts';
import { LiveKitAgentRooms } from '../dispatcher/livekit.ts';
import { config, type Config } from '../infra/config.ts';
import { ConfigError } from '../infra/errors.ts';
import { stopOnSignals } from '../infra/lifecycle.ts';
import { startTracing } from '../infra/tracing.ts';
import { createLogger, type Logger } from '../infra/logger.ts';
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { createPubSub, ensureTopic } from '../infra/pubsub.ts';
import {
  ensureKnowledgeIndexes,
  MongoFollowUpStore,
  MongoKnowledgeStore,
} from '../knowledge/index.ts';
import { ensureEducationIndexes, MongoEducationStore } from '../education/index.ts';
import { ClipRenderer } from '../education/render.ts';
import { providerSynthesizer } from '../education/voices.ts';
import { MongoProfileStore } from '../prompts/mongo-store.ts';
import { ensureIndexes, MongoSessionStore, MongoUtteranceStore } from '../sessions/mongo-store.ts';
import type { SessionRequest } from '../sessions/schema.ts';
import { ApiKeyStore } from './auth/api-keys.ts';
import { createStaffTokenVerifier, loadOrCreateDevKey, type DevKey } from './auth/jwt.ts';
import type { ApiDeps, RequestPublisher } from './deps.ts';
import { clipLinkKey, createClipLinks } from './education/links.ts';
import { PubSubEventHub } from './events/hub.ts';
import { JoinLinks } from './join/links.ts';
import { buildApi } from './server.ts';
import { IdempotencyKeys } from './sessions/idempotency.ts';
import { apiTracer } from './tracing.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The dev key path from configuration, relative to the repository. */
export function devKeyPath(cfg: Config): string {
  const p = cfg.api.jwt.devKeyPath;
  return isAbsolute(p) ? p : resolve(root, p);
}

/** Staff tokens are checked against the issuer's JWKS, or locally against the dev key. */
export function assertAuthConfig(cfg: Config): void {
  const problems: string[] = [];
  if (cfg.env === 'production' && !cfg.api.jwt.jwksUrl) {
    problems.push('API_JWKS_URL: is required in production (the dev key is for this machine only)');
  }
  if (cfg.env === 'production' && !cfg.api.educationLink.secret) {
    problems.push(
      'API_EDUCATION_LINK_SECRET: is required in production (patient clip links are signed with it)',
    );
  }
  if (problems.length) throw new ConfigError(problems);
}

export interface RunningApi {
  app: FastifyInstance;
  url: string;
  mongo: MongoHandle;
  devKey: DevKey | undefined;
  stop(): Promise<void>;
}

export interface RunApiOverrides {
  logger?: Logger;
  /** Collect Node process metrics too. @defaultValue true */
  processMetrics?: boolean;
  /** @defaultValue cfg.api.port (0 picks a free one) */
  port?: number;
}

const CLIENT_CLOSE_TIMEOUT_MS = 3000;

export async function runApi(cfg: Config, overrides: RunApiOverrides = {}): Promise<RunningApi> {
  assertAuthConfig(cfg);
  const logger =
    overrides.logger ??
    createLogger({ level: cfg.log.level, service: 'api', logPii: cfg.log.logPii });
  const devKey = cfg.api.jwt.jwksUrl ? undefined : await loadOrCreateDevKey(devKeyPath(cfg));
  const mongo = await connectMongo(cfg.mongo);
  const pubsub = createPubSub(cfg.pubsub);
  let hub: PubSubEventHub | undefined;
  let renderer: ClipRenderer | undefined;
  try {
    await ensureIndexes(mongo.db);
    await ensureKnowledgeIndexes(mongo.db);
    await ensureEducationIndexes(mongo.db);
    const education = new MongoEducationStore({ db: mongo.db });
    renderer = new ClipRenderer({
      store: education,
      synthesizer: providerSynthesizer(cfg.providers),
      logger: logger.child({ component: 'education-render' }),
    });
    const clipRenderer = renderer;
    const clipKey = clipLinkKey(cfg.api.educationLink.secret, devKey);
    if (clipKey.ephemeral) {
      logger.warn(
        'API_EDUCATION_LINK_SECRET is not set: patient clip links are signed with a key made up for this process, and stop working when it restarts',
      );
    }
    const profiles = new MongoProfileStore(mongo.db);
    await profiles.ensureIndexes();
    const requestsTopic = await ensureTopic(pubsub, cfg.pubsub.requestsTopic);
    // A few ms of batching: under load many requests share one publish call.
    requestsTopic.setPublishOptions({ batching: { maxMessages: 100, maxMilliseconds: 5 } });
    await ensureTopic(pubsub, cfg.pubsub.eventsTopic);
    hub = await PubSubEventHub.start({ pubsub, topic: cfg.pubsub.eventsTopic, logger });
    const requests: RequestPublisher = {
      // The trace context rides in the attributes: the body is the v1 contract, unchanged.
      publish: (request: SessionRequest) =>
        apiTracer.publish(
          'session-requests',
          async (attributes) => {
            await requestsTopic.publishMessage({ json: request, attributes });
          },
          { 'voicecare.session.id': request.sessionId },
        ),
    };
    const deps: ApiDeps = {
      cfg,
      db: mongo.db,
      sessions: new MongoSessionStore({ db: mongo.db }),
      utterances: new MongoUtteranceStore({ db: mongo.db }),
      knowledge: new MongoKnowledgeStore({ db: mongo.db }),
      followUps: new MongoFollowUpStore({ db: mongo.db }),
      education,
      clipRenderer,
      clipLinks: createClipLinks({
        key: clipKey,
        issuer: cfg.api.jwt.issuer,
        ttlMs: cfg.api.educationLink.ttlMs,
      }),
      profiles,
      requests,
      rooms: new LiveKitAgentRooms(cfg.livekit),
      idempotency: new IdempotencyKeys(mongo.db),
      joinLinks: new JoinLinks({ db: mongo.db, ttlMs: cfg.api.joinLinkTtlMs }),
      events: hub,
      now: () => new Date(),
    };
    const app = await buildApi({
      deps,
      logger,
      staffTokens: createStaffTokenVerifier(cfg.api.jwt, devKey),
      apiKeys: new ApiKeyStore(mongo.db),
      readinessChecks: { mongo: () => mongo.db.command({ ping: 1 }) },
      processMetrics: overrides.processMetrics,
    });
    const host = cfg.api.host;
    await app.listen({ host, port: overrides.port ?? cfg.api.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : cfg.api.port;
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    logger.info({ url, devKey: devKey !== undefined }, 'api listening');
    // Jobs a stopped process left queued or rendering: none is lost across a restart.
    const resumed = await clipRenderer.resume();
    if (resumed) logger.info({ jobs: resumed }, 'education render jobs resumed');

    const events = hub;
    let stopping: Promise<void> | undefined;
    const bounded = async (name: string, fn: () => Promise<unknown>) => {
      const closed = await settlesWithin(
        fn().catch((err: unknown) => logger.warn({ err, client: name }, 'close failed')),
        CLIENT_CLOSE_TIMEOUT_MS,
        `closing ${name}`,
      );
      if (!closed) logger.warn({ client: name }, 'close timed out');
    };
    return {
      app,
      url,
      mongo,
      devKey,
      stop: () =>
        (stopping ??= (async () => {
          await bounded('http', () => app.close());
          await bounded('education-render', () => clipRenderer.close());
          await bounded('events', () => events.close());
          await bounded('pubsub', () => pubsub.close());
          await bounded('mongo', () => mongo.close());
        })()),
    };
  } catch (err) {
    await renderer?.close().catch(() => undefined);
    await hub?.close().catch(() => undefined);
    await pubsub.close().catch(() => undefined);
    await mongo.close().catch(() => undefined);
    throw err;
  }
}

async function main(): Promise<void> {
  const cfg = config();
  const logger = createLogger({ level: cfg.log.level, service: 'api', logPii: cfg.log.logPii });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection');
    process.exit(1);
  });
  // Before the server is built: its routes are wrapped in spans only while tracing is on.
  const tracing = startTracing({ service: 'api', cfg: cfg.tracing, logger });
  const running = await runApi(cfg, { logger });
  process.stdout.write(`api: ${running.url} (OpenAPI at ${running.url}/openapi.json)\n`);
  stopOnSignals({
    logger,
    stop: () => running.stop().then(() => true),
    deadlineMs: cfg.api.shutdownTimeoutMs,
    flush: () => tracing.shutdown(),
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else createLogger({ level: 'info', service: 'api' }).fatal({ err }, 'api failed to start');
    process.exit(1);
  });
}
