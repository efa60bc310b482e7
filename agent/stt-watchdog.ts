/**
 * The recogniser watchdog: the VAD (local, always working) heard the patient speak, and the
 * recogniser said nothing about it, not even an interim result, for `timeoutMs` after the
 * speech ended. The recogniser is then deaf (a dropped socket the plugin missed, or one open
 * and silent): `onDeaf` reconnects it and asks the patient to repeat.
 *
 * Speech shorter than `minSpeechMs` is left alone: a cough or a door the VAD took for speech
 * legitimately gets no transcript. Once fired, the watchdog waits for the next speech.
 */

export interface SttWatchdogOptions {
  /** After the end of speech with nothing recognised. 0 disables the watchdog. */
  timeoutMs: number;
  /** @defaultValue 300 */
  minSpeechMs?: number;
  onDeaf: (info: { speechMs: number; silentForMs: number }) => void;
  /** @defaultValue performance.now */
  now?: () => number;
  /** @defaultValue setTimeout/clearTimeout */
  timers?: {
    set: (fn: () => void, ms: number) => unknown;
    clear: (handle: unknown) => void;
  };
}

const systemTimers = {
  set: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clear: (h: unknown): void => clearTimeout(h as NodeJS.Timeout),
};

export class SttWatchdog {
  readonly #o: Required<Omit<SttWatchdogOptions, 'timers' | 'now'>>;
  readonly #now: () => number;
  readonly #timers: NonNullable<SttWatchdogOptions['timers']>;
  #speechStartedAt: number | undefined;
  #heard = false;
  #timer: unknown;
  #stopped = false;
  /** Times the watchdog fired. */
  fired = 0;

  constructor(opts: SttWatchdogOptions) {
    if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs < 0) {
      throw new RangeError('SttWatchdog timeoutMs must be ≥ 0');
    }
    this.#o = { minSpeechMs: 300, ...opts };
    this.#now = opts.now ?? (() => performance.now());
    this.#timers = opts.timers ?? systemTimers;
  }

  /** The VAD's view of the patient: `speaking` starts a segment, anything else after it ends it. */
  userState(state: string): void {
    if (this.#stopped || this.#o.timeoutMs === 0) return;
    if (state === 'speaking') {
      if (this.#speechStartedAt === undefined) {
        this.#speechStartedAt = this.#now();
        this.#heard = false;
      }
      this.#disarm();
      return;
    }
    const started = this.#speechStartedAt;
    if (started === undefined) return;
    this.#speechStartedAt = undefined;
    const speechMs = this.#now() - started;
    if (this.#heard || speechMs < this.#o.minSpeechMs) return;
    const endedAt = this.#now();
    this.#disarm();
    this.#timer = this.#timers.set(() => {
      this.#timer = undefined;
      if (this.#heard || this.#stopped) return;
      this.fired += 1;
      this.#o.onDeaf({ speechMs, silentForMs: this.#now() - endedAt });
    }, this.#o.timeoutMs);
  }

  /** Any transcript, interim or final: the recogniser is alive. */
  transcript(): void {
    this.#heard = true;
    this.#disarm();
  }

  stop(): void {
    this.#stopped = true;
    this.#disarm();
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#timers.clear(this.#timer);
    this.#timer = undefined;
  }
}
