import { PermanentError } from '../../../infra/errors.ts';

/**
 * A local speech engine (or its model, or a voice) is not installed. Raised when a provider is
 * constructed, never mid-call; the message is one line naming what to install.
 */
export class LocalEngineMissingError extends PermanentError {
  /** The Debian packages that provide what is missing. */
  readonly packages: readonly string[];

  constructor(message: string, packages: readonly string[], cause?: unknown) {
    super('local_engine_missing', message, cause);
    this.packages = packages;
  }
}
