import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TransientError } from '../infra/errors.ts';
import { createLogger } from '../infra/logger.ts';
import { Faults } from '../infra/testing/faults.ts';
import { VirtualClock } from '../infra/testing/virtual-clock.ts';
import { MemorySessionStore } from '../sessions/memory-store.ts';
import type { SessionRequest } from '../sessions/schema.ts';
import type { SessionStore } from '../sessions/store.ts';
import { RecordingEvents } from '../sessions/testing/events.ts';
import { InMemoryPlacementLeases } from './leases.ts';
import type { AgentRooms } from './livekit.ts';
import { Reaper, type ReaperOptions } from './reaper.ts';
import { FakeAgentRooms } from './testing/fakes.ts';

const AGENT = 'test-agent';
const logger = createLogger({ level: 'silent', service: 'reaper-test' });

function world() {
  const clock = new VirtualClock();
  const store = new MemorySessionStore();
  const leases = new InMemoryPlacementLeases();
  const rooms = new FakeAgentRooms({ clock, workers: [AGENT, 'other-pool'], joinAfterPolls: 1 });
  const events = new RecordingEvents();
  return { clock, store, leases, rooms, events };
}

type World = ReturnType<typeof world>;

/** Records the agent's own ending right after listing the session as active. */
class RacingStore extends MemorySessionStore {
  constructor(private readonly endsOnList: string) {
    super();
  }

  override async listInStates(...args: Parameters<SessionStore['listInStates']>) {
    const listed = await super.listInStates(...args);
    await this.transition(this.endsOnList, 'completed', new Date(), { endReason: 'patient_left' });
    return listed;
  }
}

function reaper(w: World, overrides: Partial<ReaperOptions> = {}) {
  return new Reaper({
    store: w.store,
    leases: w.leases,
    rooms: w.rooms,
    events: w.events,
    logger,
    clock: w.clock,
    agentGoneMs: 10_000,
    stuckMs: 600_000,
    ...overrides,
  });
}

function request(overrides: Partial<SessionRequest> = {}): SessionRequest {
  return {
    sessionId: `sess-${randomUUID().slice(0, 8)}`,
    profile: { id: 'intake', version: 1 },
    patient: { ref: 'pt-1' },
    requestedAt: '2026-03-02T08:59:00.000Z',
    priority: 'routine',
    ...overrides,
  };
}

/** An active session in its room, with our agent in it (as the dispatcher leaves it). */
async function activeCall(w: World): Promise<{ id: string; room: string }> {
  const req = request();
  const room = `session-${req.sessionId}-1`;
  await w.store.claim(req, w.clock.now());
  await w.store.transition(req.sessionId, 'dispatching', w.clock.now(), { room });
  await w.rooms.ensureRoom(room, { emptyTimeoutMs: 300_000, departureTimeoutMs: 20_000 });
  await w.rooms.createDispatch(room, AGENT, '{}');
  expect(await w.rooms.listAgents(room, AGENT)).toHaveLength(1);
  await w.store.transition(req.sessionId, 'active', w.clock.now(), { room });
  return { id: req.sessionId, room };
}

/** The worker died: its agent is gone from the room (which LiveKit keeps a while). */
function killAgent(w: World, room: string): void {
  const r = w.rooms.rooms.get(room);
  if (r) r.agents = [];
}

describe('Reaper: active sessions', () => {
  it('judges several sessions of a sweep at once, at most `concurrency`, so one slow LiveKit answer does not hold up the rest', async () => {
    const w = world();
    let inFlight = 0;
    let peak = 0;
    const listAgents = w.rooms.listAgents.bind(w.rooms);
    // A node that died: every question waits (here 50 ms of real time) before it is answered.
    w.rooms.listAgents = async (room, agentName) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 50));
      inFlight -= 1;
      return listAgents(room, agentName);
    };
    for (let i = 0; i < 7; i++) await activeCall(w);

    const report = await reaper(w, { concurrency: 3 }).sweep();

    expect(report).toMatchObject({ checked: 7, errors: 0, interrupted: [] });
    expect(peak).toBe(3);
    peak = 0;
    expect((await reaper(w, { concurrency: 1 }).sweep()).checked).toBe(7);
    expect(peak).toBe(1);
  });

  it('interrupts an active session whose agent has been gone for the grace, announces it and closes the room', async () => {
    const w = world();
    const r = reaper(w);
    const call = await activeCall(w);
    killAgent(w, call.room);

    const first = await r.sweep();
    expect(first).toMatchObject({ checked: 1, interrupted: [], suspects: 1 });
    expect((await w.store.get(call.id))?.state).toBe('active');

    w.clock.advance(10_000);
    const second = await r.sweep();

    expect(second).toMatchObject({ interrupted: [call.id], suspects: 0, errors: 0 });
    const session = await w.store.get(call.id);
    expect(session).toMatchObject({
      state: 'interrupted',
      endReason: 'agent_lost',
      failureCode: 'agent_lost',
      failureReason: 'the agent is gone: no agent in the room',
    });
    expect(session?.timestamps.interrupted).toEqual(w.clock.now());
    expect(w.events.ofType('session.completed')).toEqual([
      {
        type: 'session.completed',
        sessionId: call.id,
        at: w.clock.now().toISOString(),
        state: 'interrupted',
        reason: 'agent_lost',
      },
    ]);
    expect(w.rooms.deletedRooms).toEqual([call.room]);
  });

  it('says the room is gone when LiveKit has closed it', async () => {
    const w = world();
    const r = reaper(w, { agentGoneMs: 0 });
    const call = await activeCall(w);
    await w.rooms.deleteRoom(call.room);

    const report = await r.sweep();

    expect(report.interrupted).toEqual([call.id]);
    expect((await w.store.get(call.id))?.failureReason).toBe('the agent is gone: the room is gone');
  });

  it('leaves a call alone while its agent is in the room, however long it runs', async () => {
    const w = world();
    const r = reaper(w);
    const call = await activeCall(w);
    for (let i = 0; i < 5; i++) {
      w.clock.advance(60_000);
      expect(await r.sweep()).toMatchObject({ checked: 1, interrupted: [], suspects: 0 });
    }
    expect((await w.store.get(call.id))?.state).toBe('active');
    expect(w.events.published).toEqual([]);
  });

  it('counts an agent of any pool: a database may serve several agent names', async () => {
    const w = world();
    const r = reaper(w, { agentGoneMs: 0 });
    const call = await activeCall(w);
    killAgent(w, call.room);
    await w.rooms.createDispatch(call.room, 'other-pool', '{}');
    expect(await w.rooms.listAgents(call.room, 'other-pool')).toHaveLength(1);

    expect((await r.sweep()).interrupted).toEqual([]);
    expect((await w.store.get(call.id))?.state).toBe('active');
  });

  it('forgives an agent that was back before the grace ran out', async () => {
    const w = world();
    const r = reaper(w);
    const call = await activeCall(w);
    const agents = w.rooms.rooms.get(call.room)!.agents;
    killAgent(w, call.room);
    await r.sweep();
    w.clock.advance(5000);
    w.rooms.rooms.get(call.room)!.agents = agents;
    await r.sweep();
    killAgent(w, call.room);
    w.clock.advance(6000);

    const report = await r.sweep();

    expect(report).toMatchObject({ interrupted: [], suspects: 1 });
    expect((await w.store.get(call.id))?.state).toBe('active');
  });

  it('waits out the handoff grace for a successor before counting the agent gone', async () => {
    const w = world();
    const r = reaper(w, { handoffGraceMs: 30_000 });
    const call = await activeCall(w);
    expect(
      await w.store.noteHandoff(
        call.id,
        { fromJob: 'AJ_old', requestedAt: w.clock.now() },
        w.clock.now(),
      ),
    ).toBe(true);
    // The old agent left when its drain ran out; its successor's job is slow to start.
    killAgent(w, call.room);

    for (let t = 0; t < 30_000; t += 10_000) {
      expect((await r.sweep()).interrupted).toEqual([]);
      w.clock.advance(10_000);
    }
    // Grace over: gone is counted from here, for agentGoneMs.
    expect((await r.sweep()).interrupted).toEqual([]);
    expect((await w.store.get(call.id))?.state).toBe('active');
    w.clock.advance(10_000);

    expect((await r.sweep()).interrupted).toEqual([call.id]);
    expect(await w.store.get(call.id)).toMatchObject({
      state: 'interrupted',
      endReason: 'agent_lost',
    });
  });

  it("lets the agent's own ending win when it lands first, and announces nothing", async () => {
    const w = world();
    const call = await activeCall(w);
    killAgent(w, call.room);
    // The agent records its ending after the reaper listed the session as active.
    const store = new RacingStore(call.id);
    const racing = reaper({ ...w, store }, { agentGoneMs: 0 });
    await store.claim(request({ sessionId: call.id }), w.clock.now());
    await store.transition(call.id, 'active', w.clock.now(), { room: call.room });

    const report = await racing.sweep();

    expect(report.interrupted).toEqual([]);
    expect((await store.get(call.id))?.state).toBe('completed');
    expect(w.events.published).toEqual([]);
  });

  it('makes one transition and one event when two reapers sweep the same session at once', async () => {
    const w = world();
    const call = await activeCall(w);
    killAgent(w, call.room);
    const a = reaper(w, { agentGoneMs: 0, instanceId: 'a' });
    const b = reaper(w, { agentGoneMs: 0, instanceId: 'b' });

    const [ra, rb] = await Promise.all([a.sweep(), b.sweep()]);

    expect([...ra.interrupted, ...rb.interrupted]).toEqual([call.id]);
    expect(w.events.ofType('session.completed')).toHaveLength(1);
  });

  it('judges nothing while LiveKit cannot be asked, and tries again next sweep', async () => {
    const w = world();
    const livekit = new Faults<AgentRooms>(w.rooms);
    const r = reaper(
      { ...w, rooms: livekit.proxy as unknown as FakeAgentRooms },
      { agentGoneMs: 0 },
    );
    const call = await activeCall(w);
    killAgent(w, call.room);
    livekit.failNext('listAgents', new TransientError('livekit_unavailable', 'down'));

    expect(await r.sweep()).toMatchObject({ interrupted: [], errors: 1 });
    expect((await w.store.get(call.id))?.state).toBe('active');
    expect(await r.sweep()).toMatchObject({ interrupted: [call.id], errors: 0 });
  });
  it('interrupts as node_lost a session whose room LiveKit lists but cannot say who is in it, after two sweeps and the grace', async () => {
    const w = world();
    const livekit = new Faults<AgentRooms>(w.rooms);
    const r = reaper({ ...w, rooms: livekit.proxy as unknown as FakeAgentRooms });
    const call = await activeCall(w);
    // The room's node died: the agent is still listed in its copy, but nobody answers for it.
    livekit.failNext('listAgents', new TransientError('livekit_unavailable', 'no response'), 3);

    expect(await r.sweep()).toMatchObject({ interrupted: [], errors: 1, suspects: 1 });
    w.clock.advance(5_000);
    expect(await r.sweep()).toMatchObject({ interrupted: [], errors: 1 });
    expect((await w.store.get(call.id))?.state).toBe('active');
    w.clock.advance(5_000);
    expect(await r.sweep()).toMatchObject({ interrupted: [call.id] });

    expect(await w.store.get(call.id)).toMatchObject({
      state: 'interrupted',
      endReason: 'node_lost',
      failureCode: 'node_lost',
      failureReason: 'the agent is gone: the LiveKit node hosting its room does not answer',
    });
    expect(w.events.ofType('session.completed')).toMatchObject([
      { sessionId: call.id, state: 'interrupted', reason: 'node_lost' },
    ]);
  });

  it('keeps a session whose room answers again before the grace ends', async () => {
    const w = world();
    const livekit = new Faults<AgentRooms>(w.rooms);
    const r = reaper({ ...w, rooms: livekit.proxy as unknown as FakeAgentRooms });
    const call = await activeCall(w);
    livekit.failNext('listAgents', new TransientError('livekit_unavailable', 'no response'), 1);

    await r.sweep();
    w.clock.advance(10_000);
    expect(await r.sweep()).toMatchObject({ interrupted: [], errors: 0, suspects: 0 });
    w.clock.advance(10_000);
    expect(await r.sweep()).toMatchObject({ interrupted: [] });
    expect((await w.store.get(call.id))?.state).toBe('active');
  });

  it('judges nothing while neither the room nor LiveKit answers', async () => {
    const w = world();
    const livekit = new Faults<AgentRooms>(w.rooms);
    const r = reaper(
      { ...w, rooms: livekit.proxy as unknown as FakeAgentRooms },
      { agentGoneMs: 0 },
    );
    const call = await activeCall(w);
    const down = new TransientError('livekit_unavailable', 'down');
    livekit.failNext('listAgents', down, 3).failNext('roomExists', down, 3);

    for (let i = 0; i < 3; i++) {
      expect(await r.sweep()).toMatchObject({ interrupted: [], errors: 1 });
      w.clock.advance(10_000);
    }
    expect((await w.store.get(call.id))?.state).toBe('active');
  });
});

describe('Reaper: sessions never placed', () => {
  it('fails a dispatching session past its deadline, announces session.failed once, and closes its room', async () => {
    const w = world();
    const r = reaper(w);
    const req = request({ deadline: '2026-03-02T09:05:00.000Z' });
    const room = `session-${req.sessionId}-1`;
    await w.store.claim(req, w.clock.now());
    await w.store.transition(req.sessionId, 'dispatching', w.clock.now(), { room });
    await w.rooms.ensureRoom(room, { emptyTimeoutMs: 1, departureTimeoutMs: 1 });

    expect((await r.sweep()).failed).toEqual([]);
    w.clock.advance(5 * 60_000);
    const report = await r.sweep();

    expect(report.failed).toEqual([req.sessionId]);
    expect(await w.store.get(req.sessionId)).toMatchObject({
      state: 'failed',
      failureCode: 'deadline_expired',
    });
    expect(w.events.ofType('session.failed')).toMatchObject([
      { sessionId: req.sessionId, code: 'deadline_expired' },
    ]);
    expect(await w.leases.wasAnnounced(req.sessionId, 'session.failed')).toBe(true);
    expect(w.rooms.deletedRooms).toEqual([room]);
    // The lease is free again.
    expect(await w.leases.holder(req.sessionId, w.clock.now())).toBeNull();
  });

  it('fails a session nobody placed within stuckMs as placement_abandoned, and not a younger one', async () => {
    const w = world();
    const r = reaper(w, { stuckMs: 600_000 });
    const old = request();
    await w.store.claim(old, w.clock.now());
    w.clock.advance(300_000);
    const young = request();
    await w.store.claim(young, w.clock.now());
    await w.store.transition(young.sessionId, 'dispatching', w.clock.now());
    w.clock.advance(300_000);

    const report = await r.sweep();

    expect(report.failed).toEqual([old.sessionId]);
    expect((await w.store.get(old.sessionId))?.failureCode).toBe('placement_abandoned');
    expect((await w.store.get(young.sessionId))?.state).toBe('dispatching');
  });

  it('leaves a session alone while a delivery holds its placement lease', async () => {
    const w = world();
    const r = reaper(w, { stuckMs: 1000 });
    const req = request();
    await w.store.claim(req, w.clock.now());
    await w.store.transition(req.sessionId, 'dispatching', w.clock.now());
    await w.leases.acquire(req.sessionId, 'dispatcher-a/msg-1/n', w.clock.now(), 60_000);
    w.clock.advance(5000);

    expect((await r.sweep()).failed).toEqual([]);
    expect((await w.store.get(req.sessionId))?.state).toBe('dispatching');
    expect(w.events.published).toEqual([]);
  });

  it('fails a stuck session once when two reapers race, with one event', async () => {
    const w = world();
    const req = request();
    await w.store.claim(req, w.clock.now());
    w.clock.advance(700_000);
    const a = reaper(w, { instanceId: 'a' });
    const b = reaper(w, { instanceId: 'b' });

    const [ra, rb] = await Promise.all([a.sweep(), b.sweep()]);

    expect([...ra.failed, ...rb.failed]).toEqual([req.sessionId]);
    expect(w.events.ofType('session.failed')).toHaveLength(1);
  });
});

describe('Reaper: lifecycle', () => {
  it('refuses options that cannot work', () => {
    const w = world();
    expect(() => reaper(w, { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => reaper(w, { stuckMs: 0 })).toThrow(/stuckMs/);
    expect(() => reaper(w, { agentGoneMs: -1 })).toThrow(/agentGoneMs/);
  });

  it('sweeps on its interval until stopped', async () => {
    const w = world();
    const call = await activeCall(w);
    killAgent(w, call.room);
    const r = new Reaper({
      store: w.store,
      leases: w.leases,
      rooms: w.rooms,
      events: w.events,
      logger,
      clock: w.clock,
      intervalMs: 20,
      agentGoneMs: 0,
    });
    r.start();
    const until = Date.now() + 5000;
    while ((await w.store.get(call.id))?.state === 'active' && Date.now() < until) {
      await new Promise((res) => setTimeout(res, 10));
    }
    await r.stop();
    expect((await w.store.get(call.id))?.state).toBe('interrupted');
  });
});
