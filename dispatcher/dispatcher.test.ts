import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TransientError } from '../infra/errors.ts';
import { createLogger } from '../infra/logger.ts';
import { MemorySessionStore } from '../sessions/memory-store.ts';
import type { SessionStore } from '../sessions/store.ts';
import { systemClock, type Clock } from '../infra/time.ts';
import { Dispatcher, type DispatcherOptions, type Settlement } from './dispatcher.ts';
import { InMemoryPlacementLeases, type PlacementLeases } from './leases.ts';
import type { AgentRooms } from './livekit.ts';
import { InMemoryProfileCatalog } from './profiles.ts';
import { Faults } from '../infra/testing/faults.ts';
import { VirtualClock } from '../infra/testing/virtual-clock.ts';
import { RecordingEvents } from '../sessions/testing/events.ts';
import { FakeAgentRooms, FakeMessage, FakeRequestSource } from './testing/fakes.ts';

const AGENT = 'test-agent';
const PATIENT_REF = 'pt-7731-zq';
const DISPLAY_NAME = 'Ada Lovelace';

function request(overrides: Record<string, unknown> = {}) {
  return {
    sessionId: `sess-${randomUUID().slice(0, 8)}`,
    profile: { id: 'intake', version: 2 },
    patient: { ref: PATIENT_REF, displayName: DISPLAY_NAME, language: 'en-GB' },
    requestedAt: '2026-03-02T08:59:59.000Z',
    ...overrides,
  };
}

interface HarnessOptions {
  clock?: Clock;
  leases?: PlacementLeases;
  store?: SessionStore;
  rooms?: FakeAgentRooms;
  events?: RecordingEvents;
  workers?: string[];
}

function harness(overrides: Partial<DispatcherOptions> = {}, h: HarnessOptions = {}) {
  const clock = h.clock ?? new VirtualClock();
  const store = new Faults<SessionStore>(h.store ?? new MemorySessionStore());
  const leases = new Faults<PlacementLeases>(h.leases ?? new InMemoryPlacementLeases());
  const rooms = h.rooms ?? new FakeAgentRooms({ clock, workers: h.workers ?? [AGENT] });
  const livekit = new Faults<AgentRooms>(rooms);
  const events = h.events ?? new RecordingEvents();
  const profiles = new InMemoryProfileCatalog().publish('intake', 1).publish('intake', 2);
  const logLines: string[] = [];
  const logger = createLogger(
    { level: 'debug', service: 'dispatcher-test' },
    { write: (line: string) => void logLines.push(line) },
  );
  const settled: Settlement[] = [];
  const source = new FakeRequestSource();
  const dispatcher = new Dispatcher({
    store: store.proxy,
    leases: leases.proxy,
    rooms: livekit.proxy,
    events,
    profiles,
    source,
    agentName: AGENT,
    livekitUrl: 'wss://livekit.test',
    logger,
    clock,
    joinTimeoutMs: 5000,
    onSettled: (s) => settled.push(s),
    ...overrides,
  });
  return {
    dispatcher,
    clock,
    store,
    leases,
    rooms,
    livekit,
    events,
    profiles,
    settled,
    logLines,
    source,
  };
}

describe('Dispatcher placement', () => {
  it('places a valid request: one room, one dispatch carrying the request, session active, session.ready published, acked', async () => {
    const t = harness({ roomEmptyTimeoutMs: 120_000, roomDepartureTimeoutMs: 7000 });
    const body = request();
    const msg = new FakeMessage(body);

    const s = await t.dispatcher.handle(msg);

    expect(s).toMatchObject({ outcome: 'placed', action: 'ack', sessionId: body.sessionId });
    expect(msg.settled).toBe('ack');
    const room = t.dispatcher.roomFor(body.sessionId, 1);
    expect(t.rooms.rooms.get(room)?.timeouts).toEqual({
      emptyTimeoutMs: 120_000,
      departureTimeoutMs: 7000,
    });
    expect(t.rooms.created).toHaveLength(1);
    const dispatch = t.rooms.created[0]!;
    expect(dispatch).toMatchObject({ room, agentName: AGENT });
    // The agent receives the validated request, defaults filled in.
    expect(JSON.parse(dispatch.metadata)).toEqual({ ...body, priority: 'routine' });

    const session = await t.store.proxy.get(body.sessionId);
    expect(session?.state).toBe('active');
    expect(session?.room).toBe(room);
    expect(session?.attempts).toBe(1);
    expect(session?.dispatch?.dispatchId).toBe(dispatch.id);
    expect(session?.dispatch?.agentJoinedMs).toBeGreaterThan(0);
    expect(session?.timestamps.dispatching).toBeInstanceOf(Date);

    expect(t.events.published).toEqual([
      {
        type: 'session.ready',
        sessionId: body.sessionId,
        at: expect.any(String),
        room,
        livekitUrl: 'wss://livekit.test',
      },
    ]);
    expect(s.timings?.dispatchToJoinedMs).toBe(session?.dispatch?.agentJoinedMs);
    expect(s.timings?.publishToJoinedMs).toBeGreaterThan(0);
    // The lease was handed back: anyone may take it now.
    expect(await t.leases.proxy.acquire(body.sessionId, 'someone-else', t.clock.now(), 1000)).toBe(
      true,
    );
  });

  it('counts a placement as placed when the agent recorded the session active before the dispatcher did', async () => {
    // The agent marks the session active as it starts; on a slow machine that lands first.
    class AgentFirst extends MemorySessionStore {
      override async transition(...args: Parameters<MemorySessionStore['transition']>) {
        const [id, to, now, patch] = args;
        if (to === 'active' && patch?.dispatch) {
          await super.transition(id, 'active', now, { room: patch.room, profileVersion: 2 });
        }
        return super.transition(...args);
      }
    }
    const t = harness({}, { store: new AgentFirst() });
    const body = request();
    const msg = new FakeMessage(body);

    const s = await t.dispatcher.handle(msg);

    expect(s).toMatchObject({ outcome: 'placed', action: 'ack' });
    const room = t.dispatcher.roomFor(body.sessionId, 1);
    // Nothing of the live call was torn down, and the patient's app hears it is ready.
    expect(t.rooms.rooms.has(room)).toBe(true);
    expect(t.rooms.deletedRooms).toEqual([]);
    expect(t.rooms.deletedDispatches).toEqual([]);
    expect(t.events.ofType('session.ready')).toHaveLength(1);
    const text = await t.dispatcher.metrics.registry.metrics();
    expect(text).toMatch(/^voicecare_dispatcher_requests_total\{outcome="placed"\} 1$/m);
  });

  it('still treats a session active in another room as moved on', async () => {
    class OtherRoom extends MemorySessionStore {
      override async transition(...args: Parameters<MemorySessionStore['transition']>) {
        const [id, to, now, patch] = args;
        if (to === 'active' && patch?.dispatch) {
          await super.transition(id, 'active', now, { room: 'someone-elses-room' });
        }
        return super.transition(...args);
      }
    }
    const t = harness({}, { store: new OtherRoom() });
    const s = await t.dispatcher.handle(new FakeMessage(request()));
    expect(s.outcome).toBe('duplicate');
  });

  it('acks a redelivery of a placed session without dispatching or announcing again', async () => {
    const t = harness();
    const msg = new FakeMessage(request());
    await t.dispatcher.handle(msg);

    const again = msg.redeliver();
    const s = await t.dispatcher.handle(again);

    expect(s.outcome).toBe('duplicate');
    expect(again.settled).toBe('ack');
    expect(t.rooms.created).toHaveLength(1);
    expect(t.events.ofType('session.ready')).toHaveLength(1);
  });

  it('makes one dispatch when copies of a request reach two dispatchers at the same time', async () => {
    const clock = new VirtualClock();
    const store = new MemorySessionStore();
    const leases = new InMemoryPlacementLeases();
    const rooms = new FakeAgentRooms({ clock, workers: [AGENT], joinAfterPolls: 4 });
    const events = new RecordingEvents();
    const a = harness({}, { clock, store, leases, rooms, events });
    const b = harness({}, { clock, store, leases, rooms, events });
    const body = request();
    const copies = [new FakeMessage(body), new FakeMessage(body), new FakeMessage(body)];

    const results = await Promise.all([
      a.dispatcher.handle(copies[0]!),
      b.dispatcher.handle(copies[1]!),
      a.dispatcher.handle(copies[2]!),
    ]);

    expect(results.map((r) => r.outcome).sort()).toEqual(['duplicate', 'duplicate', 'placed']);
    expect(copies.every((c) => c.settled === 'ack')).toBe(true);
    expect(rooms.created).toHaveLength(1);
    expect(events.ofType('session.ready')).toHaveLength(1);
    expect((await store.get(body.sessionId))?.attempts).toBe(1);
  });

  it('takes over a session whose lease holder vanished, once the lease lapses', async () => {
    const t = harness({ leaseMs: 3000 });
    const body = request();
    await t.store.proxy.claim({ ...body, priority: 'routine' }, t.clock.now());
    await t.leases.proxy.acquire(body.sessionId, 'crashed-dispatcher', t.clock.now(), 3000);

    const s = await t.dispatcher.handle(new FakeMessage(body));

    expect(s.outcome).toBe('placed');
    expect(t.rooms.created).toHaveLength(1);
  });

  it('hands a request back when another delivery keeps the lease longer than it will wait', async () => {
    const t = harness({ leaseMs: 3000 });
    const body = request();
    await t.store.proxy.claim({ ...body, priority: 'routine' }, t.clock.now());
    await t.leases.proxy.acquire(body.sessionId, 'slow-dispatcher', t.clock.now(), 60_000);
    const msg = new FakeMessage(body);

    const s = await t.dispatcher.handle(msg);

    expect(s).toMatchObject({ outcome: 'contended', action: 'nack' });
    expect(msg.settled).toBe('nack');
    expect(t.rooms.created).toHaveLength(0);
  });

  it('reuses the dispatch a crashed predecessor left in the room instead of creating another', async () => {
    const t = harness();
    const body = request();
    const room = t.dispatcher.roomFor(body.sessionId, 1);
    await t.store.proxy.claim({ ...body, priority: 'routine' }, t.clock.now());
    await t.store.proxy.recordAttempt(body.sessionId, t.clock.now());
    await t.store.proxy.transition(body.sessionId, 'dispatching', t.clock.now(), { room });
    await t.rooms.ensureRoom(room, { emptyTimeoutMs: 1000, departureTimeoutMs: 1000 });
    const left = await t.rooms.createDispatch(room, AGENT, JSON.stringify(body));

    const s = await t.dispatcher.handle(new FakeMessage(body));

    expect(s).toMatchObject({ outcome: 'placed', room, dispatchId: left.id });
    expect(t.rooms.created).toHaveLength(1);
    const session = await t.store.proxy.get(body.sessionId);
    expect(session).toMatchObject({ state: 'active', room, attempts: 2 });
    expect(session?.dispatch?.dispatchId).toBe(left.id);
  });

  it('closes a room an earlier attempt left without a dispatch, and places in a fresh one', async () => {
    const t = harness();
    const body = request();
    const stale = t.dispatcher.roomFor(body.sessionId, 1);
    await t.store.proxy.claim({ ...body, priority: 'routine' }, t.clock.now());
    await t.store.proxy.recordAttempt(body.sessionId, t.clock.now());
    await t.store.proxy.transition(body.sessionId, 'dispatching', t.clock.now(), { room: stale });
    await t.rooms.ensureRoom(stale, { emptyTimeoutMs: 1000, departureTimeoutMs: 1000 });

    const s = await t.dispatcher.handle(new FakeMessage(body));

    expect(s).toMatchObject({ outcome: 'placed', room: t.dispatcher.roomFor(body.sessionId, 2) });
    expect(t.rooms.deletedRooms).toEqual([stale]);
  });

  it('closes a room whose left-behind dispatch is past its join deadline with no agent in it, and places in a fresh one', async () => {
    // A dispatcher died after dispatching; its agent came and went before this delivery.
    const clock = new VirtualClock();
    const t = harness({}, { clock, workers: [] });
    const body = request();
    const stale = t.dispatcher.roomFor(body.sessionId, 1);
    await t.store.proxy.claim({ ...body, priority: 'routine' }, t.clock.now());
    await t.store.proxy.recordAttempt(body.sessionId, t.clock.now());
    await t.store.proxy.transition(body.sessionId, 'dispatching', t.clock.now(), { room: stale });
    await t.rooms.ensureRoom(stale, { emptyTimeoutMs: 1000, departureTimeoutMs: 1000 });
    const spent = await t.rooms.createDispatch(stale, AGENT, JSON.stringify(body));
    clock.advance(5000);
    t.rooms.workers.add(AGENT);

    const s = await t.dispatcher.handle(new FakeMessage(body));

    expect(s).toMatchObject({ outcome: 'placed', room: t.dispatcher.roomFor(body.sessionId, 2) });
    expect(s.dispatchId).not.toBe(spent.id);
    expect(t.rooms.deletedRooms).toContain(stale);
  });

  it('reuses a left-behind dispatch still within its join deadline, and waits for its agent only until that deadline', async () => {
    const clock = new VirtualClock();
    const t = harness({}, { clock, workers: [] });
    const body = request();
    const room = t.dispatcher.roomFor(body.sessionId, 1);
    await t.store.proxy.claim({ ...body, priority: 'routine' }, t.clock.now());
    await t.store.proxy.recordAttempt(body.sessionId, t.clock.now());
    await t.store.proxy.transition(body.sessionId, 'dispatching', t.clock.now(), { room });
    await t.rooms.ensureRoom(room, { emptyTimeoutMs: 1000, departureTimeoutMs: 1000 });
    const left = await t.rooms.createDispatch(room, AGENT, JSON.stringify(body));
    const dispatchedAtMs = clock.now().getTime();
    clock.advance(3000);

    const s = await t.dispatcher.handle(new FakeMessage(body));

    // Its agent never comes: the delivery gives up 5 s after the dispatch, not 5 s after now.
    expect(s).toMatchObject({ outcome: 'retried', code: 'agent_join_timeout' });
    expect(t.rooms.created.map((d) => d.id)).toEqual([left.id]);
    expect(t.clock.now().getTime() - dispatchedAtMs).toBeLessThan(5000 + 500);
  });

  it('places each retry in a fresh room, and closes the earlier room again once placed', async () => {
    const clock = new VirtualClock();
    const sessionId = `sess-${randomUUID().slice(0, 8)}`;
    const roomOf = (n: number) => `session-${sessionId}-${n}`;
    class LateAgentRooms extends FakeAgentRooms {
      override async createDispatch(room: string, agentName: string, metadata: string) {
        // The first attempt's agent was still starting; it joins now, which reopens its room.
        if (room === roomOf(2))
          await this.ensureRoom(roomOf(1), { emptyTimeoutMs: 1, departureTimeoutMs: 1 });
        return super.createDispatch(room, agentName, metadata);
      }
    }
    const rooms = new LateAgentRooms({ clock, workers: [] });
    const t = harness({}, { clock, rooms });
    const msg = new FakeMessage(request({ sessionId }));
    expect((await t.dispatcher.handle(msg)).outcome).toBe('retried');
    expect(rooms.deletedRooms).toEqual([roomOf(1)]);

    rooms.workers.add(AGENT);
    const s = await t.dispatcher.handle(msg.redeliver());

    expect(s).toMatchObject({ outcome: 'placed', room: roomOf(2) });
    expect((await t.store.proxy.get(sessionId))?.room).toBe(roomOf(2));
    expect(rooms.deletedRooms).toEqual([roomOf(1), roomOf(1)]);
    expect([...rooms.rooms.keys()]).toEqual([roomOf(2)]);
  });

  it('announces session.ready once when a copy arrives between the session going active and its announcement', async () => {
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => (open = r));
    class GatedEvents extends RecordingEvents {
      override async publish(event: Parameters<RecordingEvents['publish']>[0]): Promise<void> {
        await gate;
        return super.publish(event);
      }
    }
    const events = new GatedEvents();
    const t = harness({}, { events });
    const body = request();
    const placing = t.dispatcher.handle(new FakeMessage(body));
    for (let i = 0; i < 100 && (await t.store.proxy.get(body.sessionId))?.state !== 'active'; i++) {
      await new Promise((r) => setImmediate(r));
    }
    expect((await t.store.proxy.get(body.sessionId))?.state).toBe('active');

    const copy = await t.dispatcher.handle(new FakeMessage(body));
    open();

    expect(copy).toMatchObject({ outcome: 'duplicate', action: 'ack' });
    expect((await placing).outcome).toBe('placed');
    expect(events.ofType('session.ready')).toHaveLength(1);
  });
});

describe('Dispatcher rejections', () => {
  const max = 2048;
  const cases: { name: string; body: unknown; code: string; reason: RegExp; detail?: RegExp }[] = [
    {
      name: 'a payload over the size limit',
      body: request({ padding: 'x'.repeat(max) }),
      code: 'payload_too_large',
      reason: /bytes; the limit is 2048/,
    },
    {
      name: 'truncated JSON',
      body: '{"sessionId": "s-1",',
      code: 'malformed_json',
      reason: /not valid JSON/,
    },
    {
      name: 'bytes that are not UTF-8',
      body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
      code: 'malformed_json',
      reason: /not valid UTF-8/,
    },
    { name: 'an empty payload', body: '', code: 'malformed_json', reason: /not valid JSON/ },
    {
      name: 'a sessionId of the wrong type',
      body: request({ sessionId: 42 }),
      code: 'invalid_request',
      reason: /does not match session request v1/,
      detail: /^sessionId: /,
    },
    {
      name: 'a missing profile and a bad priority',
      body: { ...request(), profile: undefined, priority: 'asap' },
      code: 'invalid_request',
      reason: /2 problem/,
      detail: /profile: .*; priority: /,
    },
    {
      name: 'unknown keys, including __proto__',
      body: `{"__proto__": {"polluted": true}, "Ada Lovelace": 1, ${JSON.stringify(request()).slice(1)}`,
      code: 'invalid_request',
      reason: /does not match/,
      detail: /2 unknown keys at \(root\)/,
    },
    {
      name: 'a JSON array instead of an object',
      body: '[1,2,3]',
      code: 'invalid_request',
      reason: /does not match/,
    },
    {
      name: 'an unknown profile',
      body: request({ profile: { id: 'astrology' } }),
      code: 'unknown_profile',
      reason: /profile astrology is not published/,
    },
    {
      name: 'an unknown version of a known profile',
      body: request({ profile: { id: 'intake', version: 9 } }),
      code: 'unknown_profile',
      reason: /profile intake@9 is not published/,
    },
  ];

  for (const c of cases) {
    it(`records ${c.name} as a rejection with code ${c.code}, acks it, and creates nothing`, async () => {
      const t = harness({ maxMessageBytes: max });
      const msg = new FakeMessage(c.body);

      const s = await t.dispatcher.handle(msg);

      expect(s).toMatchObject({ outcome: 'rejected', action: 'ack', code: c.code });
      expect(msg.settled).toBe('ack');
      const [rejection, ...more] = await t.store.proxy.listRejections({ messageId: msg.id });
      expect(more).toEqual([]);
      expect(rejection?.code).toBe(c.code);
      expect(rejection?.reason).toMatch(c.reason);
      if (c.detail) expect(rejection?.detail).toMatch(c.detail);
      expect(t.store.count('claim')).toBe(0);
      expect(t.rooms.rooms.size).toBe(0);
    });
  }

  it('keeps patient data and sender-chosen keys out of rejection details', async () => {
    const t = harness();
    const body = `{"Ada Lovelace": 1, ${JSON.stringify(request({ priority: 7 })).slice(1)}`;
    const msg = new FakeMessage(body);
    await t.dispatcher.handle(msg);
    const [rejection] = await t.store.proxy.listRejections({ messageId: msg.id });
    expect(rejection?.detail).toBeDefined();
    expect(JSON.stringify(rejection)).not.toContain(DISPLAY_NAME);
    expect(JSON.stringify(rejection)).not.toContain(PATIENT_REF);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('names the session on a rejection when the request carried a well-formed sessionId', async () => {
    const t = harness();
    const body = request({ priority: 'whenever' });
    const msg = new FakeMessage(body);
    await t.dispatcher.handle(msg);
    const rejections = await t.store.proxy.listRejections({ sessionId: body.sessionId });
    expect(rejections.map((r) => r.messageId)).toEqual([msg.id]);
  });

  it('nacks a rejection it could not record, so the message is not lost', async () => {
    const t = harness();
    t.store.failNext('recordRejection', new TransientError('mongo_unavailable', 'down'));
    const msg = new FakeMessage('not json');

    const s = await t.dispatcher.handle(msg);

    expect(s).toMatchObject({ outcome: 'retried', action: 'nack', code: 'malformed_json' });
    const again = await t.dispatcher.handle(msg.redeliver());
    expect(again.outcome).toBe('rejected');
  });
});

describe('Dispatcher failures', () => {
  it('nacks when no agent joins in time, and removes the dispatch and room it created', async () => {
    const t = harness({}, { workers: [] });
    const body = request();
    const msg = new FakeMessage(body);

    const s = await t.dispatcher.handle(msg);

    expect(s).toMatchObject({ outcome: 'retried', action: 'nack', code: 'agent_join_timeout' });
    const room = t.dispatcher.roomFor(body.sessionId, 1);
    expect(t.rooms.deletedDispatches).toEqual([t.rooms.created[0]?.id]);
    expect(t.rooms.deletedRooms).toEqual([room]);
    const session = await t.store.proxy.get(body.sessionId);
    expect(session?.state).toBe('dispatching');
    expect(session).toMatchObject({
      failureCode: 'agent_join_timeout',
      failureReason: 'no test-agent agent joined within 5000 ms',
    });
    expect(t.events.published).toEqual([]);
  });

  it('nacks when LiveKit fails mid-placement and leaves no room behind', async () => {
    const t = harness();
    t.livekit.failNext('createDispatch', new TransientError('livekit_unavailable', 'refused'));
    const body = request();

    const s = await t.dispatcher.handle(new FakeMessage(body));

    expect(s).toMatchObject({ outcome: 'retried', action: 'nack', code: 'livekit_unavailable' });
    expect(t.rooms.rooms.size).toBe(0);
    const retry = await t.dispatcher.handle(new FakeMessage(body, { deliveryAttempt: 2 }));
    expect(retry.outcome).toBe('placed');
    expect(t.rooms.created).toHaveLength(1);
  });

  it('retries each delivery, then on the last one fails the session with the last reason, publishes session.failed and dead-letters it', async () => {
    const t = harness({ maxDeliveryAttempts: 5 }, { workers: [] });
    const body = request();
    let msg = new FakeMessage(body);
    const outcomes: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const s = await t.dispatcher.handle(msg);
      outcomes.push(`${s.outcome}/${s.action}`);
      msg = msg.redeliver();
    }

    expect(outcomes).toEqual([...Array(4).fill('retried/nack'), 'dead_lettered/nack']);
    expect(t.rooms.created).toHaveLength(5);
    expect(t.rooms.deletedDispatches).toHaveLength(5);
    const session = await t.store.proxy.get(body.sessionId);
    expect(session?.state).toBe('failed');
    expect(session?.attempts).toBe(5);
    expect(session?.failureCode).toBe('agent_join_timeout');
    expect(t.events.published).toEqual([
      {
        type: 'session.failed',
        sessionId: body.sessionId,
        at: expect.any(String),
        code: 'agent_join_timeout',
        reason: 'no test-agent agent joined within 5000 ms',
      },
    ]);
    const metrics = await t.dispatcher.metrics.registry.metrics();
    expect(metrics).toMatch(/^voicecare_dispatcher_dead_lettered_total 1$/m);
    // A replay of the dead letter is a duplicate of a failed session: acked, not re-run.
    const replay = await t.dispatcher.handle(new FakeMessage(body));
    expect(replay).toMatchObject({ outcome: 'duplicate', action: 'ack' });
    expect(t.events.published).toHaveLength(1);
  });

  it('counts attempts itself when the subscription does not (no dead-letter policy)', async () => {
    const t = harness({ maxDeliveryAttempts: 5 }, { workers: [] });
    const body = request();
    const outcomes: string[] = [];
    for (let i = 1; i <= 5; i++) {
      outcomes.push(
        (await t.dispatcher.handle(new FakeMessage(body, { deliveryAttempt: 0 }))).outcome,
      );
    }
    expect(outcomes).toEqual(['retried', 'retried', 'retried', 'retried', 'dead_lettered']);
  });

  it('fails a request whose deadline has passed, without dispatching, and acks it', async () => {
    const t = harness();
    const body = request({ deadline: '2026-03-02T08:59:00.000Z' });
    const msg = new FakeMessage(body);

    const s = await t.dispatcher.handle(msg);

    expect(s).toMatchObject({ outcome: 'failed', action: 'ack', code: 'deadline_expired' });
    expect(t.rooms.created).toHaveLength(0);
    const session = await t.store.proxy.get(body.sessionId);
    expect(session?.state).toBe('failed');
    expect(session?.failureCode).toBe('deadline_expired');
    expect(t.events.ofType('session.failed')).toMatchObject([{ code: 'deadline_expired' }]);
  });

  it('fails the session when its deadline passes while waiting for the agent', async () => {
    const clock = new VirtualClock();
    const t = harness({}, { clock, workers: [] });
    const body = request({ deadline: new Date(clock.now().getTime() + 1000).toISOString() });

    const s = await t.dispatcher.handle(new FakeMessage(body));

    expect(s).toMatchObject({ outcome: 'failed', action: 'ack', code: 'deadline_expired' });
    expect(t.rooms.deletedRooms).toEqual([t.dispatcher.roomFor(body.sessionId, 1)]);
    expect((await t.store.proxy.get(body.sessionId))?.state).toBe('failed');
  });

  it('retries when the session store is unreachable, touching nothing in LiveKit', async () => {
    const t = harness();
    t.store.failNext('claim', new TransientError('mongo_unavailable', 'down'));

    const s = await t.dispatcher.handle(new FakeMessage(request()));

    expect(s).toMatchObject({ outcome: 'retried', action: 'nack', code: 'mongo_unavailable' });
    expect(t.livekit.calls).toEqual([]);
  });

  it('hands a request back without dispatching or cleaning up when its lease is lost', async () => {
    class LosingLeases extends InMemoryPlacementLeases {
      override async renew(): Promise<boolean> {
        return false;
      }
    }
    const t = harness({}, { leases: new LosingLeases() });

    const s = await t.dispatcher.handle(new FakeMessage(request()));

    expect(s).toMatchObject({ outcome: 'retried', action: 'nack', code: 'lease_lost' });
    expect(t.rooms.created).toHaveLength(0);
    expect(t.rooms.deletedRooms).toEqual([]);
  });

  it('announces session.ready on a redelivery when the first publish failed, and only once', async () => {
    const t = harness();
    t.events.failNext = 1;
    const body = request();
    const msg = new FakeMessage(body);

    const first = await t.dispatcher.handle(msg);
    expect(first).toMatchObject({ outcome: 'retried', action: 'nack' });
    expect((await t.store.proxy.get(body.sessionId))?.state).toBe('active');
    // The agent stays: the session is placed, only the announcement is missing.
    expect(t.rooms.deletedRooms).toEqual([]);

    expect((await t.dispatcher.handle(msg.redeliver())).outcome).toBe('duplicate');
    expect((await t.dispatcher.handle(msg.redeliver(3))).outcome).toBe('duplicate');
    expect(t.events.ofType('session.ready')).toHaveLength(1);
    expect(t.rooms.created).toHaveLength(1);
  });
});

describe('Dispatcher announcements', () => {
  it('never fails a placed session because only its announcement keeps failing', async () => {
    const t = harness({ maxDeliveryAttempts: 5 });
    t.events.failNext = 10;
    const body = request();
    const msg = new FakeMessage(body);
    expect((await t.dispatcher.handle(msg)).outcome).toBe('retried');

    const last = await t.dispatcher.handle(msg.redeliver(5));

    expect(last).toMatchObject({ outcome: 'dead_lettered', action: 'nack' });
    expect((await t.store.proxy.get(body.sessionId))?.state).toBe('active');
    expect(t.rooms.deletedRooms).toEqual([]);
  });
});

describe('Dispatcher operations', () => {
  it('on stop, acks a placement that finishes in time and hands back one that does not, cleaning it up', async () => {
    const rooms = new FakeAgentRooms({ clock: systemClock, workers: [AGENT], joinAfterPolls: 3 });
    const t = harness(
      { joinTimeoutMs: 60_000, shutdownTimeoutMs: 1200, agentPollIntervalMs: 50 },
      { clock: systemClock, rooms },
    );
    t.dispatcher.start();
    // Real time here: requests must be fresh by it.
    const fresh = () => request({ requestedAt: new Date().toISOString() });
    const quick = new FakeMessage(fresh());
    const stuckBody = fresh();
    rooms.stuckRooms.add(t.dispatcher.roomFor(stuckBody.sessionId, 1));
    const stuck = new FakeMessage(stuckBody);
    t.source.deliver(quick);
    t.source.deliver(stuck);
    await new Promise((r) => setTimeout(r, 20));

    const report = await t.dispatcher.stop();
    const late = new FakeMessage(fresh());
    await t.dispatcher.handle(late);

    expect(quick.settled).toBe('ack');
    expect(stuck.settled).toBe('nack');
    expect(late.settled).toBe('nack');
    expect(report).toMatchObject({ drained: true, aborted: 1, sourceClosed: true });
    expect(report.durationMs).toBeLessThan(1500);
    expect(t.settled.map((s) => s.outcome).sort()).toEqual(['placed', 'requeued', 'requeued']);
    expect(rooms.deletedRooms).toEqual([t.dispatcher.roomFor(stuckBody.sessionId, 1)]);
    expect(t.source.closeCalls).toBe(1);
    // The handed-back session is free for the next delivery to place.
    expect((await t.store.proxy.get(stuckBody.sessionId))?.state).toBe('dispatching');
    expect(await t.leases.proxy.acquire(stuckBody.sessionId, 'next', new Date(), 1000)).toBe(true);
  });

  it('is ready only while its source is open and its checks pass', async () => {
    let mongoUp = true;
    const t = harness({
      readinessChecks: {
        mongo: async () => {
          if (!mongoUp) throw new TransientError('mongo_unavailable', 'down');
        },
      },
    });
    expect((await t.dispatcher.readiness()).ready).toBe(false);
    t.dispatcher.start();
    expect(await t.dispatcher.readiness()).toEqual({
      ready: true,
      checks: { dispatcher: 'ok', subscription: 'ok', mongo: 'ok' },
    });
    mongoUp = false;
    expect(await t.dispatcher.readiness()).toMatchObject({
      ready: false,
      checks: { mongo: 'mongo_unavailable' },
    });
    mongoUp = true;
    await t.dispatcher.stop();
    expect(await t.dispatcher.readiness()).toMatchObject({
      ready: false,
      checks: { dispatcher: 'stopping', subscription: 'closed' },
    });
  });

  it('counts requests by outcome, rejections by code, placement latency and in-flight', async () => {
    const t = harness();
    await t.dispatcher.handle(new FakeMessage(request()));
    await t.dispatcher.handle(new FakeMessage('nope'));
    const text = await t.dispatcher.metrics.registry.metrics();
    expect(text).toMatch(/^voicecare_dispatcher_requests_total\{outcome="placed"\} 1$/m);
    expect(text).toMatch(/^voicecare_dispatcher_requests_total\{outcome="rejected"\} 1$/m);
    expect(text).toMatch(/^voicecare_dispatcher_requests_total\{outcome="dead_lettered"\} 0$/m);
    expect(text).toMatch(/^voicecare_dispatcher_rejections_total\{code="malformed_json"\} 1$/m);
    expect(text).toMatch(/^voicecare_dispatcher_placement_seconds_count 1$/m);
    expect(text).toMatch(/^voicecare_dispatcher_publish_to_agent_joined_seconds_count 1$/m);
    expect(text).toMatch(/^voicecare_dispatcher_in_flight 0$/m);
    expect(t.dispatcher.stats()).toEqual({ inFlight: 0, peakInFlight: 1, handled: 2 });
  });

  it('binds its logs to the session and keeps patient data out of them', async () => {
    const t = harness({}, { workers: [] });
    const body = request();
    await t.dispatcher.handle(new FakeMessage(body));
    await t.dispatcher.handle(new FakeMessage({ ...body, sessionId: 'other-1', priority: 3 }));
    const text = t.logLines.join('');
    expect(text).not.toContain(DISPLAY_NAME);
    expect(text).not.toContain(PATIENT_REF);
    const settledLine = t.logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l['message'] === 'request settled' && l['outcome'] === 'retried');
    expect(settledLine).toMatchObject({ sessionId: body.sessionId, severity: 'WARNING' });
  });

  it('refuses options that cannot work', () => {
    const base = harness();
    expect(base.dispatcher).toBeDefined();
    expect(() => harness({ agentName: '' })).toThrow(/agentName/);
    expect(() => harness({ joinTimeoutMs: 0 })).toThrow(/joinTimeoutMs/);
    expect(() => harness({ leaseMs: 1000 })).toThrow(/leaseMs/);
  });
});
