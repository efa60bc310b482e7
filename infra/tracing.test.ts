import { SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { ValidationError } from './errors.ts';
import { createLogger } from './logger.ts';
import {
  contextFrom,
  resetTracingForTests,
  startTracing,
  traceCarrier,
  tracerFor,
  tracingEnabled,
  withFallbackParent,
} from './tracing.ts';

const logger = createLogger({ level: 'silent', service: 'test' });
const cfg = loadConfig({}).tracing;
const tracer = tracerFor('test');

afterEach(() => resetTracingForTests());

describe('tracing', () => {
  it('is off without an endpoint, and then the helpers only run what they wrap', async () => {
    expect(cfg.endpoint).toBeUndefined();
    const tracing = startTracing({ service: 'api', cfg, logger });
    expect([tracing.enabled, tracingEnabled()]).toEqual([false, false]);
    expect(await tracer.span('x', async (span) => span)).toBeUndefined();
    expect(await tracer.publish('topic', async (carrier) => carrier)).toEqual({});
    expect(traceCarrier()).toEqual({});
    await tracing.flush();
  });

  it('turns on with an endpoint, and an unreachable collector fails nothing', async () => {
    const on = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9/',
      OTEL_EXPORTER_OTLP_TIMEOUT: '200',
    }).tracing;
    expect(on.endpoint).toBe('http://127.0.0.1:9');
    const tracing = startTracing({ service: 'dispatcher', cfg: on, logger });
    expect(tracing.enabled).toBe(true);
    expect(await tracer.span('x', async () => 42)).toBe(42);
    await tracing.shutdown(1000);
  });

  it('carries a producer span to a consumer through string attributes', async () => {
    const memory = new InMemorySpanExporter();
    startTracing({ service: 'api', cfg, logger, exporter: memory });
    const carrier = await tracer.publish('session-requests', async (c) => c);
    expect(Object.keys(carrier)).toEqual(['traceparent']);
    await tracer.span('consume', async () => undefined, { parent: contextFrom(carrier) });
    const [producer, consumer] = memory.getFinishedSpans();
    expect(producer?.name).toBe('publish session-requests');
    expect(carrier['traceparent']).toContain(producer?.spanContext().spanId);
    expect(consumer?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
    expect(consumer?.spanContext().traceId).toBe(producer?.spanContext().traceId);
  });

  it("marks a failed span with the error's code, never its message", async () => {
    const memory = new InMemorySpanExporter();
    startTracing({ service: 'api', cfg, logger, exporter: memory });
    const failing = tracer.span('fails', async () => {
      throw new ValidationError('bad_thing', 'Ann Example said something');
    });
    await expect(failing).rejects.toBeInstanceOf(ValidationError);
    const [span] = memory.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(span?.attributes).toEqual({ 'error.type': 'bad_thing' });
  });

  it("gives a library's root spans a fallback parent, and leaves spans with a parent alone", async () => {
    const memory = new InMemorySpanExporter();
    const tracing = startTracing({ service: 'agent-job', cfg, logger, exporter: memory });
    const remote = await tracer.publish('dispatch', async (c) => c);
    const wrapped = withFallbackParent(tracing.provider!, () => contextFrom(remote)).getTracer(
      'lib',
    );
    wrapped.startActiveSpan('lib_root', (root) => {
      wrapped.startSpan('lib_child').end();
      root.end();
    });
    const spans = memory.getFinishedSpans();
    const byName = (n: string) => spans.find((s) => s.name === n)!;
    const producer = byName('publish dispatch').spanContext();
    expect(byName('lib_root').parentSpanContext?.spanId).toBe(producer.spanId);
    expect(byName('lib_child').parentSpanContext?.spanId).toBe(
      byName('lib_root').spanContext().spanId,
    );
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
