/**
 * Session events on the `session-events` topic. Both the dispatcher (ready, failed) and the agent
 * (started, completed, escalation) publish them through this boundary.
 */
import type { PubSub, Topic } from '@google-cloud/pubsub';
import { SessionEvent } from './schema.ts';

export interface SessionEventPublisher {
  /** Resolves when the event is accepted by the broker. Validates before sending. */
  publish(event: SessionEvent): Promise<void>;
}

export class PubSubEventPublisher implements SessionEventPublisher {
  private readonly topic: Topic;

  constructor(pubsub: PubSub, topicName: string) {
    // No batching delay: events drive other systems (escalations page a nurse).
    this.topic = pubsub.topic(topicName, { batching: { maxMessages: 1, maxMilliseconds: 0 } });
  }

  async publish(event: SessionEvent): Promise<void> {
    const valid = SessionEvent.parse(event);
    await this.topic.publishMessage({
      json: valid,
      attributes: { type: valid.type, sessionId: valid.sessionId },
    });
  }
}

/** In-memory twin for unit tests: records what was published, can be told to fail. */
export class MemoryEventPublisher implements SessionEventPublisher {
  readonly published: SessionEvent[] = [];
  failNext = 0;

  async publish(event: SessionEvent): Promise<void> {
    const valid = SessionEvent.parse(event);
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('injected publish failure');
    }
    this.published.push(valid);
  }
}
