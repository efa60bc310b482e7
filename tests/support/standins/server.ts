/**
 * Plumbing shared by the stand-ins: loopback HTTP servers that close promptly, request bodies,
 * abortable waits, paced audio streaming, fault queues and option checks.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer } from 'ws';
import { ValidationError } from '../../../infra/errors.ts';

/** A record as the stand-in fills it in: its own fields and arrays mutable. */
export type Writable<T> = {
  -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K];
};

/** A WebSocket handshake a stand-in refused, and why. */
export interface RefusalRecord {
  readonly atMs: number;
  readonly status: number;
  readonly reason: string;
}

/** Epoch milliseconds with sub-millisecond precision; comparable across processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Throws one error listing every problem, so a caller fixes all of them in one go. */
export function assertOptions(what: string, problems: readonly (string | null)[]): void {
  const found = problems.filter((p): p is string => p !== null);
  if (found.length > 0) {
    throw new ValidationError(
      'standin_options_invalid',
      `invalid ${what} options:\n  - ${found.join('\n  - ')}`,
      found,
    );
  }
}

export function checkMs(name: string, value: number): string | null {
  return Number.isFinite(value) && value >= 0 ? null : `${name} must be >= 0 ms, got ${value}`;
}

export function checkPositive(name: string, value: number): string | null {
  return Number.isFinite(value) && value > 0 ? null : `${name} must be > 0, got ${value}`;
}

export function checkHost(host: string): string | null {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost'
    ? null
    : `host must be a loopback address, got ${host}`;
}

export function checkPort(port: number): string | null {
  return Number.isInteger(port) && port >= 0 && port <= 65535
    ? null
    : `port must be 0..65535, got ${port}`;
}

/** A host as it appears in a URL (IPv6 in brackets). */
export function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Resolves after `ms`, or early with `false` when `signal` aborts. */
export async function wait(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  if (ms <= 0) return true;
  try {
    await sleep(ms, undefined, signal ? { signal } : undefined);
    return true;
  } catch {
    return false;
  }
}

/** A loopback HTTP server that knows how to shut down everything it accepted. */
export class LoopbackServer {
  readonly server: Server;
  readonly wss: WebSocketServer | null;
  #aborts = new Set<AbortController>();
  #port = 0;
  #host: string;

  constructor(
    host: string,
    handler: (req: IncomingMessage, res: ServerResponse, signal: AbortSignal) => Promise<void>,
    wss: WebSocketServer | null = null,
  ) {
    this.#host = host;
    this.wss = wss;
    this.server = createServer((req, res) => {
      // One controller per request: aborts the handler's timers when the client goes away or the
      // stand-in closes, so no timer outlives its request.
      const abort = new AbortController();
      this.#aborts.add(abort);
      res.on('close', () => {
        abort.abort();
        this.#aborts.delete(abort);
      });
      handler(req, res, abort.signal).catch((err: unknown) => {
        // A stand-in bug must show up as a failed request, never as an unhandled rejection.
        if (res.headersSent) res.destroy();
        else sendJson(res, 500, { error: { message: `stand-in failure: ${String(err)}` } });
      });
    });
    this.server.keepAliveTimeout = 5_000;
  }

  async listen(port: number): Promise<number> {
    this.server.listen(port, this.#host);
    await once(this.server, 'listening');
    this.#port = (this.server.address() as AddressInfo).port;
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  /** Aborts in-flight work, drops every connection (HTTP and WebSocket) and stops listening. */
  async close(): Promise<void> {
    for (const abort of this.#aborts) abort.abort();
    this.#aborts.clear();
    if (this.wss) {
      for (const client of this.wss.clients) client.terminate();
      this.wss.close();
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

export async function readBody(
  req: IncomingMessage,
  limitBytes = 4 * 1024 * 1024,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.byteLength;
    if (size > limitBytes) throw new Error(`request body exceeds ${limitBytes} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * The scaffolding the WebSocket stand-ins share: one loopback server whose upgrades go to
 * `onUpgrade` (which accepts through `wss` or refuses through {@link refuse}), and the record
 * of every handshake refused.
 */
export class WebSocketStandinServer {
  readonly wss = new WebSocketServer({ noServer: true });
  readonly refusals: RefusalRecord[] = [];
  readonly #loopback: LoopbackServer;
  /** Handshakes held unanswered by {@link hold}; destroyed on close. */
  readonly #held = new Set<Duplex>();

  constructor(
    host: string,
    onHttp: (req: IncomingMessage, res: ServerResponse, signal: AbortSignal) => Promise<void>,
    onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
  ) {
    this.#loopback = new LoopbackServer(host, onHttp, this.wss);
    this.#loopback.server.on('upgrade', onUpgrade);
  }

  listen(port: number): Promise<number> {
    return this.#loopback.listen(port);
  }

  get port(): number {
    return this.#loopback.port;
  }

  /** Answers the handshake with `status` and the vendor's JSON error body, and records it. */
  refuse(socket: Duplex, status: number, body: unknown, reason: string): void {
    this.refusals.push({ atMs: nowMs(), status, reason });
    refuseUpgrade(socket, status, body);
  }

  /**
   * Never answers the handshake: a vendor that accepted the TCP connection and then hung. The
   * client's own connect timeout decides what happens; the socket is freed when it gives up.
   */
  hold(socket: Duplex): void {
    this.#held.add(socket);
    socket.once('close', () => this.#held.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  close(): Promise<void> {
    for (const socket of this.#held) socket.destroy();
    this.#held.clear();
    return this.#loopback.close();
  }
}

/** Plain HTTP response for a refused WebSocket upgrade. */
export function refuseUpgrade(
  socket: { write(data: string): unknown; destroy(): unknown },
  status: number,
  body: unknown,
): void {
  const text = JSON.stringify(body);
  socket.write(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
  socket.destroy();
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/**
 * Streams `pcm` in `chunkMs` pieces, `realtimeFactor` times faster than real time, the way a
 * vendor streams audio it is still generating. Returns false if aborted or `send` asked to stop.
 * Chunk n is due at start + n * chunkMs / realtimeFactor, so timer jitter does not accumulate.
 */
export async function streamPaced(
  pcm: Buffer,
  sampleRate: number,
  pace: { chunkMs: number; realtimeFactor: number },
  signal: AbortSignal,
  send: (chunk: Buffer, index: number, startMs: number) => boolean | void,
): Promise<boolean> {
  const samplesPerChunk = Math.max(1, Math.round((sampleRate * pace.chunkMs) / 1000));
  const bytesPerChunk = samplesPerChunk * 2;
  const startedAt = nowMs();
  for (let index = 0, offset = 0; offset < pcm.byteLength; index++, offset += bytesPerChunk) {
    const dueAt = startedAt + (index * pace.chunkMs) / pace.realtimeFactor;
    if (!(await wait(dueAt - nowMs(), signal))) return false;
    const chunk = pcm.subarray(offset, Math.min(pcm.byteLength, offset + bytesPerChunk));
    const startMs = (offset / 2 / sampleRate) * 1000;
    if (send(chunk, index, startMs) === false) return false;
  }
  return true;
}

/** Faults waiting to be applied, each to the next `count` matching requests. */
export class FaultQueue<F extends { count?: number }> {
  #pending: { fault: F; left: number }[] = [];

  push(fault: F): void {
    const count = fault.count ?? 1;
    assertOptions('fault', [
      Number.isInteger(count) && count > 0
        ? null
        : `count must be a whole number > 0, got ${count}`,
    ]);
    this.#pending.push({ fault, left: count });
  }

  /** Takes one use of the first pending fault that `matches`, if any. */
  take(matches: (fault: F) => boolean = () => true): F | undefined {
    const entry = this.#pending.find((e) => matches(e.fault));
    if (!entry) return undefined;
    entry.left -= 1;
    if (entry.left === 0) this.#pending.splice(this.#pending.indexOf(entry), 1);
    return entry.fault;
  }

  get size(): number {
    return this.#pending.length;
  }

  clear(): void {
    this.#pending = [];
  }
}

/** Polls `predicate` until it holds; rejects after `timeoutMs` with `what` in the message. */
export async function waitUntil(
  predicate: () => boolean,
  { timeoutMs = 5_000, intervalMs = 10, what = 'condition' } = {},
): Promise<void> {
  const deadline = nowMs() + timeoutMs;
  while (!predicate()) {
    if (nowMs() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
