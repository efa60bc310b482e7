/**
 * A FerretDB of a test's own, for faults that must not reach the shared server on 27017
 * (pausing it with SIGSTOP would stall every other engineer's tests).
 *
 * Same binary and flags as `scripts/services.sh`, but its own port and its own SQLite directory
 * and state directory: two FerretDB processes must not share SQLite files (each caches the
 * catalogue in memory, and a paused one would hold SQLite's locks against the other).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VERSION = 'v1.24.0';

export interface PrivateFerretDb {
  readonly url: string;
  readonly port: number;
  /** SIGSTOP: the process keeps its sockets open and answers nothing, like a hung server. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The binary `scripts/install-tools.sh` put in VOICECARE_TOOLS_DIR (or the repo's .cache). */
export async function ferretDbBinary(): Promise<string> {
  const dir = process.env.VOICECARE_TOOLS_DIR ?? join(ROOT, '.cache', 'tools');
  const bin = join(dir, `ferretdb-${VERSION}`);
  try {
    await access(bin);
  } catch {
    throw new Error(
      `no FerretDB at ${bin}: run scripts/install-tools.sh or set VOICECARE_TOOLS_DIR`,
    );
  }
  return bin;
}

export async function startPrivateFerretDb(timeoutMs = 20_000): Promise<PrivateFerretDb> {
  const bin = await ferretDbBinary();
  const dir = await mkdtemp(join(tmpdir(), 'vc-ferretdb-'));
  const port = await freePort();
  const proc: ChildProcess = spawn(
    bin,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dir}/`,
      `--listen-addr=127.0.0.1:${port}`,
      '--telemetry=disable',
      `--state-dir=${dir}`,
      '--debug-addr=-',
      '--log-level=error',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const deadline = Date.now() + timeoutMs;
  while (!(await accepts(port))) {
    if (proc.exitCode !== null) throw new Error(`private FerretDB exited (${proc.exitCode})`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`private FerretDB not listening after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let paused = false;
  return {
    url: `mongodb://127.0.0.1:${port}`,
    port,
    pause() {
      paused = true;
      proc.kill('SIGSTOP');
    },
    resume() {
      paused = false;
      proc.kill('SIGCONT');
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        if (paused) proc.kill('SIGCONT');
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
