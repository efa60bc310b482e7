/**
 * A private Pub/Sub lane (requests topic + subscription with a dead-letter policy, dead-letter
 * and events topics) and a real dispatcher (`runDispatcher`, the same wiring as production) on
 * it, pointed at one bench worker. Everything is deleted again by `close()`.
 */
import type { Topic } from '@google-cloud/pubsub';
import { RoomServiceClient } from 'livekit-server-sdk';
import { apiUrl } from '../../dispatcher/livekit.ts';
import { runDispatcher, type RunningDispatcher, type Settlement } from '../../dispatcher/index.ts';
import { createLogger } from '../../infra/logger.ts';
import { ensureSubscription, ensureTopic } from '../../infra/pubsub.ts';
import { testConfig, uniqueName } from '../../tests/support/env.ts';
import { sleep } from './stats.ts';
import type { BenchContext } from './context.ts';

export interface Lane {
  readonly running: RunningDispatcher;
  readonly settled: Settlement[];
  readonly rooms: RoomServiceClient;
  /** Publishes a request; resolves with its message id and the local publish time (epoch ms). */
  publish(body: unknown): Promise<{ messageId: string; publishedAtMs: number }>;
  /** The first settlement matching, or undefined after `timeoutMs`. */
  waitSettled(
    match: (s: Settlement) => boolean,
    timeoutMs: number,
  ): Promise<Settlement | undefined>;
  close(): Promise<void>;
}

const MAX_ATTEMPTS = 5;

export async function openLane(
  ctx: BenchContext,
  agentName: string,
  env: Record<string, string> = {},
): Promise<Lane> {
  const pubsub = ctx.h.pubsub;
  const name = uniqueName('bench');
  const names = {
    PUBSUB_REQUESTS_TOPIC: `${name}-req`,
    PUBSUB_REQUESTS_SUBSCRIPTION: `${name}-req-sub`,
    PUBSUB_DEAD_LETTER_TOPIC: `${name}-dlq`,
    PUBSUB_EVENTS_TOPIC: `${name}-events`,
  };
  await ensureSubscription(pubsub, {
    topic: names.PUBSUB_REQUESTS_TOPIC,
    subscription: names.PUBSUB_REQUESTS_SUBSCRIPTION,
    deadLetterTopic: names.PUBSUB_DEAD_LETTER_TOPIC,
    maxDeliveryAttempts: MAX_ATTEMPTS,
    ackDeadlineMs: 10_000,
    minBackoffMs: 100,
    maxBackoffMs: 1000,
  });
  const topic: Topic = await ensureTopic(pubsub, names.PUBSUB_REQUESTS_TOPIC);
  const settled: Settlement[] = [];
  const cfg = testConfig({
    ...ctx.env,
    ...names,
    AGENT_NAME: agentName,
    DISPATCHER_HTTP_PORT: '0',
    PUBSUB_MAX_DELIVERY_ATTEMPTS: String(MAX_ATTEMPTS),
    ...env,
  });
  const running = await runDispatcher(cfg, {
    logger: createLogger({ level: 'error', service: 'bench-dispatcher' }),
    onSettled: (s) => settled.push(s),
    processMetrics: false,
  });
  const lk = cfg.livekit;
  return {
    running,
    settled,
    rooms: new RoomServiceClient(apiUrl(lk.url), lk.apiKey, lk.apiSecret),
    async publish(body) {
      const publishedAtMs = Date.now();
      const messageId = await topic.publishMessage({ data: Buffer.from(JSON.stringify(body)) });
      return { messageId, publishedAtMs };
    },
    async waitSettled(match, timeoutMs) {
      const until = performance.now() + timeoutMs;
      for (;;) {
        const s = settled.find(match);
        if (s || performance.now() > until) return s;
        await sleep(20);
      }
    },
    async close() {
      await running.stop().catch(() => undefined);
      for (const t of [
        names.PUBSUB_REQUESTS_TOPIC,
        names.PUBSUB_DEAD_LETTER_TOPIC,
        names.PUBSUB_EVENTS_TOPIC,
      ]) {
        await pubsub
          .topic(t)
          .delete()
          .catch(() => undefined);
      }
      for (const s of [
        names.PUBSUB_REQUESTS_SUBSCRIPTION,
        `${names.PUBSUB_DEAD_LETTER_TOPIC}-sub`,
      ]) {
        await pubsub
          .subscription(s)
          .delete()
          .catch(() => undefined);
      }
    },
  };
}
