/**
 * Server-Sent Events on a hijacked reply: the connection belongs to the stream until the client
 * leaves or the server stops. Comment lines keep proxies from timing the stream out.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyInstance {
    /** Open streams, closed when the server stops (they would otherwise hold it open). */
    sseStreams: Set<SseStream>;
  }
}

const KEEPALIVE_MS = 15_000;

export interface SseStream {
  send(event: string, data: unknown, id?: string | number): void;
  close(): void;
  /** Aborted when the client disconnects or {@link close} is called. */
  readonly signal: AbortSignal;
}

export function openSse(request: FastifyRequest, reply: FastifyReply): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
  });
  res.write(': stream open\n\n');
  const done = new AbortController();
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  const streams = request.server.sseStreams;
  const close = () => {
    if (done.signal.aborted) return;
    clearInterval(keepalive);
    streams.delete(stream);
    done.abort();
    res.end();
  };
  res.on('close', close);
  const stream: SseStream = {
    signal: done.signal,
    close,
    send(event, data, id) {
      if (done.signal.aborted) return;
      const lines = [`event: ${event}`];
      if (id !== undefined) lines.push(`id: ${id}`);
      lines.push(`data: ${JSON.stringify(data)}`);
      res.write(`${lines.join('\n')}\n\n`);
    },
  };
  streams.add(stream);
  return stream;
}
