/**
 * Time, in one place. Every wait that a caller may need to cut short takes an AbortSignal, and
 * every race against a deadline clears its timer when the race ends, so no timer outlives the
 * work it guards. Code that runs deadlines or poll loops takes a {@link Clock} so unit tests can
 * run it on virtual time; lease heartbeats and shutdown grace use wall-clock timers on purpose.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { TimeoutError } from './errors.ts';

export interface Clock {
  /** Wall-clock time, for timestamps and deadlines. */
  now(): Date;
  /** Milliseconds from an arbitrary origin that only moves forward, for measuring durations. */
  monotonicMs(): number;
  /** Resolves after `ms`; rejects with `signal.reason` if the signal aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Resolves after `ms`; rejects with `signal.reason` (not Node's AbortError wrapping it) if the
 * signal aborts first, so callers can branch on the error class they aborted with.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    throw signal?.aborted ? signal.reason : err;
  }
}

export const systemClock: Clock = {
  now: () => new Date(),
  monotonicMs: () => performance.now(),
  sleep,
};

/**
 * Settles like `promise`, or rejects after `ms` with a {@link TimeoutError} naming `what` (or
 * with what `onTimeout` builds). The work itself is not cancelled: pass it a signal for that.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout: () => Error = () => new TimeoutError(what, ms),
): Promise<T> {
  const race = new AbortController();
  const timeout = delay(ms, undefined, { signal: race.signal }).then(() => {
    throw onTimeout();
  });
  // Cancelling the timer rejects `timeout` with an AbortError nobody needs to see.
  timeout.catch(() => undefined);
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    race.abort();
  }
}

/** Whether `promise` settled within `ms` (its own failure counts as settled). Never rejects. */
export function settlesWithin(
  promise: Promise<unknown>,
  ms: number,
  what: string,
): Promise<boolean> {
  return withTimeout(promise, ms, what).then(
    () => true,
    (err: unknown) => !(err instanceof TimeoutError),
  );
}
