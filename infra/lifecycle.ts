/**
 * How a long-lived service stops: on SIGTERM or SIGINT it runs its own `stop`, then exits 0 when
 * that stop was clean and 1 otherwise. A hard deadline makes sure it never outlives the
 * platform's grace period by much, whatever `stop` does.
 */
import type { Logger } from './logger.ts';

export interface StopOnSignalsOptions {
  logger: Logger;
  /** Resolves with whether everything stopped cleanly. */
  stop: () => Promise<boolean>;
  /** After this, exit 1 regardless. */
  deadlineMs: number;
  /**
   * Runs after `stop`, whatever it returned, before the exit: export what telemetry is still
   * buffered (traces). Must not reject.
   */
  flush?: () => Promise<void>;
}

export function stopOnSignals({ logger, stop, deadlineMs, flush }: StopOnSignalsOptions): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal received; stopping');
    setTimeout(() => process.exit(1), deadlineMs).unref();
    const flushed = async (code: number) => {
      await flush?.().catch(() => undefined);
      process.exit(code);
    };
    stop().then(
      (clean) => flushed(clean ? 0 : 1),
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        return flushed(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
