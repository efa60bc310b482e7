/**
 * The dispatcher end to end against the real servers: the Pub/Sub emulator, livekit-server with a
 * real @livekit/agents worker (tests/support/joining-worker.ts), and FerretDB. Every test gets its
 * own topics and subscriptions (dead-letter policy, short retry backoff); the file gets its own
 * database and agent name. Dispatchers run through `runDispatcher`, the same wiring as main.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { PubSub, Subscription } from '@google-cloud/pubsub';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../infra/logger.ts';
import { percentile } from '../infra/stats.ts';
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { readProfile } from '../prompts/loader.ts';
import { MongoProfileStore } from '../prompts/mongo-store.ts';
import { createPubSub, ensureSubscription, ensureTopic } from '../infra/pubsub.ts';
import { runDispatcher, type RunningDispatcher, type Settlement } from '../dispatcher/index.ts';
import { apiUrl } from '../dispatcher/livekit.ts';
import { MongoSessionStore } from '../sessions/mongo-store.ts';
import { TEST_ENV, testConfig, uniqueName } from './support/env.ts';
import { startJoiningWorker, type JoiningWorker } from './support/joining-worker.ts';

const DB = uniqueName('dispatcher-it');
const AGENT = uniqueName('vc-dispatch-agent');
const MAX_ATTEMPTS = 5;
const lk = testConfig().livekit;
const roomsApi = new RoomServiceClient(apiUrl(lk.url), lk.apiKey, lk.apiSecret);
const dispatchApi = new AgentDispatchClient(apiUrl(lk.url), lk.apiKey, lk.apiSecret);
// The dispatchers' own logs stay quiet unless something is wrong.
const logger = createLogger({ level: 'error', service: 'dispatcher-it' });

let worker: JoiningWorker;
let pubsub: PubSub;
let mongo: MongoHandle;
let store: MongoSessionStore;
/** Every placement in this file, for the latency summary. */
const placements: Settlement[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
const sessionsMade: string[] = [];

/** The room of a session's n-th placement attempt (the dispatcher's default prefix). */
const roomOf = (sessionId: string, attempt = 1) => `session-${sessionId}-${attempt}`;

function request(overrides: Record<string, unknown> = {}) {
  const sessionId = `it-${randomUUID()}`;
  sessionsMade.push(sessionId);
  return {
    sessionId,
    profile: { id: 'intake' },
    patient: { ref: 'pt-0042', displayName: 'Test Patient', language: 'en-US' },
    requestedAt: new Date().toISOString(),
    ...overrides,
  };
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function closeSubscription(sub: Subscription): Promise<void> {
  // The emulator's close() can hang.
  await Promise.race([sub.close().catch(() => undefined), sleep(2000)]);
}

interface Received {
  id: string;
  json: Record<string, unknown>;
  data: string;
  attributes: Record<string, string>;
}

/** Collects (and acks) everything arriving on a subscription until the test ends. */
function listen(sub: Subscription): Received[] {
  const got: Received[] = [];
  sub.on('message', (m) => {
    const data = m.data.toString();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(data) as Record<string, unknown>;
    } catch {
      // not JSON: keep the raw data
    }
    got.push({ id: m.id, json, data, attributes: m.attributes });
    m.ack();
  });
  cleanups.push(() => closeSubscription(sub));
  return got;
}

function median(xs: number[]): number {
  return percentile(xs, 50);
}
const stat = (xs: number[]) => `median=${median(xs)} ms p95=${percentile(xs, 95)} ms`;
function report(label: string, placed: Settlement[]): void {
  const t = placed.map((s) => s.timings!);
  console.log(
    `[dispatcher] ${label}: n=${t.length}\n` +
      `  publish → agent joined   ${stat(t.map((x) => x.publishToJoinedMs))}\n` +
      `  publish → received       ${stat(t.map((x) => x.queuedMs))}\n` +
      `  dispatch → agent joined  ${stat(t.map((x) => x.dispatchToJoinedMs))}`,
  );
}

/** One test's private Pub/Sub topology plus what it observed. */
interface Lane {
  env: Record<string, string>;
  requestsSubscription: string;
  events: Received[];
  deadLetters: Received[];
  settled: Settlement[];
  publish(body: unknown): Promise<string>;
  start(env?: Record<string, string>, instanceId?: string): Promise<RunningDispatcher>;
}

async function lane(env: Record<string, string> = {}): Promise<Lane> {
  const name = uniqueName('disp');
  const names = {
    PUBSUB_REQUESTS_TOPIC: `${name}-req`,
    PUBSUB_REQUESTS_SUBSCRIPTION: `${name}-req-sub`,
    PUBSUB_DEAD_LETTER_TOPIC: `${name}-dlq`,
    PUBSUB_EVENTS_TOPIC: `${name}-events`,
  };
  // Created before the dispatcher, with a short backoff so redelivery tests are fast; the
  // dispatcher's own topology step then finds them in place.
  await ensureSubscription(pubsub, {
    topic: names.PUBSUB_REQUESTS_TOPIC,
    subscription: names.PUBSUB_REQUESTS_SUBSCRIPTION,
    deadLetterTopic: names.PUBSUB_DEAD_LETTER_TOPIC,
    maxDeliveryAttempts: MAX_ATTEMPTS,
    ackDeadlineMs: 10_000,
    minBackoffMs: 100,
    maxBackoffMs: 500,
  });
  const events = listen(
    await ensureSubscription(pubsub, {
      topic: names.PUBSUB_EVENTS_TOPIC,
      subscription: `${names.PUBSUB_EVENTS_TOPIC}-test`,
    }),
  );
  const deadLetters = listen(pubsub.subscription(`${names.PUBSUB_DEAD_LETTER_TOPIC}-sub`));
  const topic = await ensureTopic(pubsub, names.PUBSUB_REQUESTS_TOPIC);
  const settled: Settlement[] = [];
  const laneEnv = {
    MONGODB_DB: DB,
    AGENT_NAME: AGENT,
    DISPATCHER_HTTP_PORT: '0',
    PUBSUB_MAX_DELIVERY_ATTEMPTS: String(MAX_ATTEMPTS),
    LOG_LEVEL: 'error',
    ...names,
    ...env,
  };
  return {
    env: laneEnv,
    requestsSubscription: names.PUBSUB_REQUESTS_SUBSCRIPTION,
    events,
    deadLetters,
    settled,
    publish: (body) =>
      topic.publishMessage({
        data: Buffer.isBuffer(body)
          ? body
          : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
      }),
    async start(more = {}, instanceId) {
      const running = await runDispatcher(testConfig({ ...laneEnv, ...more }), {
        logger,
        onSettled: (s) => settled.push(s),
        processMetrics: false,
        ...(instanceId ? { instanceId } : {}),
      });
      cleanups.push(() => running.stop());
      return running;
    },
  };
}

async function agentsIn(room: string): Promise<string[]> {
  const participants = await roomsApi.listParticipants(room);
  return participants.filter((p) => p.attributes['lk.agent.name'] === AGENT).map((p) => p.identity);
}

async function dispatchesIn(room: string, agentName = AGENT): Promise<number> {
  return (await dispatchApi.listDispatch(room)).filter((d) => d.agentName === agentName).length;
}

const eventsOf = (events: Received[], type: string, sessionId: string) =>
  events.filter((e) => e.json['type'] === type && e.json['sessionId'] === sessionId);

beforeAll(async () => {
  pubsub = createPubSub(testConfig().pubsub);
  mongo = await connectMongo(testConfig().mongo, DB);
  store = new MongoSessionStore({ db: mongo.db });
  // The dispatcher accepts only published profiles: publish the repo's intake profile.
  const intake = await readProfile(
    fileURLToPath(new URL('../prompts/intake.yaml', import.meta.url)),
  );
  await new MongoProfileStore(mongo.db).publish(intake, { author: 'test', note: 'fixture' });
  worker = await startJoiningWorker({
    agentName: AGENT,
    livekitUrl: lk.url,
    apiKey: lk.apiKey,
    apiSecret: lk.apiSecret,
    maxStayMs: 90_000,
  });
  await warmUp();
});

/**
 * The worker registers before its idle job process is ready. Serve one job straight through the
 * API, then give the pool time to start the replacement, so measurements are of a warm worker.
 */
async function warmUp(): Promise<void> {
  const room = uniqueName('warm-up');
  await roomsApi.createRoom({ name: room, emptyTimeout: 30 });
  await dispatchApi.createDispatch(room, AGENT, { metadata: '{}' });
  await waitFor('the warm-up agent', async () => (await agentsIn(room)).length > 0, 30_000);
  await roomsApi.deleteRoom(room);
  await sleep(4000);
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

afterAll(async () => {
  report('all placements in this file', placements);
  // Closing the rooms ends the agents' jobs, so the worker stops promptly.
  const rooms = sessionsMade.flatMap((id) =>
    Array.from({ length: MAX_ATTEMPTS }, (_, i) => roomOf(id, i + 1)),
  );
  await Promise.all(rooms.map((r) => roomsApi.deleteRoom(r).catch(() => undefined)));
  await worker?.stop();
  await mongo?.db.dropDatabase().catch(() => undefined);
  await mongo?.close();
  await Promise.race([pubsub?.close(), sleep(3000)]);
});

describe('dispatcher against Pub/Sub, LiveKit and MongoDB', () => {
  it('places a request: the agent is in the room, the session active, session.ready published, the message acked', async () => {
    const l = await lane();
    const running = await l.start();
    const body = request();
    const room = roomOf(body.sessionId);

    const messageId = await l.publish(body);
    const placed = await waitFor('placement', () =>
      l.settled.find((s) => s.messageId === messageId && s.outcome === 'placed'),
    );

    expect(placed.room).toBe(room);
    expect(await agentsIn(room)).toHaveLength(1);
    expect(await dispatchesIn(room)).toBe(1);
    const session = await store.get(body.sessionId);
    expect(session).toMatchObject({ state: 'active', room, attempts: 1 });
    expect(session?.dispatch?.dispatchId).toBe(placed.dispatchId);
    const ready = await waitFor(
      'session.ready',
      () => eventsOf(l.events, 'session.ready', body.sessionId)[0],
    );
    expect(ready.json).toMatchObject({ room, livekitUrl: lk.url });
    expect(ready.attributes).toMatchObject({ type: 'session.ready', sessionId: body.sessionId });

    // Acked: it does not come back.
    await sleep(1500);
    expect(l.settled.filter((s) => s.messageId === messageId)).toHaveLength(1);
    const metrics = await (await fetch(`${running.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^voicecare_dispatcher_requests_total\{outcome="placed"\} 1$/m);
    expect((await fetch(`${running.opsUrl}/readyz`)).status).toBe(200);

    placements.push(placed);

    // More requests one at a time, each once the worker has had time to start a new idle job
    // process, for the warm publish → agent joined figure.
    const warm = [placed];
    for (let i = 0; i < 5; i++) {
      await sleep(3000);
      const id = await l.publish(request());
      warm.push(
        await waitFor('a warm placement', () =>
          l.settled.find((s) => s.messageId === id && s.outcome === 'placed'),
        ),
      );
    }
    placements.push(...warm.slice(1));
    report('one at a time, worker warm', warm);
  });

  it('makes one session and one dispatch from the same request delivered several times, to two dispatchers', async () => {
    const l = await lane();
    await l.start({}, 'dispatcher-a');
    await l.start({}, 'dispatcher-b');
    const body = request();
    const room = roomOf(body.sessionId);

    const ids = await Promise.all([l.publish(body), l.publish(body), l.publish(body)]);
    await waitFor('all three copies settled', () =>
      ids.every((id) => l.settled.some((s) => s.messageId === id && s.action === 'ack')),
    );
    // A late copy, after the session is placed.
    const late = await l.publish(body);
    await waitFor('the late copy settled', () => l.settled.find((s) => s.messageId === late));

    const outcomes = l.settled.map((s) => s.outcome).sort();
    expect(outcomes).toEqual(['duplicate', 'duplicate', 'duplicate', 'placed']);
    expect(await dispatchesIn(room)).toBe(1);
    expect(await agentsIn(room)).toHaveLength(1);
    expect(await store.get(body.sessionId)).toMatchObject({ state: 'active', attempts: 1 });
    await waitFor('session.ready', () => eventsOf(l.events, 'session.ready', body.sessionId)[0]);
    await sleep(1000);
    expect(eventsOf(l.events, 'session.ready', body.sessionId)).toHaveLength(1);
  });

  it('redelivers a request no agent takes, then dead-letters it and fails the session with the reason', async () => {
    const nobody = uniqueName('no-worker');
    const l = await lane({ AGENT_NAME: nobody, DISPATCHER_JOIN_TIMEOUT_MS: '1000' });
    await l.start();
    const body = request();

    const messageId = await l.publish(body);
    const dead = await waitFor(
      'the dead letter',
      () => l.deadLetters.find((d) => d.json['sessionId'] === body.sessionId),
      60_000,
    );

    expect(dead.data).toBe(JSON.stringify(body));
    expect(dead.attributes['CloudPubSubDeadLetterSourceDeliveryCount']).toBe(String(MAX_ATTEMPTS));
    const mine = l.settled.filter((s) => s.messageId === messageId);
    expect(mine.map((s) => `${s.deliveryAttempt}:${s.outcome}`)).toEqual([
      '1:retried',
      '2:retried',
      '3:retried',
      '4:retried',
      '5:dead_lettered',
    ]);
    const session = await store.get(body.sessionId);
    expect(session?.state).toBe('failed');
    expect(session?.attempts).toBe(MAX_ATTEMPTS);
    expect(session?.failureCode).toBe('agent_join_timeout');
    expect(session?.failureReason).toMatch(/^no .* agent joined within 1000 ms/);
    const failed = await waitFor(
      'session.failed',
      () => eventsOf(l.events, 'session.failed', body.sessionId)[0],
    );
    expect(failed.json).toMatchObject({ code: 'agent_join_timeout' });
    // Each attempt had its own room, and none is left behind.
    const rooms = Array.from({ length: MAX_ATTEMPTS }, (_, i) => roomOf(body.sessionId, i + 1));
    expect(session?.room).toBe(rooms[MAX_ATTEMPTS - 1]);
    expect(await roomsApi.listRooms(rooms)).toEqual([]);
  });

  it('records each class of malformed request with its reason, acks it, and stays healthy', async () => {
    const l = await lane({ DISPATCHER_MAX_MESSAGE_BYTES: '2048' });
    const running = await l.start();
    const cases = [
      { body: '{"sessionId": "half', code: 'malformed_json' },
      { body: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), code: 'malformed_json' },
      { body: request({ profile: 'intake', priority: 3 }), code: 'invalid_request' },
      {
        body: `{"__proto__": {"admin": true}, ${JSON.stringify(request()).slice(1)}`,
        code: 'invalid_request',
      },
      { body: request({ notes: 'x'.repeat(4096) }), code: 'payload_too_large' },
      { body: request({ profile: { id: 'horoscope' } }), code: 'unknown_profile' },
    ];

    const ids = await Promise.all(cases.map((c) => l.publish(c.body)));
    await waitFor('every malformed request settled', () =>
      ids.every((id) => l.settled.some((s) => s.messageId === id)),
    );

    for (const [i, c] of cases.entries()) {
      const s = l.settled.find((x) => x.messageId === ids[i]);
      expect(s, `case ${i}`).toMatchObject({ outcome: 'rejected', action: 'ack', code: c.code });
      const [rejection] = await store.listRejections({ messageId: ids[i] });
      expect(rejection?.code, `case ${i}`).toBe(c.code);
      expect(rejection?.reason.length, `case ${i}`).toBeGreaterThan(10);
    }
    expect((await fetch(`${running.opsUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${running.opsUrl}/readyz`)).status).toBe(200);
    // And it still places good requests.
    const good = request();
    const goodId = await l.publish(good);
    const placed = await waitFor('a good request after the bad ones', () =>
      l.settled.find((s) => s.messageId === goodId && s.outcome === 'placed'),
    );
    placements.push(placed);
    // Rejected messages are acked: none comes back.
    await sleep(1000);
    expect(l.settled.filter((s) => s.outcome === 'rejected')).toHaveLength(cases.length);
  });

  it('places a burst larger than the in-flight cap, none lost and none twice', async () => {
    const N = 8;
    const CAP = 2;
    const l = await lane({
      DISPATCHER_MAX_IN_FLIGHT: String(CAP),
      DISPATCHER_JOIN_TIMEOUT_MS: '30000',
    });
    const running = await l.start();
    const bodies = Array.from({ length: N }, () => request());

    await Promise.all(bodies.map((b) => l.publish(b)));
    await waitFor(
      'the whole burst placed',
      () => l.settled.filter((s) => s.outcome === 'placed').length >= N,
      120_000,
    );

    const placed = l.settled.filter((s) => s.outcome === 'placed');
    expect(new Set(placed.map((s) => s.sessionId))).toEqual(
      new Set(bodies.map((b) => b.sessionId)),
    );
    expect(placed).toHaveLength(N);
    expect(running.dispatcher.stats().peakInFlight).toBeLessThanOrEqual(CAP);
    expect(running.dispatcher.stats().peakInFlight).toBe(CAP);
    for (const b of bodies) {
      const room = roomOf(b.sessionId);
      expect(await dispatchesIn(room), room).toBe(1);
      expect(await agentsIn(room), room).toHaveLength(1);
      expect(await store.get(b.sessionId)).toMatchObject({ state: 'active', room });
    }
    await waitFor('every session.ready', () =>
      bodies.every((b) => eventsOf(l.events, 'session.ready', b.sessionId).length > 0),
    );
    // Leases were extended while requests waited behind the cap (longer than the 10 s ack
    // deadline under load): no message came back while it was still being handled.
    expect(l.settled.filter((s) => s.outcome === 'duplicate')).toEqual([]);
    placements.push(...placed);
    report(`burst of ${N}, cap ${CAP}`, placed);
  });

  it('loses no request when shut down with placements in flight', async () => {
    const N = 4;
    const l = await lane({ DISPATCHER_MAX_IN_FLIGHT: '2', DISPATCHER_SHUTDOWN_TIMEOUT_MS: '1500' });
    const first = await l.start({}, 'dispatcher-first');
    const bodies = Array.from({ length: N }, () => request());

    await Promise.all(bodies.map((b) => l.publish(b)));
    await waitFor('two placements in flight', () => first.dispatcher.stats().inFlight >= 2, 20_000);
    const stop = await first.stop();
    const byFirst = [...l.settled];

    expect(stop.drained).toBe(true);
    expect(byFirst.every((s) => s.outcome === 'placed' || s.outcome === 'requeued')).toBe(true);
    await l.start({}, 'dispatcher-second');
    await waitFor(
      'every session active',
      async () => {
        const sessions = await Promise.all(bodies.map((b) => store.get(b.sessionId)));
        return sessions.every((s) => s?.state === 'active');
      },
      60_000,
    );
    const strays: string[] = [];
    for (const b of bodies) {
      const session = await store.get(b.sessionId);
      const room = session!.room!;
      expect(await dispatchesIn(room), room).toBe(1);
      expect(await agentsIn(room), room).toHaveLength(1);
      // Attempts handed back at shutdown closed their rooms and removed their dispatches.
      for (let n = 1; n < session!.attempts; n++) {
        const old = roomOf(b.sessionId, n);
        if ((await roomsApi.listRooms([old])).length === 0) continue;
        expect(await dispatchesIn(old), old).toBe(0);
        strays.push(`${old}: ${(await agentsIn(old)).length} agent(s)`);
      }
    }
    await waitFor('every session.ready', () =>
      bodies.every((b) => eventsOf(l.events, 'session.ready', b.sessionId).length > 0),
    );
    console.log(
      `[dispatcher] shutdown: first dispatcher ${JSON.stringify(byFirst.map((s) => s.outcome))}, ` +
        `stop ${JSON.stringify(stop)}, rooms of handed-back attempts still open: ${JSON.stringify(strays)}`,
    );
  });

  it('runs as a process: serves health, places a request, and exits 0 on SIGTERM', async () => {
    const l = await lane({ LOG_LEVEL: 'info' });
    const main = fileURLToPath(new URL('../dispatcher/main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      env: { ...process.env, ...TEST_ENV, ...l.env, METADATA_SERVER_DETECTION: 'none' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = once(child, 'exit');

    const running = await waitFor(
      'the running line',
      () =>
        out
          .split('\n')
          .filter((line) => line.includes('"dispatcher running"'))
          .map((line) => JSON.parse(line) as { opsUrl: string })[0],
    );
    expect((await fetch(`${running.opsUrl}/healthz`)).status).toBe(200);
    await waitFor('readiness', async () => (await fetch(`${running.opsUrl}/readyz`)).ok);
    const body = request();
    await l.publish(body);
    await waitFor('session.ready', () => eventsOf(l.events, 'session.ready', body.sessionId)[0]);

    child.kill('SIGTERM');
    const [code] = (await Promise.race([exited, sleep(15_000).then(() => ['timeout'])])) as [
      number | string,
    ];
    expect(code, out).toBe(0);
    expect(out).toContain('"dispatcher stopped"');
    // Logs are JSON for Cloud Logging, and carry no patient data.
    expect(out).toContain('"severity":"INFO"');
    expect(out).not.toContain('Test Patient');
    expect(out).not.toContain('pt-0042');
  });
});
