/**
 * The production build against running through tsx: start-up time and memory of the agent
 * worker (main process and one prewarmed job process) and the dispatcher's time to ready, each
 * variant started `samples` times, alternating. Memory is RSS and PSS (shared pages split among
 * the processes that map them, from /proc/<pid>/smaps_rollup): several job processes share the
 * node binary and the framework's native code, and PSS is what each one really adds.
 *
 * A failed step (the build, a start) is recorded with its reason and the phase goes on.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TEST_ENV, uniqueName } from '../../tests/support/env.ts';
import type { BenchContext } from '../lib/context.ts';
import { groupSnapshot, pssMb } from '../lib/procs.ts';
import { percentile } from '../../infra/stats.ts';
import { sleep } from '../../infra/time.ts';
import { freePort } from '../lib/workers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

export type Variant = 'tsx' | 'compiled';

const COMMANDS: Record<Variant, { agent: string[]; dispatcher: string[] }> = {
  tsx: {
    agent: ['--import', 'tsx', 'agent/worker.ts', 'start'],
    dispatcher: ['--import', 'tsx', 'dispatcher/main.ts'],
  },
  compiled: {
    agent: ['dist/agent/worker.js', 'start'],
    dispatcher: ['dist/dispatcher/main.js'],
  },
};

export interface StartSample {
  /** Spawn → the worker's health server answers 200 (registered with LiveKit). */
  workerRegisteredMs: number;
  /** Spawn → one idle job process prewarmed (VAD loaded, MongoDB connected) and quiet. */
  idleJobReadyMs: number;
  mainRssMb: number;
  mainPssMb: number;
  jobRssMb: number;
  jobPssMb: number;
  /** Spawn → the dispatcher's /readyz answers 200. */
  dispatcherReadyMs: number;
}

export interface VariantResult {
  samples: StartSample[];
  median: StartSample | undefined;
  failures: string[];
}

export interface BuildResult {
  buildMs: number | undefined;
  buildError: string | undefined;
  tsx: VariantResult;
  compiled: VariantResult;
  /** compiled / tsx, per median figure (below 1: the build is better). */
  ratios: Partial<Record<keyof StartSample, number>>;
}

/** The last lines a process wrote, for the reason of a failed step. */
const tails = new WeakMap<ChildProcess, string[]>();

function spawnGroup(args: string[], env: Record<string, string>): ChildProcess {
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  const lines: string[] = [];
  tails.set(proc, lines);
  const keep = (b: Buffer) => {
    lines.push(b.toString());
    if (lines.length > 20) lines.shift();
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  return proc;
}

async function stopGroup(proc: ChildProcess): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGTERM');
    await Promise.race([new Promise((r) => proc.once('exit', r)), sleep(8000)]);
  }
  try {
    process.kill(-proc.pid!, 'SIGKILL');
  } catch {
    // gone
  }
}

async function until(
  what: string,
  proc: ChildProcess,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (proc.exitCode !== null) {
      const said = (tails.get(proc) ?? []).join('').trim().split('\n').slice(-3).join(' | ');
      throw new Error(`${what}: exited with ${proc.exitCode}: ${said.slice(0, 600)}`);
    }
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

const answers = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(1000) }).then(
    (r) => r.ok,
    () => false,
  );

async function sampleOnce(ctx: BenchContext, variant: Variant): Promise<StartSample> {
  const env = {
    ...TEST_ENV,
    ...ctx.env,
    METADATA_SERVER_DETECTION: 'none',
    AGENT_NUM_IDLE_PROCESSES: '1',
    // A loaded machine can take longer than the framework's 10 s to start a job process.
    AGENT_INITIALIZE_PROCESS_TIMEOUT_MS: '60000',
  };
  // The dispatcher, alone (it needs only Pub/Sub and MongoDB to be ready).
  const dport = await freePort();
  const dStarted = performance.now();
  const dispatcher = spawnGroup(COMMANDS[variant].dispatcher, {
    ...env,
    DISPATCHER_HTTP_PORT: String(dport),
    PUBSUB_REQUESTS_TOPIC: uniqueName('bench-build-req'),
    PUBSUB_REQUESTS_SUBSCRIPTION: uniqueName('bench-build-sub'),
    PUBSUB_DEAD_LETTER_TOPIC: uniqueName('bench-build-dead'),
  });
  let dispatcherReadyMs: number;
  try {
    await until(
      'dispatcher ready',
      dispatcher,
      () => answers(`http://127.0.0.1:${dport}/readyz`),
      60_000,
    );
    dispatcherReadyMs = performance.now() - dStarted;
  } finally {
    await stopGroup(dispatcher);
  }

  const port = await freePort();
  const started = performance.now();
  const worker = spawnGroup(COMMANDS[variant].agent, {
    ...env,
    AGENT_NAME: uniqueName('bench-build'),
    AGENT_HTTP_PORT: String(port),
  });
  try {
    await until('worker registered', worker, () => answers(`http://127.0.0.1:${port}/`), 60_000);
    const workerRegisteredMs = performance.now() - started;
    // Prewarmed: a job process exists and has used no CPU for 500 ms.
    let last = -1;
    let quietSince = 0;
    await until(
      'idle job process prewarmed',
      worker,
      () => {
        const job = groupSnapshot(worker.pid!).procs.find((p) => p.kind === 'job');
        if (!job) return false;
        if (job.cpuTicks !== last) {
          last = job.cpuTicks;
          quietSince = performance.now();
          return false;
        }
        return performance.now() - quietSince >= 500;
      },
      60_000,
    );
    const idleJobReadyMs = performance.now() - started - 500;
    const snap = groupSnapshot(worker.pid!);
    const main = snap.procs.find((p) => p.kind === 'main')!;
    const job = snap.procs.find((p) => p.kind === 'job')!;
    return {
      workerRegisteredMs,
      idleJobReadyMs,
      mainRssMb: main.rssMb,
      mainPssMb: pssMb(main.pid) ?? Number.NaN,
      jobRssMb: job.rssMb,
      jobPssMb: pssMb(job.pid) ?? Number.NaN,
      dispatcherReadyMs,
    };
  } finally {
    await stopGroup(worker);
  }
}

function medianSample(samples: StartSample[]): StartSample | undefined {
  if (samples.length === 0) return undefined;
  const keys = Object.keys(samples[0]!) as (keyof StartSample)[];
  return Object.fromEntries(
    keys.map((k) => [
      k,
      percentile(
        samples.map((s) => s[k]),
        50,
      ),
    ]),
  ) as unknown as StartSample;
}

export async function buildPhase(ctx: BenchContext, samples: number): Promise<BuildResult> {
  let buildMs: number | undefined;
  let buildError: string | undefined;
  const t0 = performance.now();
  try {
    await run(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, timeout: 300_000 });
    buildMs = performance.now() - t0;
  } catch (err) {
    buildError = `npm run build failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
  const result: Record<Variant, { samples: StartSample[]; failures: string[] }> = {
    tsx: { samples: [], failures: [] },
    compiled: { samples: [], failures: [] },
  };
  for (let i = 0; i < samples; i++) {
    for (const variant of ['tsx', 'compiled'] as const) {
      if (variant === 'compiled' && buildError) {
        if (i === 0) result.compiled.failures.push(`not measured: ${buildError}`);
        continue;
      }
      try {
        result[variant].samples.push(await sampleOnce(ctx, variant));
      } catch (err) {
        result[variant].failures.push(err instanceof Error ? err.message : String(err));
      }
    }
  }
  const tsx = { ...result.tsx, median: medianSample(result.tsx.samples) };
  const compiled = { ...result.compiled, median: medianSample(result.compiled.samples) };
  const ratios: BuildResult['ratios'] = {};
  if (tsx.median && compiled.median) {
    for (const k of Object.keys(tsx.median) as (keyof StartSample)[]) {
      ratios[k] = compiled.median[k] / tsx.median[k];
    }
  }
  return { buildMs, buildError, tsx, compiled, ratios };
}
