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

/** The subscription that keeps what lands on a dead-letter topic (for inspection and replay). */
export const deadLetterSubscriptionName = (deadLetterTopic: string): string =>
  `${deadLetterTopic}-sub`;

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
      subscription: deadLetterSubscriptionName(spec.deadLetterTopic),
    });
  }
  const deadLetterPolicy = spec.deadLetterTopic
    ? {
        deadLetterTopic: pubsub.topic(spec.deadLetterTopic).name,
        maxDeliveryAttempts: spec.maxDeliveryAttempts ?? 5,
      }
    : undefined;
  const retryPolicy = {
    minimumBackoff: toDuration(spec.minBackoffMs ?? 1000),
    maximumBackoff: toDuration(spec.maxBackoffMs ?? 60_000),
  };
  const sub = pubsub.subscription(spec.subscription);
  const [exists] = await sub.exists();
  // Backoff is updated only when the spec names it: the dispatcher's topology leaves it to
  // whoever set it (Terraform in production), and applies only the delivery attempts.
  const givenBackoff =
    spec.minBackoffMs !== undefined || spec.maxBackoffMs !== undefined ? retryPolicy : undefined;
  if (exists) {
    await applyDeliverySettings(sub, deadLetterPolicy, givenBackoff);
    return sub;
  }
  try {
    await topic.createSubscription(spec.subscription, {
      ackDeadlineSeconds: Math.round((spec.ackDeadlineMs ?? 30_000) / 1000),
      ...(deadLetterPolicy ? { deadLetterPolicy } : {}),
      retryPolicy,
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 6) throw err;
    // Created by another process meanwhile, perhaps with other settings: make them ours.
    await applyDeliverySettings(sub, deadLetterPolicy, givenBackoff);
  }
  return pubsub.subscription(spec.subscription);
}

type Duration = ReturnType<typeof toDuration>;

const sameDuration = (a: unknown, b: Duration): boolean => {
  const d = (a ?? {}) as { seconds?: unknown; nanos?: unknown };
  return Number(d.seconds ?? 0) === b.seconds && Number(d.nanos ?? 0) === b.nanos;
};

/**
 * Settings on a subscription are fixed when it is created; a changed
 * `PUBSUB_MAX_DELIVERY_ATTEMPTS`, dead-letter topic or backoff would never reach one that
 * already exists. Update what differs (the emulator applies these updates too). What the spec
 * leaves out (no dead-letter topic, no backoff) is left as it is.
 */
async function applyDeliverySettings(
  sub: Subscription,
  deadLetterPolicy: { deadLetterTopic: string; maxDeliveryAttempts: number } | undefined,
  retryPolicy: { minimumBackoff: Duration; maximumBackoff: Duration } | undefined,
): Promise<void> {
  const [current] = await sub.getMetadata();
  const update: { deadLetterPolicy?: typeof deadLetterPolicy; retryPolicy?: typeof retryPolicy } =
    {};
  const dl = current.deadLetterPolicy;
  if (
    deadLetterPolicy &&
    (dl?.deadLetterTopic !== deadLetterPolicy.deadLetterTopic ||
      dl?.maxDeliveryAttempts !== deadLetterPolicy.maxDeliveryAttempts)
  ) {
    update.deadLetterPolicy = deadLetterPolicy;
  }
  const rp = current.retryPolicy;
  if (
    retryPolicy &&
    (!sameDuration(rp?.minimumBackoff, retryPolicy.minimumBackoff) ||
      !sameDuration(rp?.maximumBackoff, retryPolicy.maximumBackoff))
  ) {
    update.retryPolicy = retryPolicy;
  }
  if (Object.keys(update).length > 0) await sub.setMetadata(update);
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
