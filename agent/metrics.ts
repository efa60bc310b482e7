/**
 * The agent worker's Prometheus metrics, for an autoscaler: LiveKit sees each worker's load, but
 * a pool scaler needs it too. Served by the worker's main process on its own port, because the
 * framework's health server answers only `/` and `/worker`.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export interface AgentMetricsOptions {
  /** Sessions at which this worker reports itself full; 0 means no cap (reported as 0). */
  maxJobs: number;
  /** Node process metrics of the main process. @defaultValue true */
  collectProcessMetrics?: boolean;
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly activeSessions: Gauge;
  readonly load: Gauge;
  readonly capacity: Gauge;
  readonly draining: Gauge;
  readonly transcriptSpoolBatches: Gauge;
  readonly transcriptReplayed: Counter;

  constructor(opts: AgentMetricsOptions) {
    const registers = [this.registry];
    if (opts.collectProcessMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.activeSessions = new Gauge({
      name: 'voicecare_agent_active_sessions',
      help: 'Sessions (jobs) running on this worker.',
      registers,
    });
    this.load = new Gauge({
      name: 'voicecare_agent_load',
      help: 'The load this worker last reported to LiveKit, 0..1 (1: full, offered no jobs).',
      registers,
    });
    this.capacity = new Gauge({
      name: 'voicecare_agent_capacity_sessions',
      help: 'Sessions this worker takes before it reports itself full (0: CPU decides).',
      registers,
    });
    this.capacity.set(opts.maxJobs);
    this.draining = new Gauge({
      name: 'voicecare_agent_draining',
      help: '1 once the worker has been told to stop: it takes no new job and finishes its own.',
      registers,
    });
    this.draining.set(0);
    this.transcriptSpoolBatches = new Gauge({
      name: 'voicecare_agent_transcript_spool_batches',
      help:
        'Transcript batches in the local spool waiting for MongoDB: jobs spool at their buffer ' +
        'bound or at call end during an outage. Above 0 for long means an outage or a full bound.',
      registers,
    });
    this.transcriptReplayed = new Counter({
      name: 'voicecare_agent_transcript_replayed_total',
      help: 'Utterances replayed from the local spool into MongoDB.',
      registers,
    });
  }

  /** Called with each load report (every 2.5 s while connected). */
  observe(activeJobs: number, load: number): void {
    this.activeSessions.set(activeJobs);
    this.load.set(load);
  }
}

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** `GET /metrics` in the Prometheus text format; anything else is a 404. */
export async function startMetricsServer(
  registry: Registry,
  host: string,
  port: number,
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://x').pathname !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  server.listen(port, host);
  await once(server, 'listening');
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
