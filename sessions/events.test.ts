import { describeEventsContract } from './events.contract.ts';
import { RecordingEvents } from './testing/events.ts';

describeEventsContract('in-memory', {
  async open() {
    const events = new RecordingEvents();
    return { publisher: events, received: () => events.published };
  },
});
