/** An in-memory SessionEventPublisher for unit tests; `events.contract.ts` holds it to the real one. */
import { SessionEvent } from '../schema.ts';
import type { SessionEventPublisher } from '../events.ts';

/** Records published events (validated, as the real one does); can be told to fail. */
export class RecordingEvents implements SessionEventPublisher {
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

  ofType<T extends SessionEvent['type']>(type: T): Extract<SessionEvent, { type: T }>[] {
    return this.published.filter((e): e is Extract<SessionEvent, { type: T }> => e.type === type);
  }
}
