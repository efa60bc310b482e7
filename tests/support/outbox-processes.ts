/**
 * Small real processes around the escalation outbox, for tests that need a process to die
 * without paying for a whole agent worker:
 *
 * - `raiser`: builds the courier exactly as a job process does (`agent/worker.ts` entry) and
 *   raises escalations on command. Kill it to lose everything it held in memory.
 * - `relay`: runs `startOutboxRelay` as the worker's main process and the dispatcher do.
 *
 * Both read their configuration from the environment (through infra/config.ts) and talk over
 * stdin/stdout in JSON lines. Started by `startOutboxProcess` below, in a process group of
 * their own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { config } from '../../infra/config.ts';
import { createLogger } from '../../infra/logger.ts';
import { connectMongo } from '../../infra/mongo.ts';
import { createPubSub } from '../../infra/pubsub.ts';
import { EscalationCourier } from '../../sessions/escalation-delivery.ts';
import { EscalationSpool } from '../../sessions/escalation-spool.ts';
import { escalationPublisher, startOutboxRelay } from '../../sessions/escalations.ts';
import { ensureOutboxIndexes, MongoEscalationOutbox } from '../../sessions/mongo-outbox.ts';
import { outboxEntry } from '../../sessions/testing/outbox-fixtures.ts';
import { TEST_ENV } from './env.ts';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

type Role = 'raiser' | 'relay';

export interface OutboxProcess {
  readonly proc: ChildProcess;
  readonly output: string[];
  /** Sends a command and resolves with the next reply line. */
  command(cmd: Record<string, unknown>): Promise<Record<string, unknown>>;
  killHard(): Promise<void>;
  stop(timeoutMs?: number): Promise<void>;
}

export async function startOutboxProcess(
  role: Role,
  env: Record<string, string>,
): Promise<OutboxProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', SELF, role], {
    cwd: ROOT,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      METADATA_SERVER_DETECTION: 'none',
      ...TEST_ENV,
      ...env,
    },
  });
  const output: string[] = [];
  const replies: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  proc.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    output.push(line);
    if (!line.startsWith('@')) return;
    replies.push(JSON.parse(line.slice(1)) as Record<string, unknown>);
    wake?.();
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const next = async (timeoutMs = 60_000): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + timeoutMs;
    while (replies.length === 0) {
      if (Date.now() > deadline || proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`${role} process gave no reply:\n${output.join('\n').slice(-3000)}`);
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
    return replies.shift()!;
  };
  const killGroup = () => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const handle: OutboxProcess = {
    proc,
    output,
    async command(cmd) {
      proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
      return next();
    },
    async killHard() {
      killGroup();
      await exited;
    },
    async stop(timeoutMs = 5000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, timeoutMs))]);
      }
      killGroup();
    },
  };
  const ready = await next();
  if (ready['ready'] !== true) throw new Error(`${role} did not start: ${JSON.stringify(ready)}`);
  return handle;
}

const reply = (msg: Record<string, unknown>) => process.stdout.write(`@${JSON.stringify(msg)}\n`);

async function raiser(): Promise<void> {
  const cfg = config();
  const log = createLogger({ level: cfg.log.level, service: 'raiser' });
  const mongo = await connectMongo(cfg.mongo);
  await mongo.db.command({ ping: 1 });
  const pubsub = createPubSub(cfg.pubsub);
  const courier = new EscalationCourier({
    outbox: new MongoEscalationOutbox({ db: mongo.db }),
    publisher: escalationPublisher(pubsub, cfg.pubsub),
    spool: new EscalationSpool({ dir: cfg.outbox.spoolDir }),
    logger: log,
    by: `job:raiser:${process.pid}`,
  });
  reply({ ready: true });
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as { cmd: string; sessionId?: string; deadlineMs?: number };
    if (cmd.cmd === 'raise') {
      const entry = outboxEntry(cmd.sessionId!, new Date());
      courier.send(entry);
      reply({ sent: entry.id });
    } else if (cmd.cmd === 'drain') {
      reply(await courier.drain(cmd.deadlineMs ?? 1500));
      process.exit(0);
    }
  }
}

async function relay(): Promise<void> {
  const cfg = config();
  const log = createLogger({ level: cfg.log.level, service: 'relay' });
  const mongo = await connectMongo(cfg.mongo);
  await ensureOutboxIndexes(mongo.db);
  const pubsub = createPubSub(cfg.pubsub);
  const running = startOutboxRelay({
    cfg,
    db: mongo.db,
    pubsub,
    logger: log,
    role: 'test',
    replaySpool: true,
  });
  process.once('SIGTERM', () => {
    void running.stop(2000).then(() => process.exit(0));
  });
  reply({ ready: true, pid: process.pid });
}

if (process.argv[1] === SELF) {
  const role = process.argv[2];
  (role === 'raiser'
    ? raiser()
    : role === 'relay'
      ? relay()
      : Promise.reject(new Error(role))
  ).catch((err: unknown) => {
    process.stderr.write(`${role} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
