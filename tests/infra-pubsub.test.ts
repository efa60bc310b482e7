import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPubSub, ensureSubscription } from '../infra/pubsub.ts';
import { testConfig, uniqueName } from './support/env.ts';

const cfg = testConfig();

/**
 * Collects messages from a subscription until `done` says stop, or times out. The listener stays
 * attached: removing it closes the stream, which can drop a nack still queued for sending.
 */
function collect(
  sub: Subscription,
  onMessage: (m: Message, seen: Message[]) => 'ack' | 'nack',
  done: (seen: Message[]) => boolean,
  timeoutMs = 30_000,
): Promise<Message[]> {
  const seen: Message[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`timed out after ${timeoutMs} ms with ${seen.length} deliveries`));
    }, timeoutMs);
    sub.on('message', (m: Message) => {
      seen.push(m);
      if (onMessage(m, seen) === 'ack') m.ack();
      else m.nack();
      if (done(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
    sub.on('error', reject);
  });
}

describe('Pub/Sub emulator', () => {
  let pubsub: PubSub;
  const closers: Subscription[] = [];
  const topics: string[] = [];

  beforeAll(() => {
    pubsub = createPubSub(cfg.pubsub);
  });

  afterAll(async () => {
    // close() can hang against the emulator: bound it.
    await Promise.all(
      closers.map((s) => Promise.race([s.close(), new Promise((r) => setTimeout(r, 2000))])),
    );
    for (const t of topics)
      await pubsub
        .topic(t)
        .delete()
        .catch(() => undefined);
    await pubsub.close();
  });

  it('delivers a published message through streaming pull', async () => {
    const topic = uniqueName('infra-topic');
    const subName = uniqueName('infra-sub');
    topics.push(topic);
    const sub = await ensureSubscription(pubsub, { topic, subscription: subName });
    closers.push(sub);
    const id = await pubsub.topic(topic).publishMessage({ json: { hello: 'world' } });
    const [msg] = await collect(
      sub,
      () => 'ack',
      (seen) => seen.length >= 1,
    );
    expect(msg?.id).toBe(id);
    expect(JSON.parse(msg!.data.toString())).toEqual({ hello: 'world' });
  });

  it('redelivers a nacked message, counting attempts, then dead-letters it after N attempts', async () => {
    const topic = uniqueName('infra-topic');
    const dlqTopic = uniqueName('infra-dlq');
    const subName = uniqueName('infra-sub');
    topics.push(topic, dlqTopic);
    const maxDeliveryAttempts = 5;
    const sub = await ensureSubscription(pubsub, {
      topic,
      subscription: subName,
      deadLetterTopic: dlqTopic,
      maxDeliveryAttempts,
      minBackoffMs: 100,
      maxBackoffMs: 200,
    });
    closers.push(sub);
    const dlqSub = pubsub.subscription(`${dlqTopic}-sub`);
    closers.push(dlqSub);
    const deadLettered = collect(
      dlqSub,
      () => 'ack',
      (seen) => seen.length >= 1,
      60_000,
    );

    await pubsub.topic(topic).publishMessage({ json: { n: 1 } });
    const deliveries = await collect(
      sub,
      () => 'nack',
      (seen) => seen.length >= maxDeliveryAttempts,
      60_000,
    );
    expect(deliveries.slice(0, 5).map((m) => m.deliveryAttempt)).toEqual([1, 2, 3, 4, 5]);

    const [dead] = await deadLettered;
    expect(JSON.parse(dead!.data.toString())).toEqual({ n: 1 });
    expect(dead!.attributes.CloudPubSubDeadLetterSourceSubscription).toBe(subName);
    expect(dead!.attributes.CloudPubSubDeadLetterSourceDeliveryCount).toBe(
      String(maxDeliveryAttempts),
    );
  });
});
