/**
 * The dispatcher's operations endpoint: `/healthz` (liveness), `/readyz` (subscription open,
 * dependencies reachable, not shutting down) and `/metrics` (Prometheus text format).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../infra/logger.ts';
import type { Readiness } from './dispatcher.ts';

export interface HealthSource {
  live(): boolean;
  readiness(): Promise<Readiness>;
}

export interface OpsServerOptions {
  health: HealthSource;
  registry: Registry;
  logger: Logger;
  /** 0 picks a free port. */
  port: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
}

export interface OpsServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const { health, registry, logger } = opts;
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, JSON.stringify({ error: 'method not allowed' }));
      return;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    switch (path) {
      case '/healthz': {
        const live = health.live();
        send(res, live ? 200 : 503, JSON.stringify({ status: live ? 'ok' : 'unhealthy' }));
        return;
      }
      case '/readyz': {
        const r = await health.readiness();
        send(res, r.ready ? 200 : 503, JSON.stringify(r));
        return;
      }
      case '/metrics':
        send(res, 200, await registry.metrics(), registry.contentType);
        return;
      default:
        send(res, 404, JSON.stringify({ error: 'not found' }));
    }
  };
  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      logger.error({ err, path: req.url }, 'ops endpoint failed');
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: 'internal error' }));
      else res.end();
    });
  });
  server.listen(opts.port, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { port, address } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
