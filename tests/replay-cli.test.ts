/**
 * `voicecare sessions replay` against the Pub/Sub emulator and FerretDB: a dead-lettered request
 * is re-run whole as `<id>.r1` and removed from the dead-letter subscription, a session whose
 * message is gone is rebuilt from its record, and sessions still running are refused.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionsCli } from '../dispatcher/cli.ts';
import { PubSubDeadLetters } from '../dispatcher/replay.ts';
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { createPubSub, deadLetterSubscriptionName, ensureSubscription } from '../infra/pubsub.ts';
import { ensureIndexes, MongoSessionStore } from '../sessions/mongo-store.ts';
import { SessionRequestV1, type SessionRequest } from '../sessions/schema.ts';
import { TEST_ENV, testConfig, uniqueName } from './support/env.ts';

const ENV = {
  MONGODB_DB: uniqueName('replay-it'),
  PUBSUB_REQUESTS_TOPIC: uniqueName('replay-requests'),
  PUBSUB_DEAD_LETTER_TOPIC: uniqueName('replay-dlq'),
};
const cfg = testConfig(ENV);

let pubsub: PubSub;
let mongo: MongoHandle;
let store: MongoSessionStore;
let watch: Subscription;
const published: SessionRequest[] = [];

beforeAll(async () => {
  pubsub = createPubSub(cfg.pubsub);
  // The requests subscription (with its dead-letter topic and subscription), as the dispatcher
  // creates it; a second subscription watches what the CLI publishes.
  await ensureSubscription(pubsub, {
    topic: cfg.pubsub.requestsTopic,
    subscription: uniqueName('replay-dispatcher'),
    deadLetterTopic: cfg.pubsub.deadLetterTopic,
    maxDeliveryAttempts: 5,
  });
  watch = await ensureSubscription(pubsub, {
    topic: cfg.pubsub.requestsTopic,
    subscription: uniqueName('replay-watch'),
  });
  watch.on('message', (m: Message) => {
    published.push(SessionRequestV1.parse(JSON.parse(m.data.toString('utf8'))));
    m.ack();
  });
  mongo = await connectMongo(cfg.mongo);
  await ensureIndexes(mongo.db);
  store = new MongoSessionStore({ db: mongo.db });
});

afterAll(async () => {
  await Promise.race([watch?.close(), new Promise((r) => setTimeout(r, 2000))]);
  for (const t of [cfg.pubsub.requestsTopic, cfg.pubsub.deadLetterTopic]) {
    await pubsub
      ?.topic(t)
      .delete()
      .catch(() => undefined);
  }
  await pubsub?.close();
  await mongo?.db.dropDatabase();
  await mongo?.close();
});

function request(): SessionRequest {
  return SessionRequestV1.parse({
    sessionId: uniqueName('sess'),
    profile: { id: 'intake' },
    patient: { ref: 'pt-0042', displayName: 'Test Patient', language: 'en-US' },
    requestedAt: new Date(Date.now() - 3_600_000).toISOString(),
  });
}

async function failed(req: SessionRequest): Promise<void> {
  await store.claim(req, new Date());
  await store.transition(req.sessionId, 'failed', new Date(), {
    failureCode: 'agent_join_timeout',
  });
}

async function cli(args: string[], user = 'os-user') {
  let out = '';
  let err = '';
  const code = await sessionsCli(args, {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    config: () => cfg,
    user: () => user,
  });
  return { code, out, err };
}

async function publishedAs(sessionId: string): Promise<SessionRequest> {
  const until = Date.now() + 15_000;
  for (;;) {
    const hit = published.find((r) => r.sessionId === sessionId);
    if (hit) return hit;
    if (Date.now() > until) throw new Error(`${sessionId} was not published`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('voicecare sessions replay', () => {
  it('re-runs a dead-lettered request whole as a new attempt, and removes it from the dead-letter subscription', async () => {
    const req = request();
    const bystander = request();
    await failed(req);
    const dlq = pubsub.topic(cfg.pubsub.deadLetterTopic);
    await dlq.publishMessage({ json: req });
    await dlq.publishMessage({ json: bystander });

    const run = await cli(['replay', req.sessionId, '--by', 'Alice Operator']);

    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expect(run.out).toContain(`replayed ${req.sessionId} as ${req.sessionId}.r1 (attempt 1)`);
    expect(run.out).toContain('1 dead-lettered copy(ies) removed');
    const replay = await publishedAs(`${req.sessionId}.r1`);
    expect(replay).toMatchObject({
      profile: req.profile,
      patient: req.patient,
      replay: { of: req.sessionId, attempt: 1, by: 'Alice Operator', source: 'dead_letter' },
    });
    expect(Date.parse(replay.requestedAt)).toBeGreaterThan(Date.parse(req.requestedAt));
    expect((await store.get(req.sessionId))?.state).toBe('failed');

    // What is left on the dead-letter subscription: the bystander only.
    const left = new PubSubDeadLetters(
      pubsub.subscription(deadLetterSubscriptionName(cfg.pubsub.deadLetterTopic)),
    );
    const again = await left.pull({ idleMs: 1500, maxMs: 8000 });
    for (const d of again) d.nack();
    await left.close();
    expect(again.map((d) => d.request?.sessionId)).toEqual([bystander.sessionId]);
  });

  it('rebuilds a request from the session record when its message is gone, recording the OS user', async () => {
    const req = request();
    await failed(req);

    const run = await cli(['replay', req.sessionId, '--no-dead-letters'], 'nightshift');

    expect(run.code).toBe(0);
    expect(run.out).toContain('rebuilt from the session record');
    const replay = await publishedAs(`${req.sessionId}.r1`);
    expect(replay.replay).toMatchObject({ by: 'nightshift', source: 'session' });
    expect(replay.patient).toEqual({ ref: req.patient.ref });
  });

  it('refuses a session that is still running, and one that does not exist', async () => {
    const req = request();
    await store.claim(req, new Date());
    await store.transition(req.sessionId, 'active', new Date());

    const running = await cli(['replay', req.sessionId, '--no-dead-letters']);
    const missing = await cli(['replay', uniqueName('nobody'), '--no-dead-letters']);
    const usage = await cli(['replay']);

    expect(running).toMatchObject({ code: 1 });
    expect(running.err).toMatch(/is active; only failed or interrupted sessions are replayed/);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no dead-lettered request/);
    expect(usage.code).toBe(2);
    expect(published.some((r) => r.sessionId.startsWith(req.sessionId))).toBe(false);
  });

  it('is reachable as `voicecare sessions`', async () => {
    const bin = fileURLToPath(new URL('../bin/voicecare.mjs', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'sessions', '--help'], {
      env: { PATH: process.env.PATH ?? '', ...TEST_ENV },
      timeout: 30_000,
    });
    expect(stdout).toContain('replay <sessionId> [--by NAME]');
  });
});
