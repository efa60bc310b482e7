/**
 * The one place a bench step's failure is contained. A step that throws (an agent that never
 * speaks, a patient that cannot join, a server that drops a call) is recorded with its reason,
 * the phase stops stepping and keeps what it measured, and the run goes on to write its report.
 * A whole phase that throws outside its steps is contained the same way, one level up.
 */

export interface FailedStep {
  phase: string;
  /** Which step, e.g. `ours N=5`; `(phase)` when the phase failed outside its steps. */
  step: string;
  reason: string;
  /** When it failed, ms since the recorder was made. */
  atMs: number;
}

export type StepOutcome<T> = { ok: true; value: T } | { ok: false; failure: FailedStep };

export interface StepRecorderOptions {
  /** Told of each failure as it happens (the bench prints it). */
  onFailure?: (f: FailedStep) => void;
  clock?: () => number;
}

function reasonOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (cause: ${err.cause.message})` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

export class StepRecorder {
  readonly failed: FailedStep[] = [];
  readonly #onFailure: ((f: FailedStep) => void) | undefined;
  readonly #clock: () => number;
  readonly #t0: number;

  constructor(opts: StepRecorderOptions = {}) {
    this.#onFailure = opts.onFailure;
    this.#clock = opts.clock ?? (() => performance.now());
    this.#t0 = this.#clock();
  }

  /**
   * Runs one step of `phase`. Never rejects: a throw comes back as `{ ok: false }` with the
   * reason recorded, and the caller stops stepping.
   */
  async step<T>(phase: string, step: string, fn: () => Promise<T>): Promise<StepOutcome<T>> {
    try {
      return { ok: true, value: await fn() };
    } catch (err) {
      const failure: FailedStep = {
        phase,
        step,
        reason: reasonOf(err),
        atMs: Math.round(this.#clock() - this.#t0),
      };
      this.failed.push(failure);
      this.#onFailure?.(failure);
      return { ok: false, failure };
    }
  }

  /** Runs a whole phase; `undefined` (and a recorded failure) if it threw outside its steps. */
  async phase<T>(phase: string, fn: () => Promise<T>): Promise<T | undefined> {
    const r = await this.step(phase, '(phase)', fn);
    return r.ok ? r.value : undefined;
  }

  failuresOf(phase: string): FailedStep[] {
    return this.failed.filter((f) => f.phase === phase);
  }
}
