/**
 * Getting an escalation from the moment it is raised to a Pub/Sub acknowledgement, in the job
 * that raised it. The order is: outbox write (MongoDB), then publish until acknowledged, then the
 * delivery receipt. Nothing here is awaited by the audio path: `send` returns at once and the
 * work is tracked until `drain`.
 *
 * MongoDB slow or down: the escalation is spooled to local disk and published anyway (a nurse
 * should not wait for our database), while the outbox write keeps retrying in the background.
 * Pub/Sub down: publishing retries with backoff until the job drains; whatever is left then is
 * in the outbox (or the spool) for a relay (`outbox-relay.ts`) to publish later.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { isRetryable } from '../infra/errors.ts';
import type { Logger } from '../infra/logger.ts';
import type { EscalationSpool } from './escalation-spool.ts';
import type { OutboxMetrics } from './outbox-metrics.ts';
import type { EscalationOutbox, OutboxEntry } from './outbox.ts';
import type { SessionEvent } from './schema.ts';

/** Resolves (with Pub/Sub's message id, when known) once the broker has accepted the event. */
export interface EscalationPublisher {
  publish(event: SessionEvent): Promise<string | void>;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/**
 * Exponential backoff with "equal jitter": half the step fixed, half random, so retries of
 * many processes spread out but never collapse to zero.
 */
export function backoffMs(attempt: number, b: Backoff, random: () => number = Math.random): number {
  const step = Math.min(b.maxMs, b.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** Sleeps, or returns false at once when `signal` aborts. */
export async function pause(ms: number, signal: AbortSignal, ref = true): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await delay(ms, undefined, { signal, ref });
    return true;
  } catch {
    return false;
  }
}

/** A short code for logs: never the error's message (driver messages may quote documents). */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const { code, name } = err as { code?: unknown; name?: unknown };
    if (typeof code === 'string' || typeof code === 'number') return String(code);
    if (typeof name === 'string') return name;
  }
  return 'unknown';
}

export interface EscalationCourierOptions {
  outbox: EscalationOutbox;
  publisher: EscalationPublisher;
  logger: Logger;
  /** Recorded on the delivery receipt: `job:<id>`. */
  by: string;
  /** Where an escalation goes when the outbox does not take it in time. */
  spool?: EscalationSpool;
  metrics?: OutboxMetrics;
  /**
   * Longest the first publish waits for the outbox write. Past it (or on the first failed
   * write) the escalation is spooled and published anyway.
   * @defaultValue 1000
   */
  storeWaitMs?: number;
  /** Between attempts of the outbox write and of the publish. @defaultValue 250 → 4000 ms */
  backoff?: Backoff;
  /**
   * Attempts per escalation, for the write and for the publish each. The job's drain deadline
   * usually ends the loop first; the bound is for a job that runs on during a long outage.
   * @defaultValue 100
   */
  maxAttempts?: number;
  now?: () => Date;
  random?: () => number;
}

const defaults = {
  storeWaitMs: 1000,
  backoff: { initialMs: 250, maxMs: 4000 },
  maxAttempts: 100,
} as const;

/** How long a delivery cut short by `drain` may take to spool what it holds and stop. */
const ABORT_GRACE_MS = 300;

export class EscalationCourier {
  readonly #o: Required<Omit<EscalationCourierOptions, 'spool' | 'metrics'>> &
    Pick<EscalationCourierOptions, 'spool' | 'metrics'>;
  readonly #tasks = new Set<Promise<void>>();
  readonly #abort = new AbortController();

  constructor(opts: EscalationCourierOptions) {
    this.#o = {
      now: () => new Date(),
      random: Math.random,
      ...defaults,
      ...opts,
    };
    if (this.#o.maxAttempts < 1 || this.#o.storeWaitMs < 0) {
      throw new RangeError('maxAttempts must be ≥ 1 and storeWaitMs ≥ 0');
    }
  }

  /** Deliveries still running. */
  get inFlight(): number {
    return this.#tasks.size;
  }

  /** Starts delivering in the background. Never throws and never blocks the caller. */
  send(entry: OutboxEntry): void {
    const log = this.#o.logger.child({
      sessionId: entry.sessionId,
      escalationId: entry.id,
      ruleId: entry.event.ruleId,
    });
    const task: Promise<void> = this.#deliver(entry, log)
      .catch((err: unknown) => log.error({ err: errorCode(err) }, 'escalation delivery crashed'))
      .finally(() => this.#tasks.delete(task));
    this.#tasks.add(task);
  }

  /**
   * Waits up to `deadlineMs` for the deliveries in flight, then stops their retries. What is
   * not delivered by then is in the outbox or the spool, for a relay.
   * @returns how many deliveries had not finished
   */
  async drain(deadlineMs: number): Promise<{ unfinished: number }> {
    const waitFor = async (ms: number) => {
      const timer = new AbortController();
      await Promise.race([
        Promise.allSettled([...this.#tasks]),
        pause(ms, timer.signal).then(() => undefined),
      ]);
      timer.abort();
    };
    await waitFor(Math.max(0, deadlineMs - ABORT_GRACE_MS));
    const unfinished = this.#tasks.size;
    this.#abort.abort();
    if (this.#tasks.size > 0) await waitFor(Math.min(ABORT_GRACE_MS, deadlineMs));
    return { unfinished };
  }

  async #deliver(entry: OutboxEntry, log: Logger): Promise<void> {
    const signal = this.#abort.signal;
    let spooled = false;
    let stored = false;
    const spool = async () => {
      if (spooled || stored || !this.#o.spool) return;
      try {
        await this.#o.spool.write(entry);
        spooled = true;
        this.#o.metrics?.spooled.inc();
        log.warn('escalation spooled locally; outbox write still pending');
      } catch (err) {
        log.error({ err: errorCode(err) }, 'could not spool escalation');
      }
    };

    let firstFailure!: () => void;
    const failedOnce = new Promise<boolean>((resolve) => {
      firstFailure = () => resolve(false);
    });
    const storing = this.#store(entry, signal, firstFailure, log).then(async (ok) => {
      stored = ok;
      if (ok && spooled) await this.#o.spool?.remove(entry.id).catch(() => undefined);
      return ok;
    });
    const waitTimer = new AbortController();
    const inTime = await Promise.race([
      storing,
      failedOnce,
      pause(this.#o.storeWaitMs, waitTimer.signal).then(() => false),
    ]);
    waitTimer.abort();
    if (!inTime) await spool();

    const messageId = await this.#publishUntilAcked(entry, signal, log);
    const ok = await storing;
    // Cut short before the outbox took it: the spool is what survives this process.
    if (!ok) await spool();
    if (messageId === undefined) {
      log.warn({ inOutbox: ok, spooled }, 'escalation not yet delivered; left for the relay');
      return;
    }
    if (!ok) return;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await this.#o.outbox.markDelivered({
          id: entry.id,
          deliveredAt: this.#o.now(),
          by: this.#o.by,
          ...(messageId ? { messageId } : {}),
        });
        return;
      } catch (err) {
        if (attempt === 3 || !(await pause(backoffMs(attempt, this.#o.backoff), signal))) {
          // Harmless: a relay publishes it once more, and consumers de-duplicate on the id.
          log.warn({ err: errorCode(err) }, 'delivery receipt not stored; expect a duplicate');
          return;
        }
      }
    }
  }

  /** True once the outbox holds the entry; false when aborted or given up. */
  async #store(
    entry: OutboxEntry,
    signal: AbortSignal,
    onFailure: () => void,
    log: Logger,
  ): Promise<boolean> {
    for (let attempt = 1; attempt <= this.#o.maxAttempts; attempt++) {
      try {
        await this.#o.outbox.add(entry);
        if (attempt > 1) log.info({ attempt }, 'escalation stored in the outbox after retries');
        return true;
      } catch (err) {
        onFailure();
        if (!isRetryable(err)) {
          log.error({ err: errorCode(err) }, 'outbox refused the escalation');
          return false;
        }
        if (attempt === 1) log.warn({ err: errorCode(err) }, 'outbox write failed; retrying');
        if (!(await pause(backoffMs(attempt, this.#o.backoff, this.#o.random), signal))) {
          return false;
        }
      }
    }
    return false;
  }

  /** Pub/Sub's message id ('' if the publisher does not say) once acked; undefined if not. */
  async #publishUntilAcked(
    entry: OutboxEntry,
    signal: AbortSignal,
    log: Logger,
  ): Promise<string | undefined> {
    const aborted = new Promise<'aborted'>((resolve) => {
      if (signal.aborted) resolve('aborted');
      signal.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    for (let attempt = 1; attempt <= this.#o.maxAttempts; attempt++) {
      if (signal.aborted) return undefined;
      // The publisher bounds each attempt with its own timeout; the race only stops us waiting
      // for an attempt in flight when the job drains (its outcome no longer matters).
      const publishing = this.#o.publisher.publish(entry.event);
      publishing.catch(() => undefined);
      try {
        const r = await Promise.race([publishing, aborted]);
        if (r === 'aborted') return undefined;
        this.#o.metrics?.publishAttempts.inc({ source: 'job', outcome: 'acked' });
        log.info({ attempt }, 'escalation published');
        return typeof r === 'string' ? r : '';
      } catch (err) {
        this.#o.metrics?.publishAttempts.inc({ source: 'job', outcome: 'failed' });
        if (attempt === 1 || attempt % 10 === 0) {
          log.warn({ attempt, err: errorCode(err) }, 'escalation publish failed; retrying');
        }
        if (!(await pause(backoffMs(attempt, this.#o.backoff, this.#o.random), signal))) {
          return undefined;
        }
      }
    }
    return undefined;
  }
}
