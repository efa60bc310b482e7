/** Virtual time for unit tests of code that takes a {@link Clock}. */
import type { Clock } from '../time.ts';

/**
 * Virtual time: `sleep` moves the clock forward by the slept amount and resolves on the next turn
 * of the event loop, so poll loops with multi-second deadlines finish in microseconds.
 */
export class VirtualClock implements Clock {
  #nowMs: number;

  constructor(start = Date.parse('2026-03-02T09:00:00.000Z')) {
    this.#nowMs = start;
  }

  now(): Date {
    return new Date(this.#nowMs);
  }

  monotonicMs(): number {
    return this.#nowMs;
  }

  advance(ms: number): void {
    this.#nowMs += ms;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      setImmediate(() => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        this.#nowMs += ms;
        resolve();
      });
    });
  }
}
