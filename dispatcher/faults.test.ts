/**
 * Issue 15 "requests never vanish", the dispatcher's part: every rejection is announced, stale
 * requests are refused, duplicates never hold a slot, a store blip after the agent joined never
 * closes its room, and health reports a broken subscription.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TransientError } from '../infra/errors.ts';
import { createLogger } from '../infra/logger.ts';
import { Faults } from '../infra/testing/faults.ts';
import { VirtualClock } from '../infra/testing/virtual-clock.ts';
import { MemorySessionStore } from '../sessions/memory-store.ts';
import type { SessionState } from '../sessions/schema.ts';
import type { SessionStore, TransitionPatch } from '../sessions/store.ts';
import { RecordingEvents } from '../sessions/testing/events.ts';
import { deliveryOwner, messageOfOwner } from './delivery.ts';
import { Dispatcher, type DispatcherOptions, type Settlement } from './dispatcher.ts';
import { InMemoryPlacementLeases, type PlacementLeases } from './leases.ts';
import type { AgentRooms } from './livekit.ts';
import { InMemoryProfileCatalog } from './profiles.ts';
import { FakeAgentRooms, FakeMessage, FakeRequestSource } from './testing/fakes.ts';

const AGENT = 'test-agent';

function request(overrides: Record<string, unknown> = {}) {
  return {
    sessionId: `sess-${randomUUID().slice(0, 8)}`,
    profile: { id: 'intake', version: 2 },
    patient: { ref: 'pt-7731-zq', displayName: 'Ada Lovelace', language: 'en-GB' },
    requestedAt: '2026-03-02T08:59:59.000Z',
    ...overrides,
  };
}

function harness(
  overrides: Partial<DispatcherOptions> = {},
  h: { store?: SessionStore; leases?: PlacementLeases; clock?: VirtualClock } = {},
) {
  const clock = h.clock ?? new VirtualClock();
  const store = new Faults<SessionStore>(h.store ?? new MemorySessionStore());
  const leases = h.leases ?? new InMemoryPlacementLeases();
  const rooms = new FakeAgentRooms({ clock, workers: [AGENT] });
  const livekit = new Faults<AgentRooms>(rooms);
  const events = new RecordingEvents();
  const settled: Settlement[] = [];
  const source = new FakeRequestSource();
  const dispatcher = new Dispatcher({
    store: store.proxy,
    leases,
    rooms: livekit.proxy,
    events,
    profiles: new InMemoryProfileCatalog().publish('intake', 2),
    source,
    agentName: AGENT,
    livekitUrl: 'wss://livekit.test',
    logger: createLogger({ level: 'silent', service: 'dispatcher-test' }),
    clock,
    joinTimeoutMs: 5000,
    instanceId: 'dispatcher-a',
    onSettled: (s) => settled.push(s),
    ...overrides,
  });
  return { dispatcher, clock, store, leases, rooms, livekit, events, settled, source };
}

describe('every rejection is announced', () => {
  const cases: { name: string; body: unknown; code: string; sessionId?: boolean }[] = [
    { name: 'malformed JSON', body: '{"sessionId": ', code: 'malformed_json' },
    {
      name: 'an invalid request',
      body: request({ priority: 'asap' }),
      code: 'invalid_request',
      sessionId: true,
    },
    {
      name: 'an unknown profile',
      body: request({ profile: { id: 'astrology' } }),
      code: 'unknown_profile',
      sessionId: true,
    },
    {
      name: 'a display name with a right-to-left override',
      body: request({ patient: { ref: 'pt-1', displayName: 'Ada\u202e' } }),
      code: 'unsafe_text',
      sessionId: true,
    },
    {
      name: 'a request three days old',
      body: request({ requestedAt: '2026-02-27T09:00:00.000Z' }),
      code: 'stale_request',
      sessionId: true,
    },
  ];
  for (const c of cases) {
    it(`publishes session.rejected with code ${c.code} for ${c.name}, records it and acks`, async () => {
      const t = harness();
      const msg = new FakeMessage(c.body);

      const s = await t.dispatcher.handle(msg);

      expect(s).toMatchObject({ outcome: 'rejected', action: 'ack', code: c.code });
      const [event, ...more] = t.events.ofType('session.rejected');
      expect(more).toEqual([]);
      expect(event).toMatchObject({
        messageId: msg.id,
        code: c.code,
        at: t.clock.now().toISOString(),
      });
      const body = c.body as { sessionId?: string };
      expect(event?.sessionId).toBe(c.sessionId ? body.sessionId : undefined);
      expect(await t.store.proxy.listRejections({ messageId: msg.id })).toMatchObject([
        { code: c.code },
      ]);
      expect(t.rooms.created).toEqual([]);
      // The reason names no patient data.
      expect(JSON.stringify(event)).not.toContain('Ada');
    });
  }

  it('nacks a rejection it could not announce, and announces it on the redelivery', async () => {
    const t = harness();
    t.events.failNext = 1;
    const msg = new FakeMessage('nope');

    const first = await t.dispatcher.handle(msg);
    const again = await t.dispatcher.handle(msg.redeliver());

    expect(first).toMatchObject({ outcome: 'retried', action: 'nack', code: 'malformed_json' });
    expect(again).toMatchObject({ outcome: 'rejected', action: 'ack' });
    expect(t.events.ofType('session.rejected')).toHaveLength(1);
    expect(await t.store.proxy.listRejections({ messageId: msg.id })).toHaveLength(1);
  });

  it('places a request within the configured age, and rejects one just past it', async () => {
    const t = harness({ maxRequestAgeMs: 60_000 });
    const at = (ms: number) => new Date(t.clock.now().getTime() - ms).toISOString();

    const fresh = await t.dispatcher.handle(new FakeMessage(request({ requestedAt: at(59_000) })));
    const stale = await t.dispatcher.handle(new FakeMessage(request({ requestedAt: at(61_000) })));

    expect(fresh.outcome).toBe('placed');
    expect(stale).toMatchObject({ outcome: 'rejected', code: 'stale_request' });
  });
});

describe('duplicates never hold a placement slot', () => {
  it('reads the message id back from a delivery owner, and none from other owners', () => {
    expect(messageOfOwner(deliveryOwner('host-1-ab', '1234', 'n0nce'))).toBe('1234');
    expect(messageOfOwner(deliveryOwner('a/b', 'm-9', 'x'))).toBe('m-9');
    expect(messageOfOwner('reaper/host-1')).toBeUndefined();
    expect(messageOfOwner('slow-dispatcher')).toBeUndefined();
  });

  it('acks a copy in another message at once while that message is being placed', async () => {
    const t = harness();
    const body = request();
    await t.store.proxy.claim({ ...body, priority: 'routine' }, t.clock.now());
    const holder = deliveryOwner('dispatcher-b', 'msg-other', 'n0nce');
    await t.leases.acquire(body.sessionId, holder, t.clock.now(), 30_000);
    const started = t.clock.now().getTime();
    const copy = new FakeMessage(body);

    const s = await t.dispatcher.handle(copy);

    expect(s).toMatchObject({ outcome: 'duplicate', action: 'ack', code: 'placement_in_progress' });
    // No waiting: the virtual clock only moves when something sleeps.
    expect(t.clock.now().getTime() - started).toBe(0);
    expect(t.rooms.created).toEqual([]);
  });

  it('still waits behind a redelivery of the same message (its holder may have crashed)', async () => {
    const t = harness({ leaseMs: 3000 });
    const body = request();
    const msg = new FakeMessage(body);
    await t.store.proxy.claim({ ...body, priority: 'routine' }, t.clock.now());
    await t.leases.acquire(
      body.sessionId,
      deliveryOwner('crashed', msg.id, 'n0nce'),
      t.clock.now(),
      3000,
    );

    const s = await t.dispatcher.handle(msg.redeliver());

    expect(s.outcome).toBe('placed');
    expect(t.clock.now().getTime() - Date.parse('2026-03-02T09:00:00.000Z')).toBeGreaterThanOrEqual(
      3000,
    );
  });
});

/** Fails the given transitions, as a MongoDB blip would, the given number of times. */
class BlippingStore extends MemorySessionStore {
  constructor(
    private readonly failing: SessionState,
    private times: number,
  ) {
    super();
  }

  override async transition(
    sessionId: string,
    to: SessionState,
    now: Date,
    patch?: TransitionPatch,
  ) {
    if (to === this.failing && this.times > 0) {
      this.times -= 1;
      throw new TransientError('mongo_unavailable', 'mongo transition failed transiently');
    }
    return super.transition(sessionId, to, now, patch);
  }
}

describe('a store blip after the agent joined', () => {
  it('leaves the room and its agent alone, and a redelivery records the call active there', async () => {
    const t = harness({}, { store: new BlippingStore('active', 1) });
    const body = request();
    const msg = new FakeMessage(body);

    const first = await t.dispatcher.handle(msg);

    expect(first).toMatchObject({ outcome: 'retried', action: 'nack', code: 'mongo_unavailable' });
    const room = t.dispatcher.roomFor(body.sessionId, 1);
    expect(t.rooms.deletedRooms).toEqual([]);
    expect(t.rooms.deletedDispatches).toEqual([]);
    expect(t.rooms.liveDispatches(room)).toHaveLength(1);

    const again = await t.dispatcher.handle(msg.redeliver());

    expect(again).toMatchObject({ outcome: 'placed', room });
    expect(t.rooms.created).toHaveLength(1);
    expect(t.rooms.deletedRooms).toEqual([]);
    expect((await t.store.proxy.get(body.sessionId))?.state).toBe('active');
  });

  it('on the last delivery attempt still fails nothing and closes nothing', async () => {
    const t = harness({ maxDeliveryAttempts: 5 }, { store: new BlippingStore('active', 1) });
    const body = request();

    const s = await t.dispatcher.handle(new FakeMessage(body, { deliveryAttempt: 5 }));

    expect(s).toMatchObject({ outcome: 'dead_lettered', action: 'nack' });
    expect(t.rooms.deletedRooms).toEqual([]);
    expect((await t.store.proxy.get(body.sessionId))?.state).toBe('dispatching');
    expect(t.events.ofType('session.failed')).toEqual([]);
  });
});

describe('health reports a broken subscription', () => {
  it('is not ready after a stream error until a message gets through again', async () => {
    const t = harness();
    t.dispatcher.start();
    expect((await t.dispatcher.readiness()).ready).toBe(true);

    t.source.emitError(Object.assign(new Error('stream failed'), { code: 14 }));

    expect(await t.dispatcher.readiness()).toMatchObject({
      ready: false,
      checks: { subscription: 'errored (14)' },
    });
    t.source.deliver(new FakeMessage(request()));
    expect((await t.dispatcher.readiness()).checks['subscription']).toBe('ok');
    await t.dispatcher.stop();
  });

  it('is not live once its subscription closed by itself, and live again while stopping', async () => {
    const t = harness();
    t.dispatcher.start();
    expect(t.dispatcher.live()).toBe(true);

    await t.source.close();

    expect(t.dispatcher.live()).toBe(false);
    expect((await t.dispatcher.readiness()).checks['subscription']).toBe('closed');
    await t.dispatcher.stop();
    expect(t.dispatcher.live()).toBe(true);
  });
});
