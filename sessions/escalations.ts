/**
 * Wiring of the escalation outbox for the processes that host it: the job's courier and the
 * relays of the agent worker's main process and the dispatcher.
 */
import type { PubSub } from '@google-cloud/pubsub';
import type { Db } from 'mongodb';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { Config } from '../infra/config.ts';
import type { Logger } from '../infra/logger.ts';
import { EscalationSpool } from './escalation-spool.ts';
import { PubSubEventPublisher } from './events.ts';
import { MongoEscalationOutbox } from './mongo-outbox.ts';
import { OutboxMetrics } from './outbox-metrics.ts';
import { OutboxRelay, type SpoolReplay } from './outbox-relay.ts';

/** One publish attempt of an escalation; the courier and the relay back off between attempts. */
export const ESCALATION_ATTEMPT_MS = 2000;

/**
 * A publisher of its own topic object: the bounded client retries (so a timed-out attempt cannot
 * land later as an extra copy) must not change how other events are published.
 */
export function escalationPublisher(pubsub: PubSub, cfg: Config['pubsub']): PubSubEventPublisher {
  return new PubSubEventPublisher({
    topic: pubsub.topic(cfg.eventsTopic),
    timeoutMs: ESCALATION_ATTEMPT_MS,
    boundClientRetries: true,
  });
}

export interface RelayHost {
  cfg: Config;
  db: Db;
  pubsub: PubSub;
  logger: Logger;
  /** `agent` or `dispatcher`: part of the name on delivery receipts. */
  role: string;
  /** The registry the process serves on /metrics. @defaultValue a registry of its own */
  registry?: Registry;
  /** Replay this machine's spool (only where job processes write it: the agent worker). */
  replaySpool?: boolean;
  /** Other local spools to replay on the relay's schedule (the agent's transcript spool). */
  extraReplays?: readonly SpoolReplay[];
}

export function startOutboxRelay(host: RelayHost): OutboxRelay {
  const { cfg } = host;
  const relay = new OutboxRelay({
    outbox: new MongoEscalationOutbox({ db: host.db }),
    publisher: escalationPublisher(host.pubsub, cfg.pubsub),
    ...(host.replaySpool ? { spool: new EscalationSpool({ dir: cfg.outbox.spoolDir }) } : {}),
    ...(host.extraReplays ? { extraReplays: host.extraReplays } : {}),
    metrics: new OutboxMetrics(host.registry ? { registry: host.registry } : {}),
    logger: host.logger.child({ component: 'outbox-relay' }),
    by: `relay:${host.role}:${hostname()}:${process.pid}`,
    intervalMs: cfg.outbox.relayIntervalMs,
    minAgeMs: cfg.outbox.relayMinAgeMs,
  });
  relay.start();
  return relay;
}
