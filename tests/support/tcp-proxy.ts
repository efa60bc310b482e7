/**
 * A loopback TCP proxy in front of a shared server (the Pub/Sub emulator, FerretDB, LiveKit),
 * so a test can take that server away from the processes it points at the proxy, and give it
 * back, without touching the server others are using.
 *
 *   const proxy = await TcpProxy.start({ target: '127.0.0.1:8085' });
 *   env.PUBSUB_EMULATOR_HOST = proxy.address;
 *   proxy.cut();      // live connections reset, new ones refused: the server is "down"
 *   proxy.restore();
 *
 * `cut({ mode: 'blackhole' })` accepts connections and forwards nothing (a partition, where
 * clients hang until their own timeouts) instead of resetting them.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type CutMode = 'reset' | 'blackhole';

export interface TcpProxyOptions {
  /** `host:port` of the real server. */
  target: string;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** @defaultValue 0 (any free port) */
  port?: number;
}

export interface ProxyStats {
  /** Connections accepted and forwarded. */
  forwarded: number;
  /** Connections refused or held while cut. */
  refused: number;
  /** Live connections reset by `cut`. */
  reset: number;
}

export class TcpProxy {
  readonly stats: ProxyStats = { forwarded: 0, refused: 0, reset: 0 };
  #mode: CutMode | undefined;
  readonly #live = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly targetHost: string,
    private readonly targetPort: number,
    /** `host:port` to point clients at. */
    readonly address: string,
  ) {}

  static async start(opts: TcpProxyOptions): Promise<TcpProxy> {
    const [targetHost, targetPortText] = splitHostPort(opts.target);
    const host = opts.host ?? '127.0.0.1';
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => resolve());
    });
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('proxy has no TCP address');
    const proxy = new TcpProxy(server, targetHost, Number(targetPortText), `${host}:${addr.port}`);
    server.on('connection', (client) => proxy.#accept(client));
    return proxy;
  }

  /** Whether the proxy is cut right now. */
  get isCut(): boolean {
    return this.#mode !== undefined;
  }

  /** Takes the server away: live connections end, new ones are refused (or held, blackhole). */
  cut(opts: { mode?: CutMode } = {}): void {
    this.#mode = opts.mode ?? 'reset';
    for (const s of this.#live) {
      s.resetAndDestroy();
      this.stats.reset += 1;
    }
    this.#live.clear();
  }

  /** Gives the server back to new connections. Held (blackholed) connections are dropped. */
  restore(): void {
    this.#mode = undefined;
    for (const s of this.#live) s.destroy();
    this.#live.clear();
  }

  async close(): Promise<void> {
    for (const s of this.#live) s.destroy();
    this.#live.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.#mode === 'reset') {
      this.stats.refused += 1;
      client.resetAndDestroy();
      return;
    }
    if (this.#mode === 'blackhole') {
      this.stats.refused += 1;
      this.#live.add(client);
      client.on('close', () => this.#live.delete(client));
      return;
    }
    this.stats.forwarded += 1;
    const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => {
      upstream.destroy();
      this.#live.delete(client);
      this.#live.delete(upstream);
    });
    upstream.on('close', () => {
      client.destroy();
      this.#live.delete(upstream);
    });
    this.#live.add(client);
    this.#live.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

function splitHostPort(target: string): [string, string] {
  const i = target.lastIndexOf(':');
  if (i <= 0) throw new Error(`expected host:port, got ${target}`);
  return [target.slice(0, i), target.slice(i + 1)];
}
