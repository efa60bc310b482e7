/** The SessionEventPublisher contract against the Pub/Sub emulator, through PubSubEventPublisher. */
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { createPubSub, ensureSubscription } from '../infra/pubsub.ts';
import { describeEventsContract } from '../sessions/events.contract.ts';
import { PubSubEventPublisher } from '../sessions/events.ts';
import { SessionEvent } from '../sessions/schema.ts';
import { testConfig, uniqueName } from './support/env.ts';

let pubsub: PubSub | undefined;
let subscription: Subscription | undefined;
const topic = uniqueName('events-contract');

describeEventsContract('Pub/Sub emulator', {
  async open() {
    pubsub = createPubSub(testConfig().pubsub);
    subscription = await ensureSubscription(pubsub, { topic, subscription: `${topic}-sub` });
    const received: SessionEvent[] = [];
    subscription.on('message', (m: Message) => {
      received.push(SessionEvent.parse(JSON.parse(m.data.toString('utf8'))));
      m.ack();
    });
    return {
      publisher: new PubSubEventPublisher({ topic: pubsub.topic(topic) }),
      received: () => received,
    };
  },
  async close() {
    // close() can hang against the emulator: bound it.
    await Promise.race([subscription?.close(), new Promise((r) => setTimeout(r, 2000))]);
    await pubsub
      ?.topic(topic)
      .delete()
      .catch(() => undefined);
    await pubsub?.close();
  },
});
