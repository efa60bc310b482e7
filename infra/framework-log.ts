/**
 * The framework's own logger, made safe for health data.
 *
 * `@livekit/agents` logs through one process-wide pino logger that it (re)creates itself: in the
 * worker's main process when `cli.runApp` starts, in every job process when the worker sends it
 * its first message, and again as a child per job. That logger writes patient words at `info`
 * and `warn` ("starting preemptive generation" with the transcript, "playout completed with
 * interrupt" with the agent's text, skipped user input, tool arguments and outputs, participant
 * identities) and, from the worker, the job with its metadata (our session request: the patient's
 * reference and display name). Our own logger's redaction never sees any of it.
 *
 * The framework marks such fields with a `pii` segment in the key (`lk.pii.user_input`,
 * `lk.pii.participant_identity`, ...). {@link installFrameworkLogScrubber} takes over the slot the
 * framework keeps its logger in (a `Symbol.for` key on `globalThis`, shared by every copy of the
 * package): whatever logger the framework puts there is replaced by a child of ours with the
 * same level and bindings, whose formatters drop every `pii` field and every field that carries
 * a job, its metadata or free text. Nothing in node_modules is changed, and the framework keeps
 * choosing its levels (`ServerOptions.logLevel`).
 *
 * Call it before the framework creates its logger: at the top of the worker module, which the
 * main process runs first and every job process imports before its first message.
 */
import { pino, type Logger } from 'pino';
import { createLogger, SEVERITY } from './logger.ts';

const FRAMEWORK_LOGGER = Symbol.for('@livekit/agents:logger');
const INSTALLED = Symbol.for('voicecare:framework-log-scrubber');

/** A key naming personal data by the framework's convention: a `pii` segment. */
const PII_KEY = /(^|[._-])pii([._-]|$)/i;
/**
 * Keys the framework (or a plugin) fills with a job, its metadata or spoken/typed text without
 * the `pii` marker. Dropped whole: a framework log line needs none of them to be useful.
 */
const TEXT_KEYS = new Set([
  'job',
  'req',
  'request',
  'metadata',
  'participant',
  'participantIdentity',
  'identity',
  'name',
  'transcript',
  'text',
  'userInput',
  'user_input',
  'instructions',
  'chatCtx',
  'chat_ctx',
  'content',
  'args',
  'arguments',
  'toolCall',
  'output',
  'ws_data',
]);
const REDACTED = '[redacted]';

/** A copy of a log object without personal data, one level deep (where the framework puts it). */
export function scrubFields(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (PII_KEY.test(key) || TEXT_KEYS.has(key)) {
      out[key] = REDACTED;
    } else if (
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      !(value instanceof Error)
    ) {
      const inner: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        inner[k] = PII_KEY.test(k) || TEXT_KEYS.has(k) ? REDACTED : v;
      }
      out[key] = inner;
    } else {
      out[key] = value;
    }
  }
  return out;
}

export interface FrameworkLogOptions {
  service: string;
  /** Keep the framework's `pii` fields (local debugging with synthetic data only). @defaultValue false */
  logPii?: boolean;
  /** Where lines go. @defaultValue stdout, as the framework's own logger */
  destination?: pino.DestinationStream;
}

interface Slot {
  [FRAMEWORK_LOGGER]?: Logger;
  [INSTALLED]?: boolean;
}

/**
 * Builds the logger the framework gets in place of its own: ours (JSON, Cloud Logging severity),
 * with the framework's personal-data fields dropped from every line and every child binding.
 */
export function frameworkLogger(level: string, opts: FrameworkLogOptions): Logger {
  if (opts.logPii)
    return createLogger({ level, service: opts.service, logPii: true }, opts.destination);
  const root = pino(
    {
      level,
      base: { service: opts.service, source: 'livekit-agents' },
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label, number) => ({ severity: SEVERITY[label] ?? 'DEFAULT', level: number }),
        log: (o) => scrubFields(o),
      },
      redact: { paths: ['pii', '*.pii'], censor: REDACTED },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      hooks: {
        // `logger.warn('text: %s', value)`: the interpolated values may be anything; keep the
        // static text only.
        logMethod(args, method) {
          const [first, second] = args as unknown[];
          if (typeof first === 'string')
            return method.apply(this, [first.replace(/%[sdOoj]/g, '…')]);
          if (typeof second === 'string') {
            return method.apply(this, [first as object, second.replace(/%[sdOoj]/g, '…')]);
          }
          return method.apply(this, args);
        },
      },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
  // pino applies no formatter to a child's bindings (`child({ job })` is how the worker logs a
  // job with its metadata), so they are scrubbed on the way in. Children are created with
  // Object.create(parent), so they inherit this override and call it with themselves as `this`.
  const pinoChild = root.child;
  root.child = function scrubbedChild(this: Logger, bindings, options) {
    return pinoChild.call(this, scrubFields(bindings), options);
  } as Logger['child'];
  return root;
}

/**
 * From now on, every logger the framework installs in this process is swapped for a scrubbing
 * one with the same level and bindings. Idempotent.
 */
export function installFrameworkLogScrubber(opts: FrameworkLogOptions): void {
  const slot = globalThis as typeof globalThis & Slot;
  if (slot[INSTALLED]) return;
  slot[INSTALLED] = true;
  let root: Logger | undefined;
  let current: Logger | undefined = slot[FRAMEWORK_LOGGER];
  const adopt = (theirs: Logger | undefined): Logger | undefined => {
    if (!theirs) return theirs;
    root ??= frameworkLogger(theirs.level, opts);
    // A logger the framework derived from one of ours already carries our base fields.
    const { service: _service, source: _source, ...bindings } = theirs.bindings();
    const child = root.child(bindings);
    child.level = theirs.level;
    return child;
  };
  current = adopt(current);
  Object.defineProperty(slot, FRAMEWORK_LOGGER, {
    configurable: true,
    get: () => current,
    set: (theirs: Logger | undefined) => {
      current = adopt(theirs);
    },
  });
}
