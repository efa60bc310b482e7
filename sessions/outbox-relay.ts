/**
 * The outbox relay: a long-lived loop that publishes escalations their job could not deliver
 * (Pub/Sub down for longer than the job lived, a job process killed). It runs in the agent
 * worker's main process, next to the spool its job processes write, and in the dispatcher.
 *
 * There is no leader: any number of relays may sweep one outbox. Two relays may publish the same
 * entry; that is a duplicate with one idempotency key (`escalationId`), which consumers drop.
 * What cannot happen is a loss: an entry leaves `pending` only once a delivery receipt exists.
 */
import type { Logger } from '../infra/logger.ts';
import {
  backoffMs,
  errorCode,
  pause,
  type Backoff,
  type EscalationPublisher,
} from './escalation-delivery.ts';
import type { EscalationSpool } from './escalation-spool.ts';
import type { OutboxMetrics } from './outbox-metrics.ts';
import type { EscalationOutbox } from './outbox.ts';

export interface OutboxRelayOptions {
  outbox: EscalationOutbox;
  publisher: EscalationPublisher;
  logger: Logger;
  /** Recorded on delivery receipts: `relay:<instance>`. */
  by: string;
  /** A local spool to replay into the outbox on every sweep. */
  spool?: EscalationSpool;
  /**
   * Other local spools this process replays into MongoDB on the same schedule (the transcript
   * spool of the agent worker): each returns how many records it moved, and throws to say
   * "MongoDB is still away, try again next sweep".
   */
  extraReplays?: readonly SpoolReplay[];
  metrics?: OutboxMetrics;
  /** Between sweeps while all is well. @defaultValue 2000 */
  intervalMs?: number;
  /**
   * Entries younger than this are left to the job that raised them, which is publishing them
   * already (a relay taking them too would only add duplicates).
   * @defaultValue 5000
   */
  minAgeMs?: number;
  /** Entries per sweep. @defaultValue 20 */
  batchSize?: number;
  /**
   * Between sweeps after failures, growing from `intervalMs`. Also the longest an outage's end
   * can go unnoticed, so keep it short: a failing sweep costs one publish attempt.
   * @defaultValue 8000
   */
  maxBackoffMs?: number;
  now?: () => Date;
  random?: () => number;
}

export interface SpoolReplay {
  /** For the log line when the replay fails. */
  name: string;
  replay(): Promise<number>;
}

export interface SweepResult {
  replayed: number;
  /** Records the `extraReplays` moved. */
  replayedExtra: number;
  published: number;
  failed: number;
  /** Undelivered entries after the sweep. */
  depth: number;
}

export class OutboxRelay {
  readonly #o: Required<Omit<OutboxRelayOptions, 'spool' | 'metrics' | 'extraReplays'>> &
    Pick<OutboxRelayOptions, 'spool' | 'metrics' | 'extraReplays'>;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(opts: OutboxRelayOptions) {
    this.#o = {
      intervalMs: 2000,
      minAgeMs: 5000,
      batchSize: 20,
      maxBackoffMs: 8000,
      now: () => new Date(),
      random: Math.random,
      ...opts,
    };
    if (this.#o.batchSize < 1 || this.#o.intervalMs < 1) {
      throw new RangeError('batchSize and intervalMs must be ≥ 1');
    }
  }

  start(): void {
    this.#loop ??= this.#run().catch((err: unknown) =>
      this.#o.logger.error({ err: errorCode(err) }, 'outbox relay stopped unexpectedly'),
    );
  }

  /** Stops sweeping; waits up to `deadlineMs` for a sweep in progress to finish. */
  async stop(deadlineMs: number): Promise<void> {
    this.#abort.abort();
    if (!this.#loop) return;
    const timer = new AbortController();
    await Promise.race([this.#loop, pause(deadlineMs, timer.signal)]);
    timer.abort();
  }

  /** One pass: replay the spool, publish a batch of old-enough entries, refresh the metrics. */
  async sweep(signal: AbortSignal = this.#abort.signal): Promise<SweepResult> {
    const { outbox, publisher, spool, metrics, logger: log } = this.#o;
    let replayed = 0;
    if (spool) {
      try {
        replayed = await spool.replayInto(outbox, log);
      } catch (err) {
        log.warn({ err: errorCode(err) }, 'spool replay failed; will retry');
      }
    }
    let replayedExtra = 0;
    for (const extra of this.#o.extraReplays ?? []) {
      try {
        replayedExtra += await extra.replay();
      } catch (err) {
        log.warn({ err: errorCode(err), spool: extra.name }, 'spool replay failed; will retry');
      }
    }
    const cutoff = new Date(this.#o.now().getTime() - this.#o.minAgeMs);
    const batch = await outbox.pending({ createdBefore: cutoff, limit: this.#o.batchSize });
    let published = 0;
    let failed = 0;
    for (const entry of batch) {
      if (signal.aborted) break;
      const ids = {
        sessionId: entry.sessionId,
        escalationId: entry.id,
        ruleId: entry.event.ruleId,
      };
      let messageId: string | void;
      try {
        messageId = await publisher.publish(entry.event);
      } catch (err) {
        failed += 1;
        metrics?.publishAttempts.inc({ source: 'relay', outcome: 'failed' });
        // Pub/Sub is most likely down for all of them: try again next sweep, not N times now.
        log.warn({ ...ids, err: errorCode(err) }, 'relay publish failed');
        break;
      }
      metrics?.publishAttempts.inc({ source: 'relay', outcome: 'acked' });
      published += 1;
      log.info(
        { ...ids, ageMs: this.#o.now().getTime() - entry.createdAt.getTime() },
        'relay published escalation',
      );
      try {
        await outbox.markDelivered({
          id: entry.id,
          deliveredAt: this.#o.now(),
          by: this.#o.by,
          ...(messageId ? { messageId } : {}),
        });
      } catch (err) {
        log.warn(
          { ...ids, err: errorCode(err) },
          'delivery receipt not stored; expect a duplicate',
        );
      }
    }
    const depth = await outbox.depth();
    metrics?.depth.set(depth.undelivered);
    metrics?.oldestUndeliveredSeconds.set(
      depth.oldestCreatedAt
        ? (this.#o.now().getTime() - depth.oldestCreatedAt.getTime()) / 1000
        : 0,
    );
    return { replayed, replayedExtra, published, failed, depth: depth.undelivered };
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const backoff: Backoff = { initialMs: this.#o.intervalMs, maxMs: this.#o.maxBackoffMs };
    let failures = 0;
    while (!signal.aborted) {
      let waitMs = this.#o.intervalMs;
      try {
        const r = await this.sweep(signal);
        failures = r.failed > 0 ? failures + 1 : 0;
        if (failures > 0) waitMs = backoffMs(failures, backoff, this.#o.random);
        // A full batch went out: there may be more behind it.
        else if (r.published === this.#o.batchSize) waitMs = 0;
      } catch (err) {
        failures += 1;
        waitMs = backoffMs(failures, backoff, this.#o.random);
        if (failures === 1 || failures % 10 === 0) {
          this.#o.logger.warn({ err: errorCode(err), failures }, 'outbox sweep failed');
        }
      }
      // Unref'd: a relay alone never keeps its process alive.
      if (!(await pause(waitMs, signal, false))) return;
    }
  }
}
