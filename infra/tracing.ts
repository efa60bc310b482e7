/**
 * Tracing, set up in one place for every service: a tracer provider named after the service
 * (`api`, `dispatcher`, `agent-worker`, `agent-job`), the allow-list redaction of
 * trace-redaction.ts, OTLP/HTTP export in batches, W3C trace-context propagation, and a flush
 * the service's stop path awaits.
 *
 * A call's trace crosses three carriers: HTTP headers into the API, Pub/Sub message attributes
 * (`traceparent`/`tracestate`) to the dispatcher, and the LiveKit job metadata (`trace`) to the
 * agent. The helpers below read and write those carriers; each one returns at once, doing
 * nothing, while tracing is off (no endpoint configured), so an untraced deployment pays for a
 * boolean test. Nothing here ever throws into a call: export failures are logged at debug.
 */
import {
  context,
  diag,
  DiagLogLevel,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanOptions,
  type TextMapGetter,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { setGlobalErrorHandler, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';
import type {
  ReadableSpan,
  Span as SdkSpan,
  SpanExporter,
  SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { withTimeout } from './time.ts';
import { RedactingSpanProcessor } from './trace-redaction.ts';

export type TracedService = 'api' | 'dispatcher' | 'agent-worker' | 'agent-job';

/** W3C trace context as strings: message attributes, headers, the job metadata's `trace`. */
export type TraceCarrier = Record<string, string>;

export interface TracingOptions {
  service: TracedService;
  cfg: Config['tracing'];
  logger: Logger;
  /**
   * Export to this instead of OTLP, span by span (tests: an in-memory exporter). Tracing is on
   * when this or `cfg.endpoint` is given.
   */
  exporter?: SpanExporter;
}

export interface Tracing {
  readonly enabled: boolean;
  /** The service's provider; undefined while tracing is off. */
  readonly provider: TracerProvider | undefined;
  /**
   * Adds a processor after construction (SDK 2.x providers take theirs only when built): the
   * framework's own PII filter registers here. It runs after our redaction.
   */
  registerSpanProcessor(processor: SpanProcessor): void;
  /** Exports what has ended so far; never rejects. */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes and stops exporting; never rejects. */
  shutdown(timeoutMs?: number): Promise<void>;
}

const DEFAULT_FLUSH_MS = 2000;

const OFF: Tracing = Object.freeze({
  enabled: false,
  provider: undefined,
  registerSpanProcessor: () => undefined,
  flush: async () => undefined,
  shutdown: async () => undefined,
});

let current: Tracing | undefined;

/** Whether this process exports traces. The helpers below check it first. */
export function tracingEnabled(): boolean {
  return current?.enabled === true;
}

/**
 * Sets up tracing for this process once (the global provider can be registered only once);
 * later calls return the first result. Off, it registers nothing and returns a no-op handle.
 */
export function startTracing(opts: TracingOptions): Tracing {
  if (current) return current;
  const { cfg, logger } = opts;
  if (!opts.exporter && !cfg.endpoint) {
    current = OFF;
    return current;
  }
  const log = logger.child({ component: 'tracing' });
  // Exporter trouble (collector down, timeouts) is the SDK's to report; it must never reach a
  // call, and at more than debug it would flood the logs of a service whose collector is away.
  diag.setLogger(
    {
      error: (message) => log.debug({ diag: 'error', detail: message }, 'opentelemetry'),
      warn: (message) => log.debug({ diag: 'warn', detail: message }, 'opentelemetry'),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  setGlobalErrorHandler((err) => log.debug({ err }, 'trace export failed'));

  const exporter =
    opts.exporter ??
    new OTLPTraceExporter({
      url: `${cfg.endpoint}/v1/traces`,
      timeoutMillis: cfg.exportTimeoutMs,
    });
  const exporting: SpanProcessor = opts.exporter
    ? new SimpleSpanProcessor(exporter)
    : new BatchSpanProcessor(exporter, {
        scheduledDelayMillis: cfg.exportDelayMs,
        exportTimeoutMillis: cfg.exportTimeoutMs,
      });
  const late = new LateSpanProcessors();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.service }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sampleRatio) }),
    // Redaction first: every onEnding runs before any onEnd, where the exporter is fed.
    spanProcessors: [new RedactingSpanProcessor(), late, exporting],
  });
  // The async-local-storage context manager, and W3C trace context only: baggage would carry
  // whatever a caller put in it across every hop.
  provider.register({ propagator: new W3CTraceContextPropagator() });

  const settle = async (what: string, op: Promise<unknown>, timeoutMs: number) => {
    await withTimeout(op, timeoutMs, what).catch((err: unknown) =>
      log.debug({ err }, `trace ${what} failed`),
    );
  };
  current = {
    enabled: true,
    provider,
    registerSpanProcessor: (p) => late.add(p),
    flush: (timeoutMs = DEFAULT_FLUSH_MS) => settle('flush', provider.forceFlush(), timeoutMs),
    shutdown: (timeoutMs = DEFAULT_FLUSH_MS) => settle('shutdown', provider.shutdown(), timeoutMs),
  };
  log.info({ service: opts.service, sampleRatio: cfg.sampleRatio }, 'tracing on');
  return current;
}

/** The process's tracing handle: what {@link startTracing} set up, else off. */
export function currentTracing(): Tracing {
  return current ?? OFF;
}

/** Processors added after the provider was built; SDK 2.x providers take theirs only then. */
class LateSpanProcessors implements SpanProcessor {
  readonly #processors: SpanProcessor[] = [];

  add(processor: SpanProcessor): void {
    this.#processors.push(processor);
  }

  onStart(span: SdkSpan, parent: Context): void {
    for (const p of this.#processors) p.onStart(span, parent);
  }

  onEnding(span: SdkSpan): void {
    for (const p of this.#processors) p.onEnding?.(span);
  }

  onEnd(span: ReadableSpan): void {
    for (const p of this.#processors) p.onEnd(span);
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.#processors.map((p) => p.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.#processors.map((p) => p.shutdown()));
  }
}

type Carrier = Readonly<Record<string, unknown>>;

const carrierGetter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    if (typeof value === 'string') return value;
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
    return undefined;
  },
};

/** The current trace context as strings to carry along (empty while tracing is off). */
export function traceCarrier(ctx: Context = context.active()): TraceCarrier {
  if (!tracingEnabled()) return {};
  const carrier: TraceCarrier = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/**
 * The context a carrier names as parent (message attributes, request headers, job metadata),
 * on top of `base`. Unset, malformed or while tracing is off: `base` unchanged.
 */
export function contextFrom(carrier: Carrier | undefined, base: Context = ROOT_CONTEXT): Context {
  if (!carrier || !tracingEnabled()) return base;
  return propagation.extract(base, carrier, carrierGetter);
}

export interface TracedSpanOptions {
  kind?: SpanKind;
  /** Only names on the redaction allow-list survive export. */
  attributes?: Attributes;
  /** @defaultValue the active context */
  parent?: Context;
}

/** What a failure is called on its span: a stable code or class name, never the message. */
function errorType(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code) return code;
  return err instanceof Error ? err.name : 'unknown';
}

/** Spans of one component (`voicecare.<component>` as instrumentation scope). */
export interface ComponentTracer {
  /**
   * Runs `fn` inside a new active span, ending it when `fn` settles; a rejection marks it failed
   * with the error's code (never its message) and is rethrown. Off: runs `fn` with no span.
   */
  span<T>(
    name: string,
    fn: (span: Span | undefined) => Promise<T>,
    opts?: TracedSpanOptions,
  ): Promise<T>;
  /** Starts a span the caller ends. Off: undefined. */
  start(name: string, opts?: TracedSpanOptions): Span | undefined;
  /**
   * A Pub/Sub publish: a producer span `publish <destination>` around `fn`, which gets the
   * carrier to put in the message attributes. Off: `fn({})`.
   */
  publish<T>(
    destination: string,
    fn: (carrier: TraceCarrier) => Promise<T>,
    attributes?: Attributes,
  ): Promise<T>;
}

export function tracerFor(component: string): ComponentTracer {
  const scope = `voicecare.${component}`;
  // Looked up per span (the provider caches tracers by name): a proxy tracer taken at import
  // would stay bound to the first provider it saw.
  const tracer = (): Tracer => trace.getTracer(scope);
  const options = (opts: TracedSpanOptions): SpanOptions => ({
    kind: opts.kind ?? SpanKind.INTERNAL,
    ...(opts.attributes ? { attributes: opts.attributes } : {}),
  });
  const span: ComponentTracer['span'] = (name, fn, opts = {}) => {
    if (!tracingEnabled()) return fn(undefined);
    return tracer().startActiveSpan(
      name,
      options(opts),
      opts.parent ?? context.active(),
      async (s: Span) => {
        try {
          return await fn(s);
        } catch (err) {
          s.setAttribute('error.type', errorType(err));
          s.setStatus({ code: SpanStatusCode.ERROR });
          throw err;
        } finally {
          s.end();
        }
      },
    );
  };
  return {
    span,
    start: (name, opts = {}) =>
      tracingEnabled()
        ? tracer().startSpan(name, options(opts), opts.parent ?? context.active())
        : undefined,
    publish: (destination, fn, attributes = {}) => {
      if (!tracingEnabled()) return fn({});
      return span(`publish ${destination}`, () => fn(traceCarrier()), {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'gcp_pubsub',
          'messaging.operation.type': 'send',
          'messaging.destination.name': destination,
          ...attributes,
        },
      });
    },
  };
}

/** Runs `fn` with `span` as the active span (or as it is, without one). */
export function runInSpan<T>(span: Span | undefined, fn: () => T): T {
  return span ? context.with(trace.setSpan(context.active(), span), fn) : fn();
}

/** `fn`, bound to the context active now: for callbacks a library calls from its own. */
export function bindActive<F extends (...args: never[]) => unknown>(fn: F): F {
  return tracingEnabled() ? context.bind(context.active(), fn) : fn;
}

/** Marks a span failed with a code (never a message); a no-op without a span. */
export function markFailed(span: Span | undefined, code: string): void {
  span?.setAttribute('error.type', code);
  span?.setStatus({ code: SpanStatusCode.ERROR });
}

/**
 * A provider whose root spans take `parentOf()` as their parent: for a library that starts its
 * top span before our code runs (the agent framework's `job_entrypoint`), in a context only it
 * knows. Spans that already have a parent are left alone.
 */
export function withFallbackParent(
  provider: TracerProvider,
  parentOf: () => Context | undefined,
): TracerProvider {
  const choose = (ctx: Context): Context => (trace.getSpanContext(ctx) ? ctx : (parentOf() ?? ctx));
  return {
    getTracer(name, version, options) {
      const inner = provider.getTracer(name, version, options);
      const tracer: Tracer = {
        startSpan: (spanName, opts, ctx) =>
          inner.startSpan(spanName, opts, choose(ctx ?? context.active())),
        startActiveSpan: ((spanName: string, ...rest: unknown[]) => {
          const fn = rest.pop() as (span: Span) => unknown;
          const opts = (rest[0] as SpanOptions | undefined) ?? {};
          const ctx = (rest[1] as Context | undefined) ?? context.active();
          return inner.startActiveSpan(spanName, opts, choose(ctx), fn);
        }) as Tracer['startActiveSpan'],
      };
      return tracer;
    },
  };
}

/** Test support: forget the process's tracing so a test can start it again. */
export function resetTracingForTests(): void {
  current = undefined;
  trace.disable();
  propagation.disable();
  context.disable();
}
