import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../infra/logger.ts';
import type { Readiness } from './dispatcher.ts';
import { startOpsServer, type OpsServer } from './http.ts';
import { DispatcherMetrics } from './metrics.ts';

const logger = createLogger({ level: 'silent', service: 'dispatcher-test' });

describe('ops server', () => {
  let server: OpsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(readiness: () => Promise<Readiness>) {
    const metrics = new DispatcherMetrics();
    metrics.requests.inc({ outcome: 'placed' });
    server = await startOpsServer({
      port: 0,
      health: { live: () => true, readiness },
      registry: metrics.registry,
      logger,
    });
    return server;
  }

  it('answers /healthz while the process is up', async () => {
    const s = await start(async () => ({ ready: false, checks: {} }));
    const res = await fetch(`${s.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 200 when ready and 503 with the failing check when not', async () => {
    let ready = true;
    const s = await start(async () => ({
      ready,
      checks: { subscription: ready ? 'ok' : 'closed' },
    }));
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    ready = false;
    const res = await fetch(`${s.url}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ready: false, checks: { subscription: 'closed' } });
  });

  it('serves Prometheus text on /metrics', async () => {
    const s = await start(async () => ({ ready: true, checks: {} }));
    const res = await fetch(`${s.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toMatch(
      /^voicecare_dispatcher_requests_total\{outcome="placed"\} 1$/m,
    );
  });

  it('answers 500 without crashing when a readiness check throws, and 404/405 for the rest', async () => {
    const s = await start(async () => {
      throw new Error('boom');
    });
    expect((await fetch(`${s.url}/readyz`)).status).toBe(500);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.url}/nope`)).status).toBe(404);
    expect((await fetch(`${s.url}/healthz`, { method: 'POST' })).status).toBe(405);
  });
});
