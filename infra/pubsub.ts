/**
 * Pub/Sub client construction and topology. Our code creates its own topics and subscriptions,
 * so a fresh emulator (or project) needs no manual steps.
 */
import { PubSub, type Subscription, type Topic } from '@google-cloud/pubsub';
import type { Config } from './config.ts';

export function createPubSub(cfg: Config['pubsub']): PubSub {
  // Endpoint and project are passed explicitly: only infra/config.ts reads the environment.
  return new PubSub({
    projectId: cfg.projectId,
    ...(cfg.emulatorHost ? { apiEndpoint: cfg.emulatorHost, emulatorMode: true } : {}),
  });
}

export async function ensureTopic(pubsub: PubSub, name: string): Promise<Topic> {
  const topic = pubsub.topic(name);
  const [exists] = await topic.exists();
  if (!exists) {
    try {
      await topic.create();
    } catch (err) {
      // Another process created it between our check and our create.
      if ((err as { code?: number }).code !== 6) throw err;
    }
  }
  return topic;
}

export interface SubscriptionSpec {
  topic: string;
  subscription: string;
  /** Where a message goes after maxDeliveryAttempts; omitted means no dead-letter policy. */
  deadLetterTopic?: string;
  maxDeliveryAttempts?: number;
  ackDeadlineMs?: number;
  /** Redelivery backoff after a nack. The emulator redelivers the first nack immediately. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

const toDuration = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

export async function ensureSubscription(
  pubsub: PubSub,
  spec: SubscriptionSpec,
): Promise<Subscription> {
  const topic = await ensureTopic(pubsub, spec.topic);
  if (spec.deadLetterTopic) {
    const dlq = await ensureTopic(pubsub, spec.deadLetterTopic);
    // A dead-letter topic with no subscription silently drops what lands on it.
    await ensureSubscription(pubsub, {
      topic: dlq.name.split('/').pop() ?? spec.deadLetterTopic,
      subscription: `${spec.deadLetterTopic}-sub`,
    });
  }
  const sub = pubsub.subscription(spec.subscription);
  const [exists] = await sub.exists();
  if (exists) return sub;
  try {
    await topic.createSubscription(spec.subscription, {
      ackDeadlineSeconds: Math.round((spec.ackDeadlineMs ?? 30_000) / 1000),
      ...(spec.deadLetterTopic
        ? {
            deadLetterPolicy: {
              deadLetterTopic: pubsub.topic(spec.deadLetterTopic).name,
              maxDeliveryAttempts: spec.maxDeliveryAttempts ?? 5,
            },
          }
        : {}),
      retryPolicy: {
        minimumBackoff: toDuration(spec.minBackoffMs ?? 1000),
        maximumBackoff: toDuration(spec.maxBackoffMs ?? 60_000),
      },
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 6) throw err;
  }
  return pubsub.subscription(spec.subscription);
}

/** The dispatcher's topology: requests (+ dead letters) and the events topic. */
export async function ensureSessionTopology(pubsub: PubSub, cfg: Config['pubsub']): Promise<void> {
  await ensureSubscription(pubsub, {
    topic: cfg.requestsTopic,
    subscription: cfg.requestsSubscription,
    deadLetterTopic: cfg.deadLetterTopic,
    maxDeliveryAttempts: cfg.maxDeliveryAttempts,
  });
  await ensureTopic(pubsub, cfg.eventsTopic);
}
