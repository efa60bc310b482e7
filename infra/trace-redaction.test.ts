import { telemetry } from '@livekit/agents';
import { SpanStatusCode } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isAllowedAttribute,
  RedactingSpanProcessor,
  REDACTED_STATUS_MESSAGE,
} from './trace-redaction.ts';

const SENTINEL = 'Ann Example says her chest hurts, call 555-0100';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  spanProcessors: [new RedactingSpanProcessor(), new SimpleSpanProcessor(exporter)],
});
const tracer = provider.getTracer('test');

afterEach(() => exporter.reset());

describe('the span redaction allow-list', () => {
  it('drops the content attributes the framework sets, and keeps ids, timings and models', () => {
    const span = tracer.startSpan('llm_node');
    span.setAttributes({
      'lk.pii.user_input': SENTINEL,
      'lk.pii.chat_ctx': JSON.stringify([{ role: 'user', content: SENTINEL }]),
      'lk.pii.response.text': SENTINEL,
      'lk.pii.function_tool.arguments': SENTINEL,
      'lk.pii.room_name': 'session-ses_1-1',
      'gen_ai.input.messages': SENTINEL,
      'gen_ai.output.messages': SENTINEL,
      'gen_ai.system_instructions': SENTINEL,
      'gen_ai.prompt.variable.name': SENTINEL,
      'exception.message': SENTINEL,
      'exception.stacktrace': SENTINEL,
      'some.future.attribute': SENTINEL,
      'lk.speech_id': 'speech_1',
      'lk.response.ttft': 0.21,
      'gen_ai.request.model': 'gpt-4.1-mini',
      'gen_ai.usage.input_tokens': 120,
      'voicecare.session.id': 'ses_1',
    });
    span.end();
    const [out] = exporter.getFinishedSpans();
    expect(out?.attributes).toEqual({
      'lk.speech_id': 'speech_1',
      'lk.response.ttft': 0.21,
      'gen_ai.request.model': 'gpt-4.1-mini',
      'gen_ai.usage.input_tokens': 120,
      'voicecare.session.id': 'ses_1',
    });
  });

  it('filters event and link attributes and replaces an error message', () => {
    const linked = tracer.startSpan('linked');
    const span = tracer.startSpan('agent_turn', {
      links: [{ context: linked.spanContext(), attributes: { note: SENTINEL, 'lk.job_id': 'j1' } }],
    });
    span.addEvent('gen_ai.user.message', { content: SENTINEL, 'lk.speech_id': 's1' });
    span.recordException(new Error(SENTINEL));
    span.setStatus({ code: SpanStatusCode.ERROR, message: SENTINEL });
    span.end();
    linked.end();
    const out = exporter.getFinishedSpans().find((s) => s.name === 'agent_turn');
    expect(out?.events.map((e) => e.attributes)).toEqual([
      { 'lk.speech_id': 's1' },
      { 'exception.type': 'Error' },
    ]);
    expect(out?.links[0]?.attributes).toEqual({ 'lk.job_id': 'j1' });
    expect(out?.status).toEqual({ code: SpanStatusCode.ERROR, message: REDACTED_STATUS_MESSAGE });
    expect(JSON.stringify(out?.attributes)).not.toContain('chest');
  });

  it('lets none of the framework attributes that carry content through', () => {
    const names = Object.entries(telemetry.traceTypes)
      .filter(([k, v]) => k.startsWith('ATTR_') && typeof v === 'string')
      .map(([, v]) => v as string);
    expect(names.length).toBeGreaterThan(50);
    const content = names.filter(
      (n) =>
        /(^|\.)pii(\.|$)/.test(n) ||
        /^gen_ai\.(input|output\.messages|system_instructions|tool\.call\.(arguments|result)|tool\.(description|definitions)|retrieval|memory|evaluation|prompt)/.test(
          n,
        ) ||
        n.startsWith('exception.message') ||
        n.startsWith('exception.stacktrace') ||
        n === 'lk.session_options',
    );
    expect(content).toContain('lk.pii.user_input');
    expect(content).toContain('gen_ai.input.messages');
    expect(content.filter(isAllowedAttribute)).toEqual([]);
  });
});
