/**
 * The dispatcher process's part of "requests never vanish", through `runDispatcher` (the wiring
 * main uses) against the Pub/Sub emulator and FerretDB: delivery settings reach a subscription
 * that already exists, every rejection is announced on the events topic, and health reports a
 * subscription that broke under it. No agent is needed: nothing here is placed.
 */
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runDispatcher, type RunningDispatcher } from '../dispatcher/index.ts';
import { InMemoryProfileCatalog } from '../dispatcher/profiles.ts';
import { createLogger } from '../infra/logger.ts';
import { connectMongo } from '../infra/mongo.ts';
import { createPubSub, ensureSubscription, ensureTopic } from '../infra/pubsub.ts';
import { MongoSessionStore } from '../sessions/mongo-store.ts';
import { SessionEvent, SessionRequestV1 } from '../sessions/schema.ts';
import { testConfig, uniqueName } from './support/env.ts';

const DB = uniqueName('dispatcher-faults');
const logger = createLogger({ level: 'silent', service: 'dispatcher-faults-it' });
let pubsub: PubSub;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(() => {
  pubsub = createPubSub(testConfig().pubsub);
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

afterAll(async () => {
  await pubsub.close();
  const mongo = await connectMongo(testConfig().mongo, DB);
  await mongo.db.dropDatabase();
  await mongo.close();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function closeSub(sub: Subscription): Promise<void> {
  await Promise.race([sub.close().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
}

/** A private topology; the requests subscription exists before the dispatcher, without a DLQ. */
async function lane() {
  const name = uniqueName('dfault');
  const env = {
    MONGODB_DB: DB,
    DISPATCHER_HTTP_PORT: '0',
    PUBSUB_REQUESTS_TOPIC: `${name}-req`,
    PUBSUB_REQUESTS_SUBSCRIPTION: `${name}-req-sub`,
    PUBSUB_DEAD_LETTER_TOPIC: `${name}-dlq`,
    PUBSUB_EVENTS_TOPIC: `${name}-events`,
    PUBSUB_MAX_DELIVERY_ATTEMPTS: '7',
    DISPATCHER_MAX_REQUEST_AGE_MS: '60000',
    LOG_LEVEL: 'silent',
  };
  const requests = await ensureSubscription(pubsub, {
    topic: env.PUBSUB_REQUESTS_TOPIC,
    subscription: env.PUBSUB_REQUESTS_SUBSCRIPTION,
    minBackoffMs: 100,
    maxBackoffMs: 500,
  });
  const eventsSub = await ensureSubscription(pubsub, {
    topic: env.PUBSUB_EVENTS_TOPIC,
    subscription: `${env.PUBSUB_EVENTS_TOPIC}-test`,
  });
  const events: SessionEvent[] = [];
  eventsSub.on('message', (m: Message) => {
    events.push(SessionEvent.parse(JSON.parse(m.data.toString('utf8'))));
    m.ack();
  });
  cleanups.push(async () => {
    await closeSub(eventsSub);
    for (const t of [
      env.PUBSUB_REQUESTS_TOPIC,
      env.PUBSUB_DEAD_LETTER_TOPIC,
      env.PUBSUB_EVENTS_TOPIC,
    ]) {
      await pubsub
        .topic(t)
        .delete()
        .catch(() => undefined);
    }
  });
  const topic = await ensureTopic(pubsub, env.PUBSUB_REQUESTS_TOPIC);
  return {
    env,
    requests,
    events,
    publish: (body: unknown) =>
      topic.publishMessage({
        data: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
      }),
    async start(more: Record<string, string> = {}): Promise<RunningDispatcher> {
      const running = await runDispatcher(testConfig({ ...env, ...more }), {
        logger,
        processMetrics: false,
        profiles: new InMemoryProfileCatalog().publish('intake', 1),
      });
      cleanups.push(() => running.stop());
      return running;
    },
  };
}

const request = (overrides: Record<string, unknown> = {}) => ({
  sessionId: uniqueName('df'),
  profile: { id: 'intake' },
  patient: { ref: 'pt-0042', displayName: 'Test Patient' },
  requestedAt: new Date().toISOString(),
  ...overrides,
});

describe('dispatcher: requests never vanish', () => {
  it('gives an existing requests subscription the configured dead-letter policy at start, keeping its backoff', async () => {
    const l = await lane();
    expect((await l.requests.getMetadata())[0].deadLetterPolicy).toBeFalsy();

    await l.start();

    const [meta] = await l.requests.getMetadata();
    expect(meta.deadLetterPolicy).toMatchObject({
      deadLetterTopic: pubsub.topic(l.env.PUBSUB_DEAD_LETTER_TOPIC).name,
      maxDeliveryAttempts: 7,
    });
    expect(meta.retryPolicy).toMatchObject({
      minimumBackoff: { nanos: 100_000_000 },
      maximumBackoff: { nanos: 500_000_000 },
    });
  });

  it('announces every rejection as session.rejected with its code and message id', async () => {
    const l = await lane();
    await l.start();
    const cases = [
      { body: '{"sessionId": ', code: 'malformed_json' },
      { body: request({ priority: 'asap' }), code: 'invalid_request' },
      { body: request({ profile: { id: 'astrology' } }), code: 'unknown_profile' },
      {
        body: request({ patient: { ref: 'pt-1', displayName: 'Ann\u0000\u202e' } }),
        code: 'unsafe_text',
      },
      {
        body: request({ requestedAt: new Date(Date.now() - 3 * 86_400_000).toISOString() }),
        code: 'stale_request',
      },
    ];
    const ids = await Promise.all(cases.map((c) => l.publish(c.body)));

    const rejected = await waitFor('five rejections', async () => {
      const got = l.events.filter((e) => e.type === 'session.rejected');
      return got.length >= cases.length ? got : undefined;
    });

    const byMessage = new Map(
      rejected.map((e) => [e.type === 'session.rejected' ? e.messageId : '', e]),
    );
    cases.forEach((c, i) => {
      expect(byMessage.get(ids[i]!), c.code).toMatchObject({ code: c.code });
    });
  });

  it('reports a subscription that broke under it: not ready, and not live', async () => {
    const l = await lane();
    const running = await l.start();
    const get = async (path: string) => {
      const res = await fetch(`${running.opsUrl}${path}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect(await get('/readyz')).toMatchObject({ status: 200 });

    // Someone deletes the subscription (a bad Terraform apply, say).
    await pubsub.subscription(l.env.PUBSUB_REQUESTS_SUBSCRIPTION).delete();

    const ready = await waitFor('readiness to drop', async () => {
      const r = await get('/readyz');
      return r.status === 503 ? r : undefined;
    });
    expect(ready.body).toMatchObject({ ready: false });
    expect((ready.body['checks'] as Record<string, string>)['subscription']).not.toBe('ok');
    await waitFor('liveness to drop', async () =>
      (await get('/healthz')).status === 503 ? true : undefined,
    );
  });

  it('runs the reaper on its interval: an active session with no room left is interrupted and announced', async () => {
    const l = await lane();
    await l.start({ DISPATCHER_REAPER_INTERVAL_MS: '200', DISPATCHER_REAPER_AGENT_GONE_MS: '0' });
    const mongo = await connectMongo(testConfig().mongo, DB);
    cleanups.push(() => mongo.close());
    const store = new MongoSessionStore({ db: mongo.db });
    const req = SessionRequestV1.parse(request());
    const now = new Date();
    await store.claim(req, now);
    await store.transition(req.sessionId, 'active', now, { room: uniqueName('no-such-room') });

    const session = await waitFor('the reaper', async () => {
      const s = await store.get(req.sessionId);
      return s?.state === 'interrupted' ? s : undefined;
    });

    expect(session.endReason).toBe('agent_lost');
    await waitFor('session.completed', async () =>
      l.events.find((e) => e.type === 'session.completed' && e.sessionId === req.sessionId),
    );
  });
});
