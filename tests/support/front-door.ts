/**
 * A TCP front door for several LiveKit nodes, as a load balancer is in production: each new
 * connection goes to the next node in turn, and to the one after it when that node refuses.
 * Workers and dispatchers pointed at it reach whichever node is alive, so a node that dies
 * takes its connections with it and the clients' reconnects land on a survivor.
 *
 *   const door = await FrontDoor.start({ targets: ['127.0.0.1:7900', '127.0.0.1:7910'] });
 *   LIVEKIT_URL = `ws://${door.address}`
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface FrontDoorOptions {
  /** `host:port` of each node, in the order connections are handed out. */
  targets: string[];
  /** A node that has not accepted within this long counts as refusing. @defaultValue 1000 */
  connectTimeoutMs?: number;
}

export class FrontDoor {
  /** Connections forwarded, per target. */
  readonly forwarded = new Map<string, number>();
  #next = 0;
  readonly #live = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly targets: string[],
    private readonly connectTimeoutMs: number,
    /** `host:port` to point clients at. */
    readonly address: string,
  ) {}

  static async start(opts: FrontDoorOptions): Promise<FrontDoor> {
    if (opts.targets.length === 0) throw new Error('FrontDoor needs at least one target');
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('front door has no TCP address');
    const door = new FrontDoor(
      server,
      opts.targets,
      opts.connectTimeoutMs ?? 1000,
      `127.0.0.1:${addr.port}`,
    );
    server.on('connection', (client) => void door.#accept(client));
    return door;
  }

  async #accept(client: Socket): Promise<void> {
    client.pause();
    this.#live.add(client);
    client.once('close', () => this.#live.delete(client));
    client.on('error', () => client.destroy());
    const start = this.#next++;
    // Bounded: each target is tried once per connection.
    for (let i = 0; i < this.targets.length; i++) {
      const target = this.targets[(start + i) % this.targets.length]!;
      const upstream = await this.#connect(target);
      if (!upstream) continue;
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      this.forwarded.set(target, (this.forwarded.get(target) ?? 0) + 1);
      this.#live.add(upstream);
      upstream.once('close', () => {
        this.#live.delete(upstream);
        client.destroy();
      });
      client.once('close', () => upstream.destroy());
      upstream.on('error', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
      return;
    }
    client.destroy();
  }

  #connect(target: string): Promise<Socket | undefined> {
    const colon = target.lastIndexOf(':');
    return new Promise((resolve) => {
      const s = createConnection({
        host: target.slice(0, colon),
        port: Number(target.slice(colon + 1)),
      });
      const timer = setTimeout(() => {
        s.destroy();
        resolve(undefined);
      }, this.connectTimeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', () => {
        clearTimeout(timer);
        s.destroy();
        resolve(undefined);
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.#live) s.destroy();
    this.#live.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
