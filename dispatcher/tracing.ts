/**
 * The dispatcher's spans. One delivery is a consumer span `process session-requests`, parented
 * on the publisher's span through the message's `traceparent`/`tracestate` attributes; its
 * steps (lease, placement, room, dispatch, the wait for the agent) are children, and the
 * dispatch span's context goes into the job metadata for the agent to continue.
 */
import { SpanKind } from '@opentelemetry/api';
import { contextFrom, tracerFor, tracingEnabled } from '../infra/tracing.ts';
import type { Settlement } from './delivery.ts';
import type { InboundMessage } from './source.ts';

export const dispatcherTracer = tracerFor('dispatcher');

/** Runs one delivery inside its consumer span, which records how it was settled. */
export function traceDelivery(
  msg: InboundMessage,
  run: () => Promise<Settlement>,
): Promise<Settlement> {
  if (!tracingEnabled()) return run();
  return dispatcherTracer.span(
    'process session-requests',
    async (span) => {
      const settled = await run();
      span?.setAttributes({
        'voicecare.outcome': settled.outcome,
        ...(settled.code ? { 'voicecare.code': settled.code } : {}),
        ...(settled.sessionId ? { 'voicecare.session.id': settled.sessionId } : {}),
      });
      return settled;
    },
    {
      kind: SpanKind.CONSUMER,
      parent: contextFrom(msg.attributes),
      attributes: {
        'messaging.system': 'gcp_pubsub',
        'messaging.operation.type': 'process',
        'messaging.message.id': msg.id,
        'messaging.gcp_pubsub.message.delivery_attempt': msg.deliveryAttempt,
      },
    },
  );
}
