/** The RequestSource contract against the Pub/Sub emulator, through PubSubRequestSource. */
import type { PubSub } from '@google-cloud/pubsub';
import { createPubSub, ensureSubscription } from '../infra/pubsub.ts';
import { describeRequestSourceContract } from '../dispatcher/source.contract.ts';
import { PubSubRequestSource } from '../dispatcher/source.ts';
import { testConfig, uniqueName } from './support/env.ts';

let pubsub: PubSub | undefined;
const topics: string[] = [];
const sources: PubSubRequestSource[] = [];

describeRequestSourceContract('Pub/Sub emulator', {
  async open() {
    pubsub ??= createPubSub(testConfig().pubsub);
    const topic = uniqueName('source-contract');
    const deadLetters = `${topic}-dlq`;
    topics.push(topic, deadLetters);
    // A dead-letter policy makes the broker count delivery attempts, as in production.
    const subscription = await ensureSubscription(pubsub, {
      topic,
      subscription: `${topic}-sub`,
      deadLetterTopic: deadLetters,
      maxDeliveryAttempts: 5,
      minBackoffMs: 0,
      maxBackoffMs: 1000,
    });
    const source = new PubSubRequestSource({ subscription, maxInFlight: 4, closeWaitMs: 1000 });
    sources.push(source);
    const client = pubsub;
    return {
      source,
      publish: async (body: Buffer) => {
        await client.topic(topic).publishMessage({ data: body });
      },
    };
  },
  async close() {
    await Promise.all(sources.map((s) => s.close(2000)));
    for (const t of topics) {
      await pubsub
        ?.topic(t)
        .delete()
        .catch(() => undefined);
    }
    await pubsub?.close();
  },
});
