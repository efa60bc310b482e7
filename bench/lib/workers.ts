/**
 * Worker processes for the bench: the real agent worker or the bare baseline, each in its own
 * process group (tests/support/agent-worker.ts), with a tap on their JSON log lines for the few
 * facts the bench needs (transcript sink stats, sessions started, the framework's warnings).
 */
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { DurationSummary } from '../../agent/transcript/sink.ts';
import { startAgentWorker, type AgentWorker } from '../../tests/support/agent-worker.ts';

const BARE_AGENT = fileURLToPath(new URL('../bare-agent.ts', import.meta.url));

export interface SinkStatsLine {
  sessionId: string;
  written: number;
  failedAttempts: number;
  durabilityMs: DurationSummary;
  writeMs: DurationSummary;
}

/** Counts of what the worker logged, since the last `reset()`. */
export class LogTap {
  readonly sinkStats: SinkStatsLine[] = [];
  /** sessionId → how many jobs started a conversation for it. */
  readonly sessionsStarted = new Map<string, number>();
  /** Jobs that found they were not the current placement and left. */
  staleJobs = 0;
  vadSlower = 0;
  loopBlocked = 0;
  errors = 0;
  #partial = '';

  feed(chunk: Buffer): void {
    const text = this.#partial + chunk.toString();
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#line(line);
  }

  resetWarnings(): void {
    this.vadSlower = 0;
    this.loopBlocked = 0;
    this.errors = 0;
  }

  #line(line: string): void {
    if (!line.startsWith('{')) return;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const msg = String(rec['message'] ?? rec['msg'] ?? '');
    const sessionId = typeof rec['sessionId'] === 'string' ? rec['sessionId'] : '';
    if (msg === 'transcript sink stats') {
      const t = rec['transcript'] as Omit<SinkStatsLine, 'sessionId'>;
      this.sinkStats.push({ sessionId, ...t });
    } else if (msg === 'session starting') {
      this.sessionsStarted.set(sessionId, (this.sessionsStarted.get(sessionId) ?? 0) + 1);
    } else if (msg === 'not the current placement; leaving') {
      this.staleJobs++;
    } else if (msg.startsWith('VAD inference is slower than realtime')) {
      this.vadSlower++;
    } else if (msg.startsWith('event loop blocked')) {
      this.loopBlocked++;
    }
    const level = Number(rec['level']);
    if (level >= 50) this.errors++;
  }
}

export interface BenchWorker {
  readonly kind: 'ours' | 'bare';
  readonly agentName: string;
  readonly worker: AgentWorker;
  readonly tap: LogTap;
  /** The worker's process group: itself, its job processes and its inference process. */
  readonly pgid: number;
  stop(): Promise<void>;
}

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

export async function startBenchWorker(opts: {
  kind: 'ours' | 'bare';
  agentName: string;
  env: Record<string, string>;
}): Promise<BenchWorker> {
  const tap = new LogTap();
  const worker = await startAgentWorker({
    agentName: opts.agentName,
    httpPort: await freePort(),
    env: { ...opts.env, AGENT_NAME: opts.agentName },
    ...(opts.kind === 'bare' ? { entry: BARE_AGENT } : {}),
    readyTimeoutMs: 90_000,
  });
  // Everything before this point (startup) is in worker.output; from here on the tap sees it all.
  worker.proc.stdout?.on('data', (c: Buffer) => tap.feed(c));
  worker.proc.stderr?.on('data', (c: Buffer) => tap.feed(c));
  const pgid = worker.proc.pid;
  if (pgid === undefined) throw new Error('worker has no pid');
  return {
    kind: opts.kind,
    agentName: opts.agentName,
    worker,
    tap,
    pgid,
    stop: () => worker.stop(5000),
  };
}
