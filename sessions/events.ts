/**
 * Session events on the `session-events` topic. The dispatcher (ready, failed) and the agent
 * (started, completed, failed, escalation) publish them through this one boundary. Events are
 * validated before they leave.
 */
import type { Topic } from '@google-cloud/pubsub';
import { TransientError } from '../infra/errors.ts';
import { withTimeout } from '../infra/time.ts';
import { SessionEvent } from './schema.ts';

export interface SessionEventPublisher {
  /** Resolves once the broker has accepted the event. */
  publish(event: SessionEvent): Promise<void>;
}

export interface PubSubEventPublisherOptions {
  /** The `session-events` topic. */
  topic: Topic;
  /**
   * The client retries internally for up to a minute; callers should not wait that long.
   * @defaultValue 10_000
   */
  timeoutMs?: number;
}

export class PubSubEventPublisher implements SessionEventPublisher {
  readonly #topic: Topic;
  readonly #timeoutMs: number;

  constructor(opts: PubSubEventPublisherOptions) {
    // No batching delay: events drive other systems (an escalation pages a nurse).
    opts.topic.setPublishOptions({ batching: { maxMessages: 1, maxMilliseconds: 0 } });
    this.#topic = opts.topic;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async publish(event: SessionEvent): Promise<void> {
    const valid = SessionEvent.parse(event);
    try {
      await withTimeout(
        this.#topic.publishMessage({
          json: valid,
          attributes: { type: valid.type, sessionId: valid.sessionId },
        }),
        this.#timeoutMs,
        `publishing ${valid.type}`,
        () => new TransientError('events_timeout', `publishing ${valid.type} timed out`),
      );
    } catch (err) {
      if (err instanceof TransientError) throw err;
      throw new TransientError('events_unavailable', `publishing ${valid.type} failed`, err);
    }
  }
}
