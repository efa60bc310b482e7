/**
 * The reaper against the real servers: sessions in FerretDB, rooms and participants in
 * livekit-server (checked through the server SDK, as in production), events on the Pub/Sub
 * emulator. Participants are bare rtc-node clients: a "patient", and an "agent" whose token
 * makes it a participant of kind AGENT under our agent name, as the agents framework joins.
 */
import { randomUUID } from 'node:crypto';
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { Room } from '@livekit/rtc-node';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../infra/logger.ts';
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { createPubSub, ensureSubscription } from '../infra/pubsub.ts';
import { MongoPlacementLeases } from '../dispatcher/leases.ts';
import { apiUrl, LiveKitAgentRooms } from '../dispatcher/livekit.ts';
import { Reaper, type ReaperOptions } from '../dispatcher/reaper.ts';
import { PubSubEventPublisher, type SessionEventPublisher } from '../sessions/events.ts';
import { ensureIndexes, MongoSessionStore } from '../sessions/mongo-store.ts';
import { SessionEvent, type SessionRequest } from '../sessions/schema.ts';
import { testConfig, uniqueName } from './support/env.ts';

const cfg = testConfig();
const lk = cfg.livekit;
const AGENT = uniqueName('vc-reaper-agent');
const DB = uniqueName('reaper-it');
const TOPIC = uniqueName('reaper-events');
const logger = createLogger({ level: 'error', service: 'reaper-it' });
const roomsApi = new RoomServiceClient(apiUrl(lk.url), lk.apiKey, lk.apiSecret);

let mongo: MongoHandle;
let pubsub: PubSub;
let subscription: Subscription;
const received: SessionEvent[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

/** Counts what reapers asked to publish, and publishes it to the real topic. */
class CountingPublisher implements SessionEventPublisher {
  readonly asked: SessionEvent[] = [];
  constructor(private readonly inner: SessionEventPublisher) {}
  async publish(event: SessionEvent): Promise<string | void> {
    this.asked.push(event);
    return this.inner.publish(event);
  }
}

let events: CountingPublisher;

beforeAll(async () => {
  mongo = await connectMongo(cfg.mongo, DB);
  await ensureIndexes(mongo.db);
  await new MongoPlacementLeases({ db: mongo.db }).ensureIndexes();
  pubsub = createPubSub(cfg.pubsub);
  subscription = await ensureSubscription(pubsub, { topic: TOPIC, subscription: `${TOPIC}-sub` });
  subscription.on('message', (m: Message) => {
    received.push(SessionEvent.parse(JSON.parse(m.data.toString('utf8'))));
    m.ack();
  });
  events = new CountingPublisher(new PubSubEventPublisher({ topic: pubsub.topic(TOPIC) }));
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

afterAll(async () => {
  await Promise.race([subscription?.close(), new Promise((r) => setTimeout(r, 2000))]);
  await pubsub
    ?.topic(TOPIC)
    .delete()
    .catch(() => undefined);
  await pubsub?.close();
  await mongo?.db.dropDatabase();
  await mongo?.close();
});

function reaper(overrides: Partial<ReaperOptions> = {}, db = mongo.db): Reaper {
  return new Reaper({
    store: new MongoSessionStore({ db }),
    leases: new MongoPlacementLeases({ db }),
    rooms: new LiveKitAgentRooms(lk),
    events,
    logger,
    agentGoneMs: 0,
    ...overrides,
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A session recorded `active` in `room`, as the dispatcher leaves a placed one. */
async function activeSession(room: string, overrides: Partial<SessionRequest> = {}) {
  const store = new MongoSessionStore({ db: mongo.db });
  const req: SessionRequest = {
    sessionId: `reap-${randomUUID()}`,
    profile: { id: 'intake' },
    patient: { ref: 'pt-0042' },
    requestedAt: new Date().toISOString(),
    priority: 'routine',
    ...overrides,
  };
  const now = new Date();
  await store.claim(req, now);
  await store.transition(req.sessionId, 'dispatching', now, { room });
  await store.transition(req.sessionId, 'active', now, { room });
  return req.sessionId;
}

async function newRoom(): Promise<string> {
  const room = uniqueName('reaper-room');
  await roomsApi.createRoom({ name: room, emptyTimeout: 60, departureTimeout: 10 });
  cleanups.push(() => roomsApi.deleteRoom(room));
  return room;
}

/** Joins a bare participant; `agent` makes it one of our agents by LiveKit's account. */
async function join(room: string, as: 'patient' | 'agent'): Promise<Room> {
  const token = new AccessToken(lk.apiKey, lk.apiSecret, {
    identity: uniqueName(as),
    ttl: 120,
    ...(as === 'agent' ? { attributes: { 'lk.agent.name': AGENT } } : {}),
  });
  if (as === 'agent') token.kind = 'agent';
  token.addGrant({ room, roomJoin: true, canPublish: false, canSubscribe: false });
  const client = new Room();
  await client.connect(lk.url, await token.toJwt(), { autoSubscribe: false, dynacast: false });
  cleanups.push(() => client.disconnect());
  return client;
}

const stateOf = async (id: string) =>
  (await new MongoSessionStore({ db: mongo.db }).get(id))?.state;
const eventsFor = (id: string) => received.filter((e) => e.sessionId === id);

describe('reaper against LiveKit, FerretDB and Pub/Sub', () => {
  it('interrupts an active session whose room holds only the patient, announces it, and closes the room', async () => {
    const room = await newRoom();
    await join(room, 'patient');
    const id = await activeSession(room);

    const report = await reaper().sweep();

    expect(report.interrupted).toContain(id);
    expect(await new MongoSessionStore({ db: mongo.db }).get(id)).toMatchObject({
      state: 'interrupted',
      endReason: 'agent_lost',
      failureReason: 'the agent is gone: no agent in the room',
    });
    const [event] = await waitFor('session.completed', async () =>
      eventsFor(id).length ? eventsFor(id) : undefined,
    );
    expect(event).toMatchObject({
      type: 'session.completed',
      state: 'interrupted',
      reason: 'agent_lost',
    });
    expect(await roomsApi.listRooms([room])).toEqual([]);
  });

  it('interrupts an active session whose room LiveKit no longer has', async () => {
    const id = await activeSession(uniqueName('gone-room'));

    const report = await reaper().sweep();

    expect(report.interrupted).toContain(id);
    expect((await new MongoSessionStore({ db: mongo.db }).get(id))?.failureReason).toBe(
      'the agent is gone: the room is gone',
    );
  });

  it('leaves an active session alone while an agent participant of ours is in its room', async () => {
    const room = await newRoom();
    await join(room, 'patient');
    await join(room, 'agent');
    const rooms = new LiveKitAgentRooms(lk);
    await waitFor('the agent to be listed', async () =>
      (await rooms.listAgents(room, AGENT)).length ? true : undefined,
    );
    const id = await activeSession(room);

    const report = await reaper().sweep();

    expect(report.interrupted).not.toContain(id);
    expect(await stateOf(id)).toBe('active');
    expect(eventsFor(id)).toEqual([]);
    expect(await roomsApi.listRooms([room])).toHaveLength(1);
  });

  it('makes one transition and one event when two dispatchers reap the same session at once', async () => {
    const room = await newRoom();
    const id = await activeSession(room);
    // Each reaper with its own connection pool, as two dispatcher processes have.
    const other = await connectMongo(cfg.mongo, DB);
    cleanups.push(() => other.close());
    const askedBefore = events.asked.length;

    const [a, b] = await Promise.all([
      reaper({ instanceId: 'a' }).sweep(),
      reaper({ instanceId: 'b' }, other.db).sweep(),
    ]);

    expect([...a.interrupted, ...b.interrupted].filter((x) => x === id)).toEqual([id]);
    const asked = events.asked.slice(askedBefore).filter((e) => e.sessionId === id);
    expect(asked).toHaveLength(1);
    const revisions = await mongo.db
      .collection('session_revisions')
      .countDocuments({ sessionId: id, state: 'interrupted' });
    expect(revisions).toBe(1);
    await waitFor('the event', async () => (eventsFor(id).length ? true : undefined));
    expect(eventsFor(id)).toHaveLength(1);
  });

  it('fails a session stuck in dispatching past its deadline and announces session.failed', async () => {
    const store = new MongoSessionStore({ db: mongo.db });
    const sessionId = `reap-${randomUUID()}`;
    const now = new Date();
    await store.claim(
      {
        sessionId,
        profile: { id: 'intake' },
        patient: { ref: 'pt-0042' },
        requestedAt: now.toISOString(),
        deadline: new Date(now.getTime() - 1000).toISOString(),
        priority: 'routine',
      },
      now,
    );
    await store.transition(sessionId, 'dispatching', now, { room: uniqueName('never') });

    const report = await reaper().sweep();

    expect(report.failed).toContain(sessionId);
    expect(await store.get(sessionId)).toMatchObject({
      state: 'failed',
      failureCode: 'deadline_expired',
    });
    const [event] = await waitFor('session.failed', async () =>
      eventsFor(sessionId).length ? eventsFor(sessionId) : undefined,
    );
    expect(event).toMatchObject({ type: 'session.failed', code: 'deadline_expired' });
  });
});
