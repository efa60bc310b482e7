/**
 * A reusable UtteranceStore wrapper for tests: records every call and can fail, stall or slow
 * down writes on demand, in front of any real store (memory or MongoDB).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { TransientError } from '../../infra/errors.ts';
import type { Utterance } from '../schema.ts';
import type { UtteranceStore } from '../store.ts';

export interface InjectedFault {
  /** What to throw. @defaultValue a retryable TransientError `store_unavailable` */
  error?: () => unknown;
  /**
   * Let the write reach the inner store, then throw: the write landed but its acknowledgement
   * was lost, so the caller will retry a batch that is already stored.
   */
  afterWrite?: boolean;
}

export interface RecordedWrite {
  /** A copy of the batch as it was passed in. */
  batch: Utterance[];
  outcome: 'pending' | 'ok' | 'failed';
}

export class FaultyUtteranceStore implements UtteranceStore {
  /** Every writeUtterances call, in call order. */
  readonly calls: RecordedWrite[] = [];
  /** Added before each write reaches the inner store. */
  delayMs = 0;
  readonly #inner: UtteranceStore;
  #faultsLeft = 0;
  #fault: Required<InjectedFault> = { error: defaultError, afterWrite: false };
  #gate: Promise<void> | undefined;

  constructor(inner: UtteranceStore) {
    this.#inner = inner;
  }

  /** The next `count` writes fail (`Infinity`: every write until `heal()`). */
  failNext(count: number, fault: InjectedFault = {}): this {
    this.#faultsLeft = count;
    this.#fault = { error: fault.error ?? defaultError, afterWrite: fault.afterWrite ?? false };
    return this;
  }

  heal(): this {
    this.#faultsLeft = 0;
    return this;
  }

  /** Writes wait (already recorded as calls) until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#gate = gate;
    return () => {
      if (this.#gate === gate) this.#gate = undefined;
      release();
    };
  }

  /** The seq numbers of each call's batch, in call order. */
  seqsPerCall(): number[][] {
    return this.calls.map((c) => c.batch.map((u) => u.seq));
  }

  async writeUtterances(batch: readonly Utterance[]): Promise<void> {
    const call: RecordedWrite = { batch: structuredClone([...batch]), outcome: 'pending' };
    this.calls.push(call);
    try {
      if (this.#gate) await this.#gate;
      if (this.delayMs > 0) await delay(this.delayMs);
      const fault = this.#faultsLeft > 0 ? this.#fault : undefined;
      if (fault) this.#faultsLeft -= 1;
      if (fault && !fault.afterWrite) throw fault.error();
      await this.#inner.writeUtterances(batch);
      if (fault) throw fault.error();
      call.outcome = 'ok';
    } catch (err) {
      call.outcome = 'failed';
      throw err;
    }
  }

  listUtterances(sessionId: string): Promise<Utterance[]> {
    return this.#inner.listUtterances(sessionId);
  }
}

function defaultError(): unknown {
  return new TransientError('store_unavailable', 'injected store failure');
}
