import { afterEach, describe, expect, it } from 'vitest';
import { AgentMetrics, startMetricsServer, type MetricsServer } from './metrics.ts';

describe('the agent worker metrics', () => {
  let server: MetricsServer | undefined;
  afterEach(async () => server?.close());

  it('serves sessions, load, capacity and draining for a scaler to read', async () => {
    const m = new AgentMetrics({ maxJobs: 3, collectProcessMetrics: false });
    m.observe(2, 0.66);
    server = await startMetricsServer(m.registry, '127.0.0.1', 0);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^voicecare_agent_active_sessions 2$/m);
    expect(text).toMatch(/^voicecare_agent_load 0\.66$/m);
    expect(text).toMatch(/^voicecare_agent_capacity_sessions 3$/m);
    expect(text).toMatch(/^voicecare_agent_draining 0$/m);
    expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
  });
});
