/**
 * The agent's transcript writer: one per session, between the conversation and the
 * UtteranceStore.
 *
 * - `append` is synchronous and never touches the database: it numbers the utterance (dense
 *   `seq` from `startSeq`, 0 for a new session, in append order), queues it and returns.
 * - One background writer sends batches: when `maxBatchSize` utterances wait, or when the oldest
 *   has waited `flushIntervalMs`. One batch is in flight at a time, so batches land in order.
 * - A failed write is retried with exponential backoff, bounded by attempts and by time. What is
 *   retryable is the error's `retryable` flag (the Mongo store maps network and server-selection
 *   errors to TransientError). Stores are idempotent on (sessionId, seq), so a retried batch whose
 *   first write did land changes nothing.
 * - A store call that has not settled after `writeTimeoutMs` counts as a failed attempt: a
 *   paused MongoDB holds a call on an open socket indefinitely (the driver has no socket
 *   timeout), which would otherwise stall the writer for the whole outage.
 * - Nothing is dropped while the process lives. A batch whose retries run out is parked in
 *   memory; parked utterances go back to the front of the queue once a later write succeeds
 *   (the store is back) and again at `close`. Past `highWaterMark` pending utterances the sink
 *   logs a warning (again at every doubling).
 * - Memory is bounded: at `maxPending` utterances held, the sink hands everything not in
 *   flight to `spill` (a durable local spool, `sessions/utterance-spool.ts`), counts it in
 *   `stats().boundReached` and warns. Without a `spill`, or when it fails, the utterances stay
 *   in memory: reaching the bound never drops or throws.
 * - `close({ deadlineMs })` writes what it can before the deadline, spills the rest (in doubt
 *   included: replays are idempotent) and reports what is neither written nor spilled.
 *
 * Logs carry counts, seq numbers and the sessionId, never utterance text.
 */
import {
  isRetryable as hasRetryableFlag,
  PermanentError,
  TransientError,
  ValidationError,
} from '../../infra/errors.ts';
import type { Logger } from '../../infra/logger.ts';
import { percentile } from '../../infra/stats.ts';
import { sleep, systemClock, type Clock } from '../../infra/time.ts';
import type { LatencySummary, Utterance } from '../../sessions/schema.ts';
import type { UtteranceStore } from '../../sessions/store.ts';

/** The sink only measures durations: it needs the monotonic part of a {@link Clock}. */
export type SinkClock = Pick<Clock, 'monotonicMs'>;

/** An utterance before the sink numbers it. A `sessionId`, if present, must be the sink's. */
export type UtteranceInput = Omit<Utterance, 'seq' | 'sessionId'> & { sessionId?: string };

export interface TranscriptSinkOptions {
  store: UtteranceStore;
  sessionId: string;
  logger: Logger;
  /** @defaultValue {@link systemClock} */
  clock?: SinkClock;
  /** Aborting stops the background writer at once (no flush); `close` then only reports. */
  signal?: AbortSignal;
  /**
   * The first seq this sink hands out: one past the last stored (or spooled) for a session a
   * resumed job continues. @defaultValue 0
   */
  startSeq?: number;
  /**
   * Durable somewhere other than the store (a local spool). Called at the bound and at close
   * with utterances not yet acknowledged; resolving means they are durable.
   * @defaultValue none: they stay in memory, and close reports them
   */
  spill?: (utterances: readonly Utterance[]) => Promise<void>;
  /** Utterances held in memory at which the sink spills. @defaultValue 500 */
  maxPending?: number;
  /** A store call unsettled after this long is a failed (retryable) attempt. @defaultValue 5000 */
  writeTimeoutMs?: number;
  /** Longest `close` waits for `spill` after its deadline. @defaultValue 1000 */
  spillTimeoutMs?: number;
  /** Most utterances per store call. @defaultValue 50 */
  maxBatchSize?: number;
  /** How long the oldest queued utterance may wait for others to share its write. @defaultValue 20 */
  flushIntervalMs?: number;
  /** Store calls per batch, the first included, before it is parked. @defaultValue 6 */
  maxAttempts?: number;
  /** Backoff before the first retry; doubles each time, with jitter. @defaultValue 50 */
  retryBaseDelayMs?: number;
  /** @defaultValue 2000 */
  retryMaxDelayMs?: number;
  /** No retry starts after this long since the batch's first attempt. @defaultValue 10000 */
  retryBudgetMs?: number;
  /** Pending utterances above which the sink warns (and again at each doubling). @defaultValue 1000 */
  highWaterMark?: number;
  /** Used by `close()` when no deadline is given. @defaultValue 5000 */
  closeDeadlineMs?: number;
  /** Durations kept for the percentiles in `stats()` (the most recent ones). @defaultValue 4096 */
  latencySampleSize?: number;
  /** Decides whether a failed write is worth retrying. @defaultValue the error's `retryable` flag */
  isRetryable?: (err: unknown) => boolean;
}

export const defaults = {
  maxBatchSize: 50,
  flushIntervalMs: 20,
  maxAttempts: 6,
  retryBaseDelayMs: 50,
  retryMaxDelayMs: 2000,
  retryBudgetMs: 10_000,
  highWaterMark: 1000,
  closeDeadlineMs: 5000,
  latencySampleSize: 4096,
  startSeq: 0,
  maxPending: 500,
  writeTimeoutMs: 5000,
  spillTimeoutMs: 1000,
} as const;

export interface DurationSummary extends LatencySummary {
  maxMs: number;
}

export interface TranscriptSinkStats {
  /** Appended and not yet acknowledged: queued + in flight + parked. */
  pending: number;
  queued: number;
  inFlight: number;
  /** Held back after their batch ran out of retries; still in memory, not dropped. */
  parked: number;
  written: number;
  /** Store calls that failed (each retry counts). */
  failedAttempts: number;
  /** Store calls that succeeded. */
  batches: number;
  /** Batches that ran out of retries (or failed with a non-retryable error) and were parked. */
  parkedBatches: number;
  aboveHighWaterMark: boolean;
  /** Utterances handed to `spill` and made durable there (not written by this sink). */
  spilled: number;
  /** Times the in-memory bound (`maxPending`) was reached. */
  boundReached: number;
  /** Store calls given up on after `writeTimeoutMs` (each also counts in failedAttempts). */
  timedOutAttempts: number;
  /** From `append` to the store acknowledging the write: the "durability" latency. */
  durabilityMs: DurationSummary;
  /** Duration of each successful store call. */
  writeMs: DurationSummary;
}

/** What a failure was, without anything from the data (driver messages can quote documents). */
export interface ErrorSummary {
  errName: string;
  errCode?: string | number;
  retryable: boolean;
}

export interface TranscriptSinkReport {
  /** Utterances the store acknowledged over the sink's life. */
  written: number;
  /**
   * Utterances neither acknowledged by the store nor spilled when close returned: 0 when
   * everything is durable somewhere.
   */
  unwritten: number;
  unwrittenSeqs: number[];
  /** Utterances in the spool rather than the store (over the sink's life, close included). */
  spilled: number;
  spilledSeqs: number[];
  /** Those utterances, for a last-resort fallback. Their text must never be logged. */
  unwrittenUtterances: Utterance[];
  /** Of the unwritten, those whose write was still in flight at the deadline: they may land. */
  inDoubt: number;
  /** True when the deadline (or the abort signal) stopped the flush with utterances left. */
  timedOut: boolean;
  lastError?: ErrorSummary;
  stats: TranscriptSinkStats;
}

interface Entry {
  utterance: Utterance;
  appendedAt: number;
}

interface Parked {
  entry: Entry;
  /** Parked because retries ran out (worth another go once the store is back), not refused. */
  retryable: boolean;
}

type CallOutcome = { kind: 'ok' } | { kind: 'error'; error: unknown } | { kind: 'aborted' };

type BatchOutcome =
  | { kind: 'written'; writeMs: number }
  | { kind: 'gave-up'; retryable: boolean; attempts: number }
  | { kind: 'aborted' };

type Settings = Required<Omit<TranscriptSinkOptions, 'signal' | 'spill'>> &
  Pick<TranscriptSinkOptions, 'spill'>;

export class TranscriptSink {
  readonly sessionId: string;
  readonly #settings: Settings;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  readonly #loop: Promise<void>;

  #nextSeq: number;
  #queue: Entry[] = [];
  #inFlight: Entry[] = [];
  #parked: Parked[] = [];
  /** Handed to `spill`, not yet confirmed durable: still counted as pending. */
  #spilling: Entry[] = [];
  #spilledSeqs: number[] = [];
  #boundReached = 0;
  #timedOutAttempts = 0;
  #spillTask: Promise<void> | undefined;
  #inDoubtSeqs = new Set<number>();

  #wake: (() => void) | undefined;
  #closing = false;
  #stopped = false;
  #closed: Promise<TranscriptSinkReport> | undefined;
  #deadlineHit = false;

  #written = 0;
  #failedAttempts = 0;
  #batches = 0;
  #parkedBatches = 0;
  #lastError: ErrorSummary | undefined;
  #nextWarnAt: number;
  readonly #durability: DurationSamples;
  readonly #writeMs: DurationSamples;

  constructor(opts: TranscriptSinkOptions) {
    this.#settings = resolveOptions(opts);
    this.sessionId = opts.sessionId;
    this.#nextSeq = this.#settings.startSeq;
    this.#log = opts.logger.child({ component: 'transcript-sink', sessionId: opts.sessionId });
    this.#nextWarnAt = this.#settings.highWaterMark;
    this.#durability = new DurationSamples(this.#settings.latencySampleSize);
    this.#writeMs = new DurationSamples(this.#settings.latencySampleSize);

    const external = opts.signal;
    const onExternalAbort = (): void => this.#abort.abort();
    if (external?.aborted) this.#abort.abort();
    else external?.addEventListener('abort', onExternalAbort, { once: true });

    this.#loop = this.#run()
      .catch((err: unknown) => {
        // A bug, not a store failure (those are handled in the loop). Keep what is queued.
        this.#log.error({ ...summarise(err, false) }, 'transcript writer stopped unexpectedly');
      })
      .finally(() => external?.removeEventListener('abort', onExternalAbort));
  }

  /**
   * Numbers the utterance, queues it, and returns its seq. Never waits for the database.
   * While `close` is flushing, appends are still taken and written if the deadline allows; once
   * the writer has stopped (closed or aborted) they throw `transcript_sink_closed`.
   */
  append(input: UtteranceInput): number {
    if (this.#stopped) {
      throw new PermanentError(
        'transcript_sink_closed',
        'the transcript sink no longer accepts utterances',
      );
    }
    if (input.sessionId !== undefined && input.sessionId !== this.sessionId) {
      throw new ValidationError(
        'transcript_session_mismatch',
        `utterance for session ${input.sessionId} appended to the sink of ${this.sessionId}`,
      );
    }
    const seq = this.#nextSeq++;
    const utterance: Utterance = { ...structuredClone(input), sessionId: this.sessionId, seq };
    this.#queue.push({ utterance, appendedAt: this.#settings.clock.monotonicMs() });
    this.#watchBacklog();
    // With a spool: once per spill. Without: once per crossing (it stays above, memory grows).
    const pending = this.#pending();
    const { maxPending, spill } = this.#settings;
    if (pending >= maxPending && (spill ? !this.#spillTask : pending === maxPending)) {
      this.#atBound();
    }
    this.#wake?.();
    return seq;
  }

  stats(): TranscriptSinkStats {
    return {
      pending: this.#pending(),
      queued: this.#queue.length,
      inFlight: this.#inFlight.length,
      parked: this.#parked.length,
      written: this.#written,
      failedAttempts: this.#failedAttempts,
      batches: this.#batches,
      parkedBatches: this.#parkedBatches,
      aboveHighWaterMark: this.#nextWarnAt > this.#settings.highWaterMark,
      spilled: this.#spilledSeqs.length,
      boundReached: this.#boundReached,
      timedOutAttempts: this.#timedOutAttempts,
      durabilityMs: this.#durability.summary(),
      writeMs: this.#writeMs.summary(),
    };
  }

  /**
   * Stops taking utterances, writes everything still pending (parked batches get another go)
   * until done or until the deadline, and reports what was not written. Idempotent: later calls
   * return the same report.
   */
  /** The seq the next appended utterance gets (a successor that takes the call starts here). */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  close(opts: { deadlineMs?: number } = {}): Promise<TranscriptSinkReport> {
    const deadlineMs = opts.deadlineMs ?? this.#settings.closeDeadlineMs;
    if (!Number.isFinite(deadlineMs) || deadlineMs < 0) {
      throw new ValidationError(
        'invalid_options',
        'close deadlineMs must be a non-negative number',
      );
    }
    this.#closed ??= this.#close(deadlineMs);
    return this.#closed;
  }

  async #close(deadlineMs: number): Promise<TranscriptSinkReport> {
    this.#closing = true;
    this.#requeueParked();
    this.#wake?.();
    const timer = setTimeout(() => {
      this.#deadlineHit = true;
      this.#abort.abort();
    }, deadlineMs);
    try {
      await this.#loop;
    } finally {
      clearTimeout(timer);
    }
    await this.#spillTask;
    await this.#spillLeft();
    const report = this.#report();
    const fields = {
      written: report.written,
      spilled: report.spilled,
      unwritten: report.unwritten,
      inDoubt: report.inDoubt,
    };
    if (report.unwritten > 0)
      this.#log.error(fields, 'transcript sink closed with utterances unwritten');
    else if (report.spilled > 0)
      this.#log.warn(fields, 'transcript sink closed; some utterances wait in the local spool');
    else this.#log.debug(fields, 'transcript sink closed');
    return report;
  }

  /** At close: what the store did not take goes to the spool, in-flight (in doubt) included. */
  async #spillLeft(): Promise<void> {
    const { spill, spillTimeoutMs } = this.#settings;
    if (!spill) return;
    const left = this.#takeUnacknowledged(true);
    if (left.length === 0) return;
    this.#spilling = left;
    const ok = await this.#spillNow(left, spillTimeoutMs);
    this.#spilling = [];
    if (!ok) this.#queue.unshift(...left);
  }

  /** The bound was reached: everything not in flight goes to the spool, in the background. */
  #atBound(): void {
    this.#boundReached += 1;
    const { spill, maxPending } = this.#settings;
    this.#log.warn(
      { pending: this.#pending(), maxPending, written: this.#written, spill: spill !== undefined },
      spill
        ? 'transcript buffer at its bound; spilling to the local spool'
        : 'transcript buffer at its bound and no spool; kept in memory',
    );
    if (!spill || this.#spillTask) return;
    const batch = this.#takeUnacknowledged(false);
    if (batch.length === 0) return;
    this.#spilling = batch;
    this.#spillTask = this.#spillNow(batch, this.#settings.spillTimeoutMs).then((ok) => {
      this.#spilling = [];
      this.#spillTask = undefined;
      if (ok) {
        // More arrived while the spool was written.
        if (this.#pending() >= this.#settings.maxPending && !this.#stopped) this.#atBound();
        return;
      }
      // Back in memory, in seq order, ahead of what arrived meanwhile.
      this.#queue.unshift(...batch);
      this.#queue.sort((a, b) => a.utterance.seq - b.utterance.seq);
      this.#wake?.();
    });
  }

  /** Removes queued and parked entries (and in-flight ones, if asked) from memory, by seq. */
  #takeUnacknowledged(withInFlight: boolean): Entry[] {
    const taken = [
      ...this.#parked.map((p) => p.entry),
      ...this.#queue,
      ...(withInFlight ? this.#inFlight : []),
    ].sort((a, b) => a.utterance.seq - b.utterance.seq);
    this.#parked = [];
    this.#queue = [];
    if (withInFlight) this.#inFlight = [];
    return taken;
  }

  async #spillNow(batch: readonly Entry[], timeoutMs: number): Promise<boolean> {
    const spill = this.#settings.spill!;
    const utterances = batch.map((e) => e.utterance);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        spill(utterances),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('spill timed out')), timeoutMs);
        }),
      ]);
      for (const e of batch) this.#spilledSeqs.push(e.utterance.seq);
      this.#log.warn({ ...batchFields(batch) }, 'transcript utterances spilled to the local spool');
      return true;
    } catch (err) {
      this.#log.error(
        { ...batchFields(batch), ...summarise(err, true) },
        'transcript spill failed; utterances kept in memory',
      );
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const { maxBatchSize, flushIntervalMs, clock } = this.#settings;
    try {
      while (!signal.aborted) {
        const oldest = this.#queue[0];
        if (!oldest) {
          if (this.#closing) return;
          await this.#idle();
          continue;
        }
        if (!this.#closing && this.#queue.length < maxBatchSize) {
          const waitMs = oldest.appendedAt + flushIntervalMs - clock.monotonicMs();
          if (waitMs > 0) {
            await this.#idle(waitMs);
            continue;
          }
        }
        const batch = this.#queue.splice(0, maxBatchSize);
        this.#inFlight = batch;
        const outcome = await this.#writeWithRetries(batch, signal);
        this.#inFlight = [];
        if (outcome.kind === 'written') {
          this.#acknowledge(batch, outcome.writeMs);
          if (this.#parked.length > 0) this.#requeueParked();
        } else if (outcome.kind === 'gave-up') {
          this.#park(batch, outcome);
        } else {
          for (const e of batch) this.#inDoubtSeqs.add(e.utterance.seq);
          this.#queue.unshift(...batch);
        }
      }
    } finally {
      this.#stopped = true;
    }
  }

  async #writeWithRetries(batch: readonly Entry[], signal: AbortSignal): Promise<BatchOutcome> {
    const { clock, maxAttempts, retryBudgetMs } = this.#settings;
    const utterances = batch.map((e) => e.utterance);
    const firstAttemptAt = clock.monotonicMs();
    for (let attempt = 1; ; attempt++) {
      const startedAt = clock.monotonicMs();
      const outcome = await this.#call(utterances, signal);
      if (outcome.kind === 'ok')
        return { kind: 'written', writeMs: clock.monotonicMs() - startedAt };
      if (outcome.kind === 'aborted') return { kind: 'aborted' };

      this.#failedAttempts++;
      const retryable = this.#settings.isRetryable(outcome.error);
      this.#lastError = summarise(outcome.error, retryable);
      const delayMs = this.#backoff(attempt);
      const giveUp =
        !retryable ||
        attempt >= maxAttempts ||
        clock.monotonicMs() - firstAttemptAt + delayMs > retryBudgetMs;
      this.#log.warn(
        { ...batchFields(batch), attempt, ...this.#lastError, retryInMs: giveUp ? null : delayMs },
        'transcript write failed',
      );
      if (giveUp) return { kind: 'gave-up', retryable, attempts: attempt };
      await pause(delayMs, signal);
      if (signal.aborted) return { kind: 'aborted' };
    }
  }

  /** One store call, raced against the abort signal: a stuck call cannot hold `close` past its deadline. */
  #call(utterances: readonly Utterance[], signal: AbortSignal): Promise<CallOutcome> {
    let settled: Promise<CallOutcome>;
    try {
      settled = this.#settings.store.writeUtterances(utterances).then(
        (): CallOutcome => ({ kind: 'ok' }),
        (error: unknown): CallOutcome => ({ kind: 'error', error }),
      );
    } catch (error) {
      return Promise.resolve({ kind: 'error', error });
    }
    return new Promise<CallOutcome>((resolve) => {
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        this.#timedOutAttempts += 1;
        for (const u of utterances) this.#inDoubtSeqs.add(u.seq);
        resolve({
          kind: 'error',
          error: new TransientError(
            'transcript_write_timeout',
            `utterance write unsettled after ${this.#settings.writeTimeoutMs} ms`,
          ),
        });
        noteLate();
      }, this.#settings.writeTimeoutMs);
      const noteLate = (): void => {
        // The call itself cannot be cancelled; note how it ends so its outcome is not lost.
        void settled.then((late) => {
          this.#log.info(
            { count: utterances.length, outcome: late.kind },
            'transcript write settled after the sink stopped waiting',
          );
        });
      };
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve({ kind: 'aborted' });
        noteLate();
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      void settled.then((outcome) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(outcome);
      });
    });
  }

  #acknowledge(batch: readonly Entry[], writeMs: number): void {
    const ackAt = this.#settings.clock.monotonicMs();
    for (const e of batch) this.#durability.add(ackAt - e.appendedAt);
    this.#writeMs.add(writeMs);
    this.#written += batch.length;
    this.#batches++;
    this.#watchBacklog();
  }

  #park(batch: readonly Entry[], outcome: { retryable: boolean; attempts: number }): void {
    for (const entry of batch) this.#parked.push({ entry, retryable: outcome.retryable });
    this.#parkedBatches++;
    this.#log.error(
      {
        ...batchFields(batch),
        attempts: outcome.attempts,
        ...this.#lastError,
        parked: this.#parked.length,
      },
      outcome.retryable
        ? 'transcript batch parked after its retries ran out; kept in memory for a later attempt'
        : 'transcript batch refused by the store; kept in memory and reported at close',
    );
  }

  /** Parked utterances worth another attempt go back to the front of the queue, in seq order. */
  #requeueParked(): void {
    const again = this.#parked.filter((p) => p.retryable).map((p) => p.entry);
    if (again.length === 0) return;
    this.#parked = this.#parked.filter((p) => !p.retryable);
    this.#queue.unshift(...again.sort((a, b) => a.utterance.seq - b.utterance.seq));
    this.#log.info({ ...batchFields(again) }, 'retrying parked transcript utterances');
  }

  #pending(): number {
    return this.#queue.length + this.#inFlight.length + this.#parked.length + this.#spilling.length;
  }

  #watchBacklog(): void {
    const pending = this.#pending();
    const { highWaterMark } = this.#settings;
    if (pending > this.#nextWarnAt) {
      this.#log.warn(
        { pending, highWaterMark, written: this.#written },
        'transcript backlog above its high-water mark; nothing is dropped, memory grows',
      );
      while (pending > this.#nextWarnAt) this.#nextWarnAt *= 2;
    } else if (this.#nextWarnAt > highWaterMark && pending <= highWaterMark / 2) {
      this.#nextWarnAt = highWaterMark;
      this.#log.info(
        { pending, highWaterMark },
        'transcript backlog back under its high-water mark',
      );
    }
  }

  #backoff(attempt: number): number {
    const { retryBaseDelayMs, retryMaxDelayMs } = this.#settings;
    const ceiling = Math.min(retryMaxDelayMs, retryBaseDelayMs * 2 ** (attempt - 1));
    // Half fixed, half random: agents that failed together do not retry in lockstep.
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  /** Resolves on `append`/`close` (via #wake), after `ms` if given, or on abort. */
  #idle(ms?: number): Promise<void> {
    const signal = this.#abort.signal;
    return new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  #report(): TranscriptSinkReport {
    const left = [
      ...this.#parked.map((p) => p.entry),
      ...this.#queue,
      ...this.#inFlight,
      ...this.#spilling,
    ].sort((a, b) => a.utterance.seq - b.utterance.seq);
    const seqs = left.map((e) => e.utterance.seq);
    return {
      written: this.#written,
      unwritten: left.length,
      unwrittenSeqs: seqs,
      spilled: this.#spilledSeqs.length,
      spilledSeqs: [...this.#spilledSeqs].sort((a, b) => a - b),
      unwrittenUtterances: left.map((e) => structuredClone(e.utterance)),
      inDoubt: seqs.filter((s) => this.#inDoubtSeqs.has(s)).length,
      timedOut: left.length > 0 && (this.#deadlineHit || this.#abort.signal.aborted),
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      stats: this.stats(),
    };
  }
}

function resolveOptions(opts: TranscriptSinkOptions): Settings {
  const s: Settings = {
    store: opts.store,
    sessionId: opts.sessionId,
    logger: opts.logger,
    clock: opts.clock ?? systemClock,
    maxBatchSize: opts.maxBatchSize ?? defaults.maxBatchSize,
    flushIntervalMs: opts.flushIntervalMs ?? defaults.flushIntervalMs,
    maxAttempts: opts.maxAttempts ?? defaults.maxAttempts,
    retryBaseDelayMs: opts.retryBaseDelayMs ?? defaults.retryBaseDelayMs,
    retryMaxDelayMs: opts.retryMaxDelayMs ?? defaults.retryMaxDelayMs,
    retryBudgetMs: opts.retryBudgetMs ?? defaults.retryBudgetMs,
    highWaterMark: opts.highWaterMark ?? defaults.highWaterMark,
    closeDeadlineMs: opts.closeDeadlineMs ?? defaults.closeDeadlineMs,
    latencySampleSize: opts.latencySampleSize ?? defaults.latencySampleSize,
    isRetryable: opts.isRetryable ?? hasRetryableFlag,
    startSeq: opts.startSeq ?? defaults.startSeq,
    maxPending: opts.maxPending ?? defaults.maxPending,
    writeTimeoutMs: opts.writeTimeoutMs ?? defaults.writeTimeoutMs,
    spillTimeoutMs: opts.spillTimeoutMs ?? defaults.spillTimeoutMs,
    ...(opts.spill ? { spill: opts.spill } : {}),
  };
  const problems: string[] = [];
  if (typeof s.sessionId !== 'string' || s.sessionId === '') problems.push('sessionId is required');
  const positiveInts = [
    'maxBatchSize',
    'maxAttempts',
    'highWaterMark',
    'latencySampleSize',
    'maxPending',
  ] as const;
  for (const k of positiveInts) {
    if (!Number.isInteger(s[k]) || s[k] < 1) problems.push(`${k} must be a positive integer`);
  }
  const durations = [
    'flushIntervalMs',
    'retryBaseDelayMs',
    'retryMaxDelayMs',
    'retryBudgetMs',
    'closeDeadlineMs',
    'writeTimeoutMs',
    'spillTimeoutMs',
  ] as const;
  for (const k of durations) {
    if (!Number.isFinite(s[k]) || s[k] < 0) problems.push(`${k} must be a non-negative number`);
  }
  if (!Number.isSafeInteger(s.startSeq) || s.startSeq < 0) {
    problems.push('startSeq must be a non-negative integer');
  }
  if (s.retryMaxDelayMs < s.retryBaseDelayMs) {
    problems.push('retryMaxDelayMs must not be below retryBaseDelayMs');
  }
  if (problems.length > 0) {
    throw new ValidationError(
      'invalid_options',
      `bad TranscriptSink options: ${problems.join('; ')}`,
      problems,
    );
  }
  return s;
}

function batchFields(batch: readonly Entry[]): {
  count: number;
  firstSeq?: number;
  lastSeq?: number;
} {
  return {
    count: batch.length,
    firstSeq: batch[0]?.utterance.seq,
    lastSeq: batch[batch.length - 1]?.utterance.seq,
  };
}

function summarise(err: unknown, retryable: boolean): ErrorSummary {
  const code = (err as { code?: unknown } | null)?.code;
  return {
    errName: err instanceof Error ? err.name : typeof err,
    ...(typeof code === 'string' || typeof code === 'number' ? { errCode: code } : {}),
    retryable,
  };
}

/** Resolves after `ms`, or at once when the signal aborts. Never rejects. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, signal).catch(() => undefined);
}

/** A bounded window of the most recent durations; count and max cover the sink's whole life. */
class DurationSamples {
  readonly #size: number;
  readonly #samples: number[] = [];
  #next = 0;
  #count = 0;
  #max = 0;

  constructor(size: number) {
    this.#size = size;
  }

  add(ms: number): void {
    if (this.#samples.length < this.#size) this.#samples.push(ms);
    else this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#size;
    this.#count++;
    this.#max = Math.max(this.#max, ms);
  }

  summary(): DurationSummary {
    // An empty window reports zeros: the stats are logged and summed, NaN would poison both.
    const at = (p: number) => (this.#samples.length ? percentile(this.#samples, p) : 0);
    return {
      count: this.#count,
      medianMs: at(50),
      p95Ms: at(95),
      maxMs: this.#max,
    };
  }
}
