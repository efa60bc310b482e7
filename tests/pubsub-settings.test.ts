/**
 * Delivery settings reach a subscription that already exists: `ensureSubscription` updates its
 * dead-letter policy and retry backoff (the emulator applies such updates), and the emulator
 * then dead-letters by the new count.
 */
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPubSub, ensureSubscription } from '../infra/pubsub.ts';
import { testConfig, uniqueName } from './support/env.ts';

const cfg = testConfig();

describe('delivery settings on an existing subscription', () => {
  let pubsub: PubSub;
  const subs: Subscription[] = [];
  const topics: string[] = [];

  beforeAll(() => {
    pubsub = createPubSub(cfg.pubsub);
  });

  afterAll(async () => {
    await Promise.all(
      subs.map((s) => Promise.race([s.close(), new Promise((r) => setTimeout(r, 2000))])),
    );
    for (const s of subs) await s.delete().catch(() => undefined);
    for (const t of topics)
      await pubsub
        .topic(t)
        .delete()
        .catch(() => undefined);
    await pubsub.close();
  });

  it('gives an existing subscription the configured dead-letter policy and backoff, and the broker dead-letters by them', async () => {
    const topic = uniqueName('settings-topic');
    const dlq = uniqueName('settings-dlq');
    const name = uniqueName('settings-sub');
    topics.push(topic, dlq);
    // Created long ago, before any dead-letter policy was configured.
    const before = await ensureSubscription(pubsub, { topic, subscription: name });
    subs.push(before);
    expect((await before.getMetadata())[0].deadLetterPolicy).toBeFalsy();

    const spec = {
      topic,
      subscription: name,
      deadLetterTopic: dlq,
      maxDeliveryAttempts: 6,
      minBackoffMs: 100,
      maxBackoffMs: 200,
    };
    const sub = await ensureSubscription(pubsub, spec);
    const dlqSub = pubsub.subscription(`${dlq}-sub`);
    subs.push(sub, dlqSub);
    const [meta] = await sub.getMetadata();
    expect(meta.deadLetterPolicy).toMatchObject({
      deadLetterTopic: pubsub.topic(dlq).name,
      maxDeliveryAttempts: 6,
    });
    expect(meta.retryPolicy).toMatchObject({
      minimumBackoff: { seconds: '0', nanos: 100_000_000 },
      maximumBackoff: { seconds: '0', nanos: 200_000_000 },
    });
    // Running it again with the same settings changes nothing and does not fail.
    await ensureSubscription(pubsub, spec);

    const dead = new Promise<Message>((resolve) => {
      dlqSub.on('message', (m: Message) => {
        m.ack();
        resolve(m);
      });
    });
    const attempts: number[] = [];
    sub.on('message', (m: Message) => {
      attempts.push(m.deliveryAttempt);
      m.nack();
    });
    await pubsub.topic(topic).publishMessage({ json: { n: 1 } });

    const deadline = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`not dead-lettered; attempts ${attempts}`)), 30_000),
    );
    const got = await Promise.race([dead, deadline]);
    expect(got.attributes['CloudPubSubDeadLetterSourceDeliveryCount']).toBe('6');
    expect(attempts.slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
