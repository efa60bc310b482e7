import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/** Cloud Logging understands these `severity` values; pino's numeric levels map onto them. */
export const SEVERITY: Readonly<Record<string, string>> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

export interface LoggerConfig {
  level: string;
  /** Service name stamped on every line (`agent`, `dispatcher`, ...). */
  service: string;
  /**
   * Fields under a `pii` key are redacted unless this is true. Only for local debugging
   * with synthetic data; never in production.
   * @defaultValue false
   */
  logPii?: boolean;
}

/**
 * A JSON logger for Cloud Logging: `severity` and `message` keys, `pii` subtrees redacted.
 * Patient words, names and identifiers must only ever be logged under `pii`.
 */
export function createLogger(cfg: LoggerConfig, destination?: DestinationStream): Logger {
  const opts: LoggerOptions = {
    level: cfg.level,
    base: { service: cfg.service },
    messageKey: 'message',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level(label, number) {
        return { severity: SEVERITY[label] ?? 'DEFAULT', level: number };
      },
    },
    redact: cfg.logPii ? [] : { paths: ['pii', '*.pii'], censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err },
  };
  return destination ? pino(opts, destination) : pino(opts);
}
