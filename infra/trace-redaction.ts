/**
 * What a span may carry out of the process: an allow-list, applied to every span before any
 * exporter sees it. The framework's spans hold what the patient said (`lk.pii.user_input`,
 * `lk.pii.user_transcript`), what the agent said (`lk.pii.response.text`, `lk.pii.input_text`),
 * the prompt and chat context, tool arguments, room names and participant identities; the GenAI
 * conventions add `gen_ai.input.messages` and friends; exception messages and stacks can quote
 * any of it. A deny-list misses the next attribute a framework release adds, so only names known
 * to hold ids, timings, model names, counts and status pass; everything else is dropped.
 *
 * It runs in `onEnding`, which the SDK calls on every processor while the span is still mutable
 * and before any processor's `onEnd` (where exporters are fed), so registration order does not
 * matter.
 */
import {
  SpanStatusCode,
  type AttributeValue,
  type Attributes,
  type Context,
} from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** Exact attribute names that may leave the process. */
export const ALLOWED_ATTRIBUTES: ReadonlySet<string> = new Set([
  // ours (infra/tracing.ts and its callers): ids and outcomes, never request content
  'voicecare.session.id',
  'voicecare.attempt',
  'voicecare.outcome',
  'voicecare.code',
  'voicecare.event.type',
  'voicecare.profile.id',
  'voicecare.profile.version',
  'voicecare.dispatch.reused',
  'voicecare.agents_joined',
  'error.type',
  'exception.type',
  // HTTP and messaging semantic conventions: the route pattern, never the URL
  'http.request.method',
  'http.route',
  'http.response.status_code',
  'messaging.system',
  'messaging.operation.type',
  'messaging.operation.name',
  'messaging.destination.name',
  'messaging.destination.subscription.name',
  'messaging.message.id',
  'messaging.gcp_pubsub.message.delivery_attempt',
  // @livekit/agents: ids, labels, timings, flags
  'lk.speech_id',
  'lk.agent_label',
  'lk.start_time',
  'lk.end_time',
  'lk.retry_count',
  'lk.provider_request_ids',
  'lk.participant_id',
  'lk.participant_kind',
  'lk.job_id',
  'lk.agent_name',
  'lk.generation_id',
  'lk.parent_generation_id',
  'lk.interrupted',
  'lk.function_tools',
  'lk.response.ttft',
  'lk.response.ttfb',
  'lk.function_tool.id',
  'lk.function_tool.name',
  'lk.function_tool.is_error',
  'lk.tts.streaming',
  'lk.tts.label',
  'lk.transcript_confidence',
  'lk.transcription_delay',
  'lk.end_of_turn_delay',
  'lk.e2e_latency',
  'lk.eou.probability',
  'lk.eou.unlikely_threshold',
  'lk.eou.endpointing_delay',
  'lk.eou.language',
  'lk.eou.source',
  'lk.eou.from_cache',
  'lk.eou.detection_delay',
  'lk.is_interruption',
  'lk.interruption.probability',
  'lk.interruption.total_duration',
  'lk.interruption.prediction_duration',
  'lk.interruption.detection_delay',
  'lk.blocking.duration',
  'lk.blocking.threshold',
  'lk.blocking.severity',
  'lk.blocking.cause',
  'lk.blocking.gc_time',
  'lk.blocking.cpu_time',
  'lk.blocking.suppressed',
  'lk.blocking.count',
  'lk.blocking.total_duration',
  'lk.blocking.max_duration',
  // GenAI conventions: operation, provider, model, ids, finish reasons, token counts
  'gen_ai.operation.name',
  'gen_ai.provider.name',
  'gen_ai.request.model',
  'gen_ai.request.stream',
  'gen_ai.response.id',
  'gen_ai.response.model',
  'gen_ai.response.finish_reasons',
  'gen_ai.response.time_to_first_chunk',
  'gen_ai.agent.name',
  'gen_ai.workflow.name',
  'gen_ai.tool.name',
  'gen_ai.tool.call.id',
  'gen_ai.tool.type',
  'gen_ai.output.type',
]);

/** Families of counters: every `gen_ai.usage.*` value is a token count. */
const ALLOWED_PREFIXES: readonly string[] = ['gen_ai.usage.'];

/** What stands in for a status message (exception text can quote the patient). */
export const REDACTED_STATUS_MESSAGE = 'redacted';

export function isAllowedAttribute(key: string): boolean {
  return ALLOWED_ATTRIBUTES.has(key) || ALLOWED_PREFIXES.some((p) => key.startsWith(p));
}

/** Removes every attribute not on the allow-list, in place. */
function keepAllowed(attributes: Attributes | undefined): void {
  if (!attributes) return;
  for (const key of Object.keys(attributes)) {
    if (!isAllowedAttribute(key)) delete attributes[key];
  }
}

/** Allowed attributes only, as a new object (for values read before a span exists). */
export function allowedAttributes(
  attributes: Record<string, AttributeValue | undefined>,
): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined && isAllowedAttribute(key)) out[key] = value;
  }
  return out;
}

export class RedactingSpanProcessor implements SpanProcessor {
  onStart(_span: Span, _parentContext: Context): void {}

  onEnding(span: Span): void {
    keepAllowed(span.attributes);
    for (const event of span.events) keepAllowed(event.attributes);
    for (const link of span.links) keepAllowed(link.attributes);
    // Only an ERROR status keeps a message (the SDK drops it for the others).
    if (span.status.code === SpanStatusCode.ERROR && span.status.message) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: REDACTED_STATUS_MESSAGE });
    }
  }

  onEnd(_span: ReadableSpan): void {}

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}
