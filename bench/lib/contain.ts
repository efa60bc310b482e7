/**
 * A bench run always leaves its results. A phase or a step that throws (a timeout, a worker
 * that died, dropped audio the measuring code cannot get past) is recorded here with why, and
 * the run goes on to write everything measured so far. One place does this for every phase and
 * every step, so no call site has to remember to.
 */

export interface FailedPart {
  /** What failed: `phase latency`, `density ours N=5`. */
  what: string;
  reason: string;
  /** Since the run started. */
  atMs: number;
}

export class Containment {
  readonly failures: FailedPart[] = [];

  constructor(
    private readonly elapsedMs: () => number,
    private readonly say: (line: string) => void,
  ) {}

  /**
   * Runs `fn`; its result, or `undefined` when it threw (recorded, and said, with why).
   * Never throws.
   */
  async run<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.failures.push({ what, reason, atMs: Math.round(this.elapsedMs()) });
      this.say(`FAILED ${what}: ${reason}`);
      return undefined;
    }
  }
}
