/**
 * The whole local stack in one process tree: the three servers, the repo's profiles published,
 * the dispatcher (in this process) and one agent worker (a child process group). Used by the
 * README's main command and by its headless test.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Config } from '../../infra/config.ts';
import { connectMongo, type MongoHandle } from '../../infra/mongo.ts';
import { runDispatcher, type RunningDispatcher } from '../../dispatcher/main.ts';
import { ApiKeyStore } from '../../api/auth/api-keys.ts';
import { runApi, type RunningApi } from '../../api/main.ts';
import { listProfileFiles, readProfile } from '../../prompts/loader.ts';
import { MongoProfileStore } from '../../prompts/mongo-store.ts';
import { PublishConflictError } from '../../prompts/store.ts';
import {
  ensureIndexes,
  MongoSessionStore,
  MongoUtteranceStore,
} from '../../sessions/mongo-store.ts';
import { startAgentWorker, type AgentWorker } from '../../sim/agent-worker.ts';
import { LOCAL_STACK_ENV } from '../../sim/local-env.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

export interface StackOptions {
  cfg: Config;
  /** Environment for the agent worker on top of the configuration's own. */
  workerEnv: Record<string, string>;
  /** Progress lines for the terminal. */
  progress: (line: string) => void;
  /** Start and stop the local servers (off when a test run already has them). @defaultValue true */
  manageServices?: boolean;
}

export interface Stack {
  mongo: MongoHandle;
  sessions: MongoSessionStore;
  utterances: MongoUtteranceStore;
  dispatcher: RunningDispatcher;
  api: RunningApi;
  /** A backend API key made for this run (sessions:create, sessions:read). */
  apiKey: string;
  worker: AgentWorker;
  stop(): Promise<void>;
}

async function timed<T>(
  progress: (l: string) => void,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  progress(`▸ ${what}…`);
  const value = await fn();
  progress(`  ✓ ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return value;
}

/** Publishes every profile in prompts/ that is not published yet; reports edited ones. */
async function publishProfiles(
  mongo: MongoHandle,
  progress: (l: string) => void,
): Promise<string[]> {
  const store = new MongoProfileStore(mongo.db);
  const ids: string[] = [];
  for (const file of await listProfileFiles(`${root}/prompts`)) {
    const profile = await readProfile(file);
    try {
      const r = await store.publish(profile, { author: 'voicecare start', note: 'local stack' });
      ids.push(`${profile.id}@${r.published.version}`);
    } catch (err) {
      if (!(err instanceof PublishConflictError)) throw err;
      // The YAML changed under an already-published version: keep serving the published one.
      progress(
        `  ! ${profile.id} v${profile.version} differs from its published copy; bump its version to publish`,
      );
      ids.push(`${profile.id}@${profile.version}`);
    }
  }
  return ids;
}

/**
 * Stops whatever has been started so far, newest first. Created before the stack starts, so a
 * Ctrl-C during a slow start still shuts down what is already running.
 */
export class StackTeardown {
  private readonly cleanups: (() => Promise<void>)[] = [];
  private stopping: Promise<void> | undefined;

  add(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const c of this.cleanups.reverse()) await c().catch(() => undefined);
    })();
    return this.stopping;
  }
}

export async function startStack(
  opts: StackOptions,
  teardown = new StackTeardown(),
): Promise<Stack> {
  const { cfg, progress } = opts;
  const manage = opts.manageServices ?? true;
  const cleanups = { push: (c: () => Promise<void>) => teardown.add(c) };
  const stop = () => teardown.stop();
  try {
    const services = `${root}/scripts/services.sh`;
    const alreadyUp = await run('bash', [services, 'status']).then(
      () => true,
      () => false,
    );
    if (manage && !alreadyUp) {
      await timed(progress, 'starting LiveKit, the Pub/Sub emulator and FerretDB', async () => {
        await run('bash', [services, 'up'], { timeout: 180_000 });
      });
      // Stop only what this run started: servers someone else runs stay up.
      cleanups.push(async () => {
        await run('bash', [services, 'down'], { timeout: 60_000 });
      });
    } else if (alreadyUp) {
      progress('  ✓ LiveKit, the Pub/Sub emulator and FerretDB are already running');
    }
    const mongo = await connectMongo(cfg.mongo);
    cleanups.push(() => mongo.close());
    await ensureIndexes(mongo.db);
    const published = await timed(progress, 'publishing clinician profiles', () =>
      publishProfiles(mongo, progress),
    );
    progress(`  profiles: ${published.join(', ')}`);

    const dispatcher = await timed(progress, 'starting the dispatcher', () =>
      runDispatcher(cfg, { processMetrics: false }),
    );
    cleanups.push(async () => {
      await dispatcher.stop();
    });
    progress(`  dispatcher health and metrics: ${dispatcher.opsUrl}/metrics`);

    const api = await timed(progress, 'starting the session API', () =>
      runApi(cfg, { processMetrics: false }),
    );
    cleanups.push(() => api.stop());
    const apiKey = (
      await new ApiKeyStore(mongo.db).create('npm start', ['sessions:create', 'sessions:read'])
    ).key;
    progress(`  console (dashboard, agent setup, patient test, logs): ${api.url}/`);
    progress(`  session API: ${api.url}/v1 (OpenAPI: ${api.url}/openapi.json)`);
    progress(`  backend API key for this run: ${apiKey}`);
    progress(
      '  console sign-in token: npm run token -- --role clinician (or --role admin to publish)',
    );

    const worker = await timed(
      progress,
      'starting an agent worker (Silero VAD, local speech engines)',
      () =>
        startAgentWorker({
          agentName: cfg.agent.name,
          httpPort: cfg.agent.httpPort,
          baseEnv: {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? '',
            NODE_ENV: 'development',
            LOG_LEVEL: 'warn',
            ...LOCAL_STACK_ENV,
          },
          env: opts.workerEnv,
          readyTimeoutMs: 90_000,
        }),
    );
    cleanups.push(() => worker.stop(12_000));
    return {
      mongo,
      sessions: new MongoSessionStore({ db: mongo.db }),
      utterances: new MongoUtteranceStore({ db: mongo.db }),
      dispatcher,
      api,
      apiKey,
      worker,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
