/**
 * The project's error hierarchy. Branch on the class or on `retryable`, never on message text.
 */
export interface VoiceCareErrorOptions {
  code: string;
  retryable?: boolean;
  cause?: unknown;
}

export class VoiceCareError extends Error {
  readonly code: string;
  /** True when the same operation may succeed if tried again later. */
  readonly retryable: boolean;

  constructor(message: string, opts: VoiceCareErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.retryable = opts.retryable ?? false;
  }
}

/** Configuration is missing or malformed. Fatal at startup; never retried. */
export class ConfigError extends VoiceCareError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`, { code: 'config_invalid' });
    this.problems = problems;
  }
}

/** Input that crossed a boundary failed validation. Retrying the same input cannot help. */
export class ValidationError extends VoiceCareError {
  readonly issues: readonly string[];
  constructor(code: string, message: string, issues: readonly string[] = [], cause?: unknown) {
    super(message, { code, retryable: false, cause });
    this.issues = issues;
  }
}

/** A dependency was briefly unavailable or too slow; the operation may be retried. */
export class TransientError extends VoiceCareError {
  constructor(code: string, message: string, cause?: unknown) {
    super(message, { code, retryable: true, cause });
  }
}

/** The operation can never succeed for this input (unknown profile, expired deadline, ...). */
export class PermanentError extends VoiceCareError {
  constructor(code: string, message: string, cause?: unknown) {
    super(message, { code, retryable: false, cause });
  }
}

export function isRetryable(err: unknown): boolean {
  return err instanceof VoiceCareError ? err.retryable : false;
}

/** A deadline the caller set passed before the work could be done. Never retried. */
export class DeadlineExpiredError extends PermanentError {
  constructor(message: string) {
    super('deadline_expired', message);
  }
}

/** The placement lease lapsed and may belong to another delivery now: touch nothing, hand back. */
export class LeaseLostError extends TransientError {
  constructor(cause?: unknown) {
    super('lease_lost', 'the placement lease was lost', cause);
  }
}

/** The process is shutting down: hand the work back for someone else to finish. */
export class ShutdownError extends TransientError {
  constructor() {
    super('shutting_down', 'the dispatcher is shutting down');
  }
}

/** Work did not finish within the time it was given. */
export class TimeoutError extends TransientError {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super('timeout', `${what} did not finish within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}
