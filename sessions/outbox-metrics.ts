/**
 * Escalation outbox metrics. Pass the registry the process serves on /metrics (the dispatcher's)
 * or let it make its own. Ages are in seconds, as Prometheus expects.
 */
import { Counter, Gauge, Registry } from 'prom-client';

export const PUBLISH_OUTCOMES = ['acked', 'failed'] as const;
/** `job`: the job that raised it; `relay`: a sweep of the outbox. */
export const PUBLISH_SOURCES = ['job', 'relay'] as const;

export class OutboxMetrics {
  readonly registry: Registry;
  readonly depth: Gauge;
  readonly oldestUndeliveredSeconds: Gauge;
  readonly publishAttempts: Counter<'source' | 'outcome'>;
  readonly spooled: Counter;

  constructor(opts: { registry?: Registry } = {}) {
    this.registry = opts.registry ?? new Registry();
    const registers = [this.registry];
    this.depth = new Gauge({
      name: 'voicecare_escalation_outbox_depth',
      help: 'Escalations in the outbox not yet acknowledged by Pub/Sub (as of the last sweep).',
      registers,
    });
    this.oldestUndeliveredSeconds = new Gauge({
      name: 'voicecare_escalation_outbox_oldest_undelivered_seconds',
      help: 'Age of the oldest undelivered escalation at the last sweep; 0 when none.',
      registers,
    });
    this.publishAttempts = new Counter({
      name: 'voicecare_escalation_publish_attempts_total',
      help: 'Attempts to publish an escalation to session-events, by source and outcome.',
      labelNames: ['source', 'outcome'],
      registers,
    });
    for (const source of PUBLISH_SOURCES) {
      for (const outcome of PUBLISH_OUTCOMES) this.publishAttempts.inc({ source, outcome }, 0);
    }
    this.spooled = new Counter({
      name: 'voicecare_escalation_spooled_total',
      help: 'Escalations written to the local spool because the outbox did not take them in time.',
      registers,
    });
  }
}
