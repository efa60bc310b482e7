/**
 * Session events on the `session-events` topic. The dispatcher (ready, failed, rejected, and the
 * reaper's interrupted and failed) and the agent
 * (started, completed, failed, escalation) publish them through this one boundary. Events are
 * validated before they leave.
 */
import type { Topic } from '@google-cloud/pubsub';
import { TransientError } from '../infra/errors.ts';
import { withTimeout } from '../infra/time.ts';
import { tracerFor } from '../infra/tracing.ts';
import { SessionEvent } from './schema.ts';

const eventsTracer = tracerFor('session-events');

export interface SessionEventPublisher {
  /** Resolves once the broker has accepted the event, with its message id where it gives one. */
  publish(event: SessionEvent): Promise<string | void>;
}

export interface PubSubEventPublisherOptions {
  /** The `session-events` topic. */
  topic: Topic;
  /**
   * The client retries internally for up to a minute; callers should not wait that long.
   * @defaultValue 10_000
   */
  timeoutMs?: number;
  /**
   * Also end the client's own retries at `timeoutMs`. Without this a publish we stopped waiting
   * for can still land up to a minute later; callers that retry on their own (the escalation
   * outbox) would then send one copy per timed-out attempt.
   * @defaultValue false
   */
  boundClientRetries?: boolean;
}

export class PubSubEventPublisher implements SessionEventPublisher {
  readonly #topic: Topic;
  readonly #timeoutMs: number;

  constructor(opts: PubSubEventPublisherOptions) {
    // No batching delay: events drive other systems (an escalation pages a nurse).
    const timeoutMs = opts.timeoutMs ?? 10_000;
    opts.topic.setPublishOptions({
      batching: { maxMessages: 1, maxMilliseconds: 0 },
      // gax caps the whole call, retries included, at `timeout` when the method retries.
      ...(opts.boundClientRetries ? { gaxOpts: { timeout: timeoutMs } } : {}),
    });
    this.#topic = opts.topic;
    this.#timeoutMs = timeoutMs;
  }

  /** Resolves with Pub/Sub's message id once the broker has accepted the event. */
  async publish(event: SessionEvent): Promise<string> {
    const valid = SessionEvent.parse(event);
    // Escalations carry their idempotency key as an attribute, so consumers de-duplicate the
    // copies the outbox may send without parsing the body.
    const attributes: Record<string, string> = { type: valid.type };
    if (valid.sessionId !== undefined) attributes['sessionId'] = valid.sessionId;
    if (valid.type === 'session.escalation') attributes['escalationId'] = valid.escalationId;
    // A rejection may have no readable sessionId; its message id is the handle.
    if (valid.type === 'session.rejected') attributes['messageId'] = valid.messageId;
    try {
      // Carries the current trace (the placement, the agent's session) to the consumers.
      return await eventsTracer.publish(
        'session-events',
        (trace) =>
          withTimeout(
            this.#topic.publishMessage({ json: valid, attributes: { ...trace, ...attributes } }),
            this.#timeoutMs,
            `publishing ${valid.type}`,
            () => new TransientError('events_timeout', `publishing ${valid.type} timed out`),
          ),
        { 'voicecare.event.type': valid.type },
      );
    } catch (err) {
      if (err instanceof TransientError) throw err;
      throw new TransientError('events_unavailable', `publishing ${valid.type} failed`, err);
    }
  }
}
