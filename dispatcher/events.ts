/**
 * Where the dispatcher announces what became of a request: `session.ready` once the agent is in
 * the room, `session.failed` when placement gave up. Events are validated before they leave.
 */
import type { Topic } from '@google-cloud/pubsub';
import { TransientError } from '../infra/errors.ts';
import { SessionEvent } from '../sessions/schema.ts';

export interface SessionEventsPublisher {
  /** Resolves once the broker has accepted the event. */
  publish(event: SessionEvent): Promise<void>;
}

export interface PubSubSessionEventsOptions {
  /** The `session-events` topic. */
  topic: Topic;
  /**
   * The client retries internally for up to a minute; placement should not wait that long.
   * @defaultValue 10_000
   */
  timeoutMs?: number;
}

export class PubSubSessionEvents implements SessionEventsPublisher {
  readonly #topic: Topic;
  readonly #timeoutMs: number;

  constructor(opts: PubSubSessionEventsOptions) {
    this.#topic = opts.topic;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async publish(event: SessionEvent): Promise<void> {
    const valid = SessionEvent.parse(event);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TransientError('events_timeout', `publishing ${valid.type} timed out`)),
        this.#timeoutMs,
      );
    });
    try {
      await Promise.race([
        this.#topic.publishMessage({
          json: valid,
          attributes: { type: valid.type, sessionId: valid.sessionId },
        }),
        timeout,
      ]);
    } catch (err) {
      if (err instanceof TransientError) throw err;
      throw new TransientError('events_unavailable', `publishing ${valid.type} failed`, err);
    } finally {
      clearTimeout(timer);
    }
  }
}
