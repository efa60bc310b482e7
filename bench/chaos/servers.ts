/**
 * The chaos run's own servers: a livekit-server and a Pub/Sub emulator on private loopback
 * ports (FerretDB: tests/support/private-ferretdb.ts). The shared servers on 7880/8085/27017
 * serve everybody's tests and are never signalled; a fault is only ever injected into a
 * process started here. Each server runs in its own process group, so a stop or a restart also
 * takes whatever it forked (the emulator's JVM outlives its gcloud wrapper otherwise).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LIVEKIT_VERSION = 'v1.13.5';
/** The ports everybody else uses: a private server must never take one of them. */
const SHARED_PORTS = new Set([7880, 7881, 7882, 8085, 27017]);

export function toolsDir(): string {
  return process.env.VOICECARE_TOOLS_DIR ?? join(ROOT, '.cache', 'tools');
}

async function binary(name: string): Promise<string> {
  const bin = join(toolsDir(), name);
  try {
    await access(bin);
  } catch {
    throw new Error(
      `no ${name} in ${toolsDir()}: run scripts/install-tools.sh or set VOICECARE_TOOLS_DIR`,
    );
  }
  return bin;
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** `count` consecutive free loopback TCP ports, none of them a shared server's. */
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if (ports.some((p) => SHARED_PORTS.has(p))) continue;
    const free = await Promise.all(ports.map(tcpFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no run of ${count} free ports found`);
}

export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** One server process in its own group, restartable on the same ports. */
class GroupProcess {
  #proc: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly #log: string[] = [];

  constructor(
    readonly name: string,
    private readonly command: () => { bin: string; args: string[]; env?: NodeJS.ProcessEnv },
    private readonly ready: () => Promise<boolean>,
  ) {}

  async start(timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    const { bin, args, env } = this.command();
    const proc = spawn(bin, args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env ?? process.env,
    });
    const keep = (c: Buffer) => {
      if (process.env['CHAOS_ECHO_SERVERS']?.split(',').includes(this.name)) {
        process.stderr.write(c);
      }
      this.#log.push(c.toString());
      if (this.#log.length > 200) this.#log.splice(0, this.#log.length - 200);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.#proc = proc;
    this.#exited = new Promise<void>((r) => proc.once('exit', () => r()));
    while (!(await this.ready())) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`${this.name} exited during start:\n${this.#log.join('').slice(-1500)}`);
      }
      if (Date.now() - t0 > timeoutMs) {
        await this.stop();
        throw new Error(`${this.name} not ready after ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return Date.now() - t0;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  #group(sig: NodeJS.Signals): void {
    const pid = this.#proc?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  }

  /** SIGTERM the group, SIGKILL it after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    if (proc.exitCode === null && proc.signalCode === null) {
      this.#group('SIGCONT');
      this.#group('SIGTERM');
      await Promise.race([this.#exited, new Promise((r) => setTimeout(r, graceMs))]);
    }
    this.#group('SIGKILL');
    this.#proc = undefined;
  }

  /** Synchronous last resort for process exit: no awaiting possible there. */
  killNow(): void {
    this.#group('SIGKILL');
  }
}

export interface PrivateServer {
  readonly name: string;
  /** Stops the server and starts it again on the same ports; resolves when it answers. */
  restart(): Promise<{ downMs: number }>;
  stop(): Promise<void>;
  killNow(): void;
}

export interface PrivateLiveKit extends PrivateServer {
  readonly url: string;
  readonly port: number;
}

export async function startPrivateLiveKit(timeoutMs = 30_000): Promise<PrivateLiveKit> {
  const bin = await binary(`livekit-server-${LIVEKIT_VERSION}`);
  const dir = await mkdtemp(join(tmpdir(), 'vc-chaos-livekit-'));
  const port = await freePortRun(3);
  const config = join(dir, 'livekit.yaml');
  // As livekit.yaml, on ports of its own.
  await writeFile(
    config,
    [
      `port: ${port}`,
      'bind_addresses:',
      '  - 127.0.0.1',
      'rtc:',
      `  tcp_port: ${port + 1}`,
      `  udp_port: ${port + 2}`,
      '  use_external_ip: false',
      '  node_ip: 127.0.0.1',
      'keys:',
      '  devkey: secret',
      'logging:',
      `  level: ${process.env['CHAOS_LIVEKIT_LOG_LEVEL'] ?? 'warn'}`,
      'room:',
      '  auto_create: true',
      '  empty_timeout: 60',
      '  departure_timeout: 10',
      '',
    ].join('\n'),
  );
  const server = new GroupProcess(
    'livekit-server',
    () => ({ bin, args: ['--config', config] }),
    async () => httpOk(`http://127.0.0.1:${port}/`),
  );
  await server.start(timeoutMs);
  return {
    name: 'livekit-server',
    url: `ws://127.0.0.1:${port}`,
    port,
    async restart() {
      const t0 = Date.now();
      await server.stop(5000);
      await server.start(timeoutMs);
      return { downMs: Date.now() - t0 };
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
    killNow: () => server.killNow(),
  };
}

export interface PrivatePubSub extends PrivateServer {
  /** For `PUBSUB_EMULATOR_HOST`. */
  readonly host: string;
}

export async function startPrivatePubSub(
  projectId: string,
  timeoutMs = 60_000,
): Promise<PrivatePubSub> {
  const dir = await mkdtemp(join(tmpdir(), 'vc-chaos-pubsub-'));
  const port = await freePortRun(1);
  const server = new GroupProcess(
    'pubsub-emulator',
    () => ({
      bin: 'gcloud',
      args: [
        'beta',
        'emulators',
        'pubsub',
        'start',
        `--host-port=127.0.0.1:${port}`,
        `--project=${projectId}`,
        `--data-dir=${dir}`,
        '--quiet',
      ],
      env: { ...process.env, METADATA_SERVER_DETECTION: 'none' },
    }),
    async () => httpOk(`http://127.0.0.1:${port}/`),
  );
  await server.start(timeoutMs);
  return {
    name: 'pubsub-emulator',
    host: `127.0.0.1:${port}`,
    async restart() {
      const t0 = Date.now();
      await server.stop(5000);
      // The JVM can hold the port a moment after its group is killed.
      const deadline = Date.now() + 10_000;
      while ((await accepts(port)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      await server.start(timeoutMs);
      return { downMs: Date.now() - t0 };
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
    killNow: () => server.killNow(),
  };
}
