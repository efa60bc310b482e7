/**
 * Runs the real agent worker (`agent/worker.ts start`) as a child process: for `npm start`, the
 * benchmarks and the tests.
 * It gets its own process group, so `stop()`/`kill()` also reach the job and inference processes
 * the framework forks: no orphans after a test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('../agent/worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface AgentWorkerOptions {
  agentName: string;
  /** The worker's health server port; must be unique per concurrently running worker. */
  httpPort: number;
  /**
   * The environment the worker starts from: the caller's PATH and HOME and the stack it runs
   * against (this module reads no environment of its own). @defaultValue none
   */
  baseEnv?: Readonly<Record<string, string>>;
  /** Extra environment (provider URLs and keys, DB name, turn detection...). */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Print the worker's output (for debugging a test). */
  echo?: boolean;
  /** Another worker entry file (e.g. the bench's bare agent). @defaultValue agent/worker.ts */
  entry?: string;
  /**
   * Every chunk of stdout and stderr, from the start (`output` keeps only the latest). Job and
   * inference processes inherit the worker's stdio, so their output arrives here too.
   */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
}

export interface AgentWorker {
  readonly proc: ChildProcess;
  readonly output: string[];
  /** Sends a signal to the worker's main process (SIGTERM starts a drain). */
  signal(sig: NodeJS.Signals): void;
  /** SIGKILLs the whole process group at once, like an OOM kill or a lost VM. */
  killHard(): void;
  /** Resolves with the exit code (or signal name) once the main process is gone. */
  exited: Promise<number | string>;
  /** SIGTERM, wait up to `timeoutMs`, then SIGKILL the group. */
  stop(timeoutMs?: number): Promise<void>;
}

const defaults = { readyTimeoutMs: 60_000, echo: false } as const;

async function healthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

export async function startAgentWorker(options: AgentWorkerOptions): Promise<AgentWorker> {
  const opts = { ...defaults, ...options };
  const env: Record<string, string> = {
    METADATA_SERVER_DETECTION: 'none',
    ...opts.baseEnv,
    AGENT_NAME: opts.agentName,
    AGENT_HTTP_PORT: String(opts.httpPort),
    AGENT_NUM_IDLE_PROCESSES: '1',
    ...opts.env,
  };
  const proc = spawn(process.execPath, ['--import', 'tsx', opts.entry ?? WORKER, 'start'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // An empty value unsets a variable (e.g. LOG_LEVEL, for the default level): the framework's
    // CLI reads some variables itself and refuses an empty one.
    env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')),
  });
  const output: string[] = [];
  const keep = (chunk: Buffer, stream: 'stdout' | 'stderr') => {
    const text = chunk.toString();
    opts.onOutput?.(text, stream);
    output.push(text);
    if (output.length > 2000) output.splice(0, output.length - 2000);
    if (opts.echo) process.stderr.write(text);
  };
  proc.stdout?.on('data', (c: Buffer) => keep(c, 'stdout'));
  proc.stderr?.on('data', (c: Buffer) => keep(c, 'stderr'));

  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, sig) => resolve(code ?? sig ?? 'unknown'));
  });
  const pgid = proc.pid!;
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // already gone
    }
  };

  const worker: AgentWorker = {
    proc,
    output,
    exited,
    signal: (sig) => proc.kill(sig),
    killHard: () => killGroup('SIGKILL'),
    async stop(timeoutMs = 10_000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, timeoutMs))]);
      }
      // Job and inference processes ignore SIGTERM; make sure the whole group is gone.
      killGroup('SIGKILL');
    },
  };

  const deadline = Date.now() + opts.readyTimeoutMs;
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!(await healthy(opts.httpPort))) {
    if (done || Date.now() > deadline) {
      await worker.stop(1000);
      throw new Error(
        `agent worker did not become healthy (exit: ${proc.exitCode ?? proc.signalCode ?? 'running'}):\n${output.join('').slice(-3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return worker;
}
