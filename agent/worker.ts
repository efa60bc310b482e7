/**
 * The agent worker. `node dist/agent/worker.js start` (built by `npm run build`; in development
 * `node --import tsx agent/worker.ts start`) registers with LiveKit under `AGENT_NAME` (explicit
 * dispatch) and runs one process per job. The framework forks every job process from this same
 * file (`ServerOptions.agent`), so a compiled worker forks compiled jobs with no loader.
 */
import {
  cli,
  defineAgent,
  ServerOptions,
  type JobContext,
  type JobProcess,
  type JobRequest,
  type VAD,
} from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { fileURLToPath } from 'node:url';
import { withTimeout } from '../infra/time.ts';
import { config, type Config } from '../infra/config.ts';
import { ConfigError } from '../infra/errors.ts';
import { installFrameworkLogScrubber } from '../infra/framework-log.ts';
import { createLogger, type Logger } from '../infra/logger.ts';
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { createPubSub } from '../infra/pubsub.ts';
import { MongoProfileStore } from '../prompts/mongo-store.ts';
import { EscalationCourier } from '../sessions/escalation-delivery.ts';
import { EscalationSpool } from '../sessions/escalation-spool.ts';
import { PubSubEventPublisher } from '../sessions/events.ts';
import { ensureOutboxIndexes, MongoEscalationOutbox } from '../sessions/mongo-outbox.ts';
import { ensureIndexes, MongoSessionStore, MongoUtteranceStore } from '../sessions/mongo-store.ts';
import { escalationPublisher, startOutboxRelay } from '../sessions/escalations.ts';
import { currentTracing } from '../infra/tracing.ts';
import { UtteranceSpool } from '../sessions/utterance-spool.ts';
import { LiveKitAgentRooms } from '../dispatcher/livekit.ts';
import { handOverLiveCalls, JobLedger } from './handoff.ts';
import { createLoadFunction } from './load.ts';
import { AgentMetrics, startMetricsServer } from './metrics.ts';
import { assertProvidersConfigured } from './providers/index.ts';
import { usableProviders } from './providers/local-engines.ts';
import { MongoFollowUpStore, MongoKnowledgeStore } from '../knowledge/index.ts';
import { MongoEducationStore } from '../education/index.ts';
import { runSession } from './session.ts';
import { startJobTracing, startWorkerTracing, tracedJobRequests } from './tracing.ts';

/** A bad environment is reported by `main` (or the job's entry); here it just means no pii. */
function logPiiSetting(): boolean {
  try {
    return config().log.logPii;
  } catch {
    return false;
  }
}

// Runs on import, in the main process before `cli.runApp` and in every job process before the
// worker's first message: the framework's logger is created after this, and scrubbed.
installFrameworkLogScrubber({ service: 'agent', logPii: logPiiSetting() });

interface ProcData {
  vad: VAD;
  /** Connected while the process waits for its job; unset if that failed (entry connects then). */
  mongo: MongoHandle | undefined;
}

export default defineAgent<ProcData>({
  // Once per process, before any job: the VAD model ships in the plugin package (~150 ms).
  prewarm: async (proc: JobProcess<ProcData>) => {
    const cfg = config();
    startJobTracing(
      cfg,
      createLogger({ level: cfg.log.level, service: 'agent', logPii: cfg.log.logPii }),
    );
    proc.userData.vad = await silero.VAD.load({ minSilenceDuration: cfg.agent.vadMinSilenceMs });
    // A fresh process takes 30–130 ms to connect on a busy 2-core box (bench/), and the job
    // waits for it before joining the room: connect while idle instead.
    // The ping opens a pooled connection, which the job's first read would otherwise wait for.
    proc.userData.mongo = await connectMongo(cfg.mongo)
      .then(async (m) => (await m.db.command({ ping: 1 }), m))
      .catch(() => undefined);
  },
  entry: async (ctx: JobContext<ProcData>) => {
    const cfg = jobConfig();
    const log = createLogger({ level: cfg.log.level, service: 'agent', logPii: cfg.log.logPii });
    const mongo = ctx.proc.userData.mongo ?? (await connectMongo(cfg.mongo));
    const pubsub = createPubSub(cfg.pubsub);
    await runSession(ctx, {
      cfg,
      log,
      sessions: new MongoSessionStore({ db: mongo.db }),
      utterances: new MongoUtteranceStore({ db: mongo.db }),
      profiles: new MongoProfileStore(mongo.db),
      events: new PubSubEventPublisher({
        topic: pubsub.topic(cfg.pubsub.eventsTopic),
        timeoutMs: 3000,
      }),
      transcriptSpool: new UtteranceSpool({ dir: cfg.faults.transcript.spoolDir }),
      escalations: new EscalationCourier({
        outbox: new MongoEscalationOutbox({ db: mongo.db }),
        publisher: escalationPublisher(pubsub, cfg.pubsub),
        spool: new EscalationSpool({ dir: cfg.outbox.spoolDir }),
        logger: log.child({ jobId: ctx.job.id }),
        by: `job:${ctx.job.id}`,
      }),
      vad: ctx.proc.userData.vad,
      knowledge: {
        store: new MongoKnowledgeStore({ db: mongo.db }),
        followUps: new MongoFollowUpStore({ db: mongo.db }),
      },
      education: { store: new MongoEducationStore({ db: mongo.db }) },
      afterFinalize: async () => {
        // pubsub.close() can hang against the emulator; the process exits after this anyway.
        await Promise.allSettled([
          withTimeout(mongo.close(), 500, 'mongo close'),
          withTimeout(pubsub.close(), 500, 'pubsub close'),
          // The job process exits right after: what is still batched goes now or never.
          currentTracing().flush(1000),
        ]);
      },
    });
  },
});

const RELAY_STOP_MS = 2000;

/**
 * The escalation relay of this worker's main process: it replays the local spools its job
 * processes write (so it must run on their machine): escalations into the outbox, transcripts
 * into the utterance store; and publishes what jobs left undelivered.
 * Main process only: job processes import this file too.
 */
function startRelay(cfg: Config, log: Logger, mongo: MongoHandle, metrics?: AgentMetrics): void {
  const pubsub = createPubSub(cfg.pubsub);
  const transcripts = new UtteranceSpool({ dir: cfg.faults.transcript.spoolDir });
  const utterances = new MongoUtteranceStore({ db: mongo.db });
  const relay = startOutboxRelay({
    cfg,
    db: mongo.db,
    pubsub,
    logger: log,
    role: 'agent',
    replaySpool: true,
    // Transcripts jobs could not write before they ended: stored once MongoDB answers.
    extraReplays: [
      {
        name: 'transcript',
        replay: async () => {
          try {
            const r = await transcripts.replayInto(utterances, log);
            metrics?.transcriptSpoolBatches.set(r.left);
            metrics?.transcriptReplayed.inc(r.utterances);
            return r.utterances;
          } catch (err) {
            const waiting = await transcripts.list().catch(() => undefined);
            if (waiting) metrics?.transcriptSpoolBatches.set(waiting.entries.length);
            throw err;
          }
        },
      },
    ],
  });
  process.once('SIGTERM', () => {
    void relay
      .stop(RELAY_STOP_MS)
      .then(() => Promise.allSettled([withTimeout(pubsub.close(), 500, 'pubsub close')]));
  });
}

let jobCfg: Config | undefined;
/** The configuration with the chains the main process decided on at startup (same check). */
function jobConfig(): Config {
  const cfg = config();
  jobCfg ??= { ...cfg, providers: usableProviders(cfg.providers).providers };
  return jobCfg;
}

export function serverOptions(
  cfg: Config,
  metrics?: AgentMetrics,
  requestFunc?: (req: JobRequest) => Promise<void>,
): ServerOptions {
  const load = createLoadFunction({ cpu: cfg.agent.cpuLoad, maxJobs: cfg.agent.maxJobs });
  const opts = new ServerOptions({
    agent: fileURLToPath(import.meta.url),
    agentName: cfg.agent.name,
    wsURL: cfg.livekit.url,
    apiKey: cfg.livekit.apiKey,
    apiSecret: cfg.livekit.apiSecret,
    host: cfg.agent.httpHost,
    port: cfg.agent.httpPort,
    numIdleProcesses: cfg.agent.numIdleProcesses,
    loadThreshold: cfg.agent.loadThreshold,
    loadFunc: async (server) => {
      const value = load(server.activeJobs.length);
      metrics?.observe(server.activeJobs.length, value);
      return value;
    },
    // The framework's defaults are one hour and one minute; Cloud Run kills ~10 s after SIGTERM.
    drainTimeout: cfg.agent.drainTimeoutMs,
    shutdownProcessTimeout: cfg.agent.shutdownTimeoutMs,
    initializeProcessTimeout: cfg.agent.initializeProcessTimeoutMs,
    logLevel: cfg.log.level === 'silent' ? 'fatal' : cfg.log.level,
    ...(requestFunc ? { requestFunc } : {}),
  });
  // The framework reads the option with `||`, so 0 would become min(cores, 4).
  opts.numIdleProcesses = cfg.agent.numIdleProcesses;
  return opts;
}

async function main(): Promise<void> {
  let cfg: Config;
  try {
    cfg = config();
    assertProvidersConfigured(cfg.providers);
    // A speech engine missing from the image is decided here, before the worker registers:
    // dropped from a chain with a warning, or a refusal to start; never an error mid-call.
    const usable = usableProviders(cfg.providers);
    const log = createLogger({ level: cfg.log.level, service: 'agent' });
    for (const d of usable.dropped) {
      log.warn(
        { stage: d.stage, reason: d.reason },
        'local engine not installed; left out of the chain',
      );
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`agent worker cannot start: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  // The unique (sessionId, seq) index is what makes transcript retries idempotent: make sure it
  // exists before the first job, whichever service started first.
  const mongo = await connectMongo(cfg.mongo);
  try {
    await ensureIndexes(mongo.db);
    await ensureOutboxIndexes(mongo.db);
  } catch (err) {
    await mongo.close();
    throw err;
  }
  // The relay keeps this connection for the life of the process.
  const log = createLogger({ level: cfg.log.level, service: 'agent', logPii: cfg.log.logPii });
  const tracing = startWorkerTracing(cfg, log);
  // The framework exits on its own after the drain; export the accepted jobs' spans first.
  if (tracing.enabled) process.once('SIGTERM', () => void tracing.flush());
  let metrics: AgentMetrics | undefined;
  if (cfg.agent.metricsPort !== undefined) {
    metrics = new AgentMetrics({ maxJobs: cfg.agent.maxJobs });
    const m = metrics;
    await startMetricsServer(m.registry, cfg.agent.httpHost, cfg.agent.metricsPort);
    // The framework drains on SIGTERM itself; this only tells the scaler this worker is leaving.
    process.once('SIGTERM', () => m.draining.set(1));
  }
  startRelay(cfg, log, mongo, metrics);
  const traced = tracedJobRequests(tracing);
  const requests = cfg.agent.handoffOnDrain ? handOffOnSigterm(cfg, log, mongo, traced) : traced;
  cli.runApp(serverOptions(cfg, metrics, requests));
}

/** LiveKit has had the draining worker's "full" status before the successor's dispatch. */
const HANDOFF_SETTLE_MS = 250;

/**
 * Notes each job this worker accepts, and on SIGTERM dispatches its live calls to successors
 * (`handoff.ts`). Returns the job request handler that does the noting.
 */
function handOffOnSigterm(
  cfg: Config,
  log: Logger,
  mongo: MongoHandle,
  inner: ((req: JobRequest) => Promise<void>) | undefined,
): (req: JobRequest) => Promise<void> {
  const ledger = new JobLedger({ maxAgeMs: cfg.agent.maxSessionMs + 5 * 60_000 });
  process.once('SIGTERM', () => {
    const jobs = ledger.recent();
    if (jobs.length === 0) return;
    setTimeout(() => {
      void handOverLiveCalls(jobs, {
        dispatcher: new LiveKitAgentRooms({ ...cfg.livekit, requestTimeoutMs: 2000 }),
        sessions: new MongoSessionStore({ db: mongo.db }),
        agentName: cfg.agent.name,
        log,
      }).then((r) => log.info({ ...r }, 'handoff of live calls on SIGTERM'));
    }, HANDOFF_SETTLE_MS);
  });
  return async (req) => {
    const room = req.room?.name;
    if (room) ledger.note({ jobId: req.id, room, metadata: req.job.metadata });
    await (inner ? inner(req) : req.accept());
  };
}

// Every job process imports this file; only the entry point starts a worker.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `agent worker cannot start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  });
}
