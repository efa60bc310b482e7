import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../infra/errors.ts';
import { createLogger } from '../infra/logger.ts';
import { VirtualClock } from '../infra/testing/virtual-clock.ts';
import { MemorySessionStore } from '../sessions/memory-store.ts';
import { replayRequest, replaySessionId } from '../sessions/replay.ts';
import { SessionRequestV1, type SessionRequest } from '../sessions/schema.ts';
import { RecordingEvents } from '../sessions/testing/events.ts';
import { Dispatcher } from './dispatcher.ts';
import { InMemoryPlacementLeases } from './leases.ts';
import { InMemoryProfileCatalog } from './profiles.ts';
import { replaySession, type DeadLetter, type DeadLetterSource } from './replay.ts';
import { FakeAgentRooms, FakeMessage } from './testing/fakes.ts';

const AGENT = 'test-agent';

function request(overrides: Partial<SessionRequest> = {}): SessionRequest {
  return SessionRequestV1.parse({
    sessionId: `sess-${randomUUID().slice(0, 8)}`,
    profile: { id: 'intake', version: 2 },
    patient: { ref: 'pt-7731-zq', displayName: 'Ada Lovelace', language: 'en-GB' },
    requestedAt: '2026-03-01T09:00:00.000Z',
    ...overrides,
  });
}

/** A dead-letter subscription holding the given bodies; records what was acked and nacked. */
class FakeDeadLetters implements DeadLetterSource {
  readonly acked: string[] = [];
  readonly nacked: string[] = [];
  constructor(private readonly held: (SessionRequest | string)[]) {}
  async pull(): Promise<DeadLetter[]> {
    return this.held.map((body, i) => ({
      messageId: `dl-${i}`,
      request: typeof body === 'string' ? undefined : body,
      ack: () => void this.acked.push(`dl-${i}`),
      nack: () => void this.nacked.push(`dl-${i}`),
    }));
  }
  async close(): Promise<void> {}
}

function world() {
  const clock = new VirtualClock();
  const store = new MemorySessionStore();
  const published: SessionRequest[] = [];
  const publish = async (r: SessionRequest) => {
    published.push(r);
    return `m-${published.length}`;
  };
  return { clock, store, published, publish };
}

async function failedSession(w: ReturnType<typeof world>, req = request()) {
  await w.store.claim(req, w.clock.now());
  await w.store.transition(req.sessionId, 'failed', w.clock.now(), {
    failureCode: 'agent_join_timeout',
  });
  return req;
}

describe('replay ids and requests', () => {
  it('names the n-th replay <id>.r<n>, and keeps over-long ids valid and distinct', () => {
    expect(replaySessionId('sess-1', 1)).toBe('sess-1.r1');
    const long = 'a'.repeat(128);
    const other = `${'a'.repeat(127)}b`;
    for (const id of [replaySessionId(long, 12), replaySessionId(other, 12)]) {
      expect(id.length).toBeLessThanOrEqual(128);
      expect(SessionRequestV1.shape.sessionId.safeParse(id).success).toBe(true);
    }
    expect(replaySessionId(long, 12)).not.toBe(replaySessionId(other, 12));
  });

  it('requests the re-run now, drops a passed deadline, keeps a later one, and stamps who and when', () => {
    const at = new Date('2026-03-02T09:00:00.000Z');
    const passed = replayRequest(request({ deadline: '2026-03-01T10:00:00.000Z' }), {
      of: 'sess-1',
      attempt: 2,
      by: 'alice',
      at,
      source: 'dead_letter',
    });
    expect(passed).toMatchObject({
      sessionId: 'sess-1.r2',
      requestedAt: at.toISOString(),
      patient: { displayName: 'Ada Lovelace' },
      replay: {
        of: 'sess-1',
        attempt: 2,
        by: 'alice',
        at: at.toISOString(),
        source: 'dead_letter',
      },
    });
    expect(passed.deadline).toBeUndefined();
    const later = replayRequest(request({ deadline: '2026-03-02T10:00:00.000Z' }), {
      of: 'sess-1',
      attempt: 1,
      by: 'alice',
      at,
      source: 'session',
    });
    expect(later.deadline).toBe('2026-03-02T10:00:00.000Z');
  });

  it('refuses an operator name with control characters', () => {
    expect(() =>
      replayRequest(request(), {
        of: 's',
        attempt: 1,
        by: 'eve\u202e',
        at: new Date(),
        source: 'session',
      }),
    ).toThrow(/replay\.by|bidirectional/);
  });
});

describe('replaySession', () => {
  it('re-runs a dead-lettered request whole, removes its copies and hands back the rest', async () => {
    const w = world();
    const original = await failedSession(w);
    const other = request();
    const dlq = new FakeDeadLetters([other, original, 'not json', original]);

    const result = await replaySession(original.sessionId, {
      store: w.store,
      publish: w.publish,
      deadLetters: dlq,
      by: 'alice',
      now: () => w.clock.now(),
    });

    expect(result).toMatchObject({
      sessionId: `${original.sessionId}.r1`,
      attempt: 1,
      source: 'dead_letter',
      deadLettersRemoved: 2,
    });
    expect(w.published).toHaveLength(1);
    expect(w.published[0]?.patient).toEqual(original.patient);
    expect(dlq.acked.sort()).toEqual(['dl-1', 'dl-3']);
    expect(dlq.nacked.sort()).toEqual(['dl-0', 'dl-2']);
    // The original record is untouched.
    expect((await w.store.get(original.sessionId))?.state).toBe('failed');
  });

  it('rebuilds the request from the record when nothing is dead-lettered, without the name', async () => {
    const w = world();
    const original = await failedSession(w);

    const result = await replaySession(original.sessionId, {
      store: w.store,
      publish: w.publish,
      by: 'bob',
      now: () => w.clock.now(),
    });

    expect(result.source).toBe('session');
    expect(w.published[0]).toMatchObject({
      profile: original.profile,
      patient: { ref: original.patient.ref },
      replay: { by: 'bob', source: 'session' },
    });
    expect(w.published[0]?.patient.displayName).toBeUndefined();
  });

  it('numbers replays of replays along the first session', async () => {
    const w = world();
    const original = await failedSession(w);
    const opts = { store: w.store, publish: w.publish, by: 'carol', now: () => w.clock.now() };
    const first = await replaySession(original.sessionId, opts);
    // The dispatcher claimed the re-run, and it failed too.
    await failedSession(w, first.request);

    const second = await replaySession(first.sessionId, opts);

    expect(second).toMatchObject({ sessionId: `${original.sessionId}.r2`, attempt: 2 });
    expect(w.published[1]?.replay?.of).toBe(original.sessionId);
  });

  it('refuses a session that is still running or went well, and one it cannot find', async () => {
    const w = world();
    const req = request();
    await w.store.claim(req, w.clock.now());
    await w.store.transition(req.sessionId, 'active', w.clock.now());
    const dlq = new FakeDeadLetters([req]);
    const opts = {
      store: w.store,
      publish: w.publish,
      deadLetters: dlq,
      by: 'dan',
      now: () => w.clock.now(),
    };

    await expect(replaySession(req.sessionId, opts)).rejects.toMatchObject({
      code: 'replay_not_allowed',
    });
    await expect(replaySession('nobody', opts)).rejects.toBeInstanceOf(PermanentError);
    expect(w.published).toEqual([]);
    // Nothing was removed from the dead-letter topic by the refusals.
    expect(dlq.acked).toEqual([]);
  });

  it('is placed by the dispatcher as a new session, not acked as a duplicate of the original', async () => {
    const w = world();
    const original = await failedSession(w, request({ requestedAt: w.clock.now().toISOString() }));
    const replayedAt = w.clock.now();
    await replaySession(original.sessionId, {
      store: w.store,
      publish: w.publish,
      deadLetters: new FakeDeadLetters([original]),
      by: 'erin',
      now: () => w.clock.now(),
    });
    const rooms = new FakeAgentRooms({ clock: w.clock, workers: [AGENT] });
    const dispatcher = new Dispatcher({
      store: w.store,
      leases: new InMemoryPlacementLeases(),
      rooms,
      events: new RecordingEvents(),
      profiles: new InMemoryProfileCatalog().publish('intake', 2),
      agentName: AGENT,
      livekitUrl: 'wss://livekit.test',
      logger: createLogger({ level: 'silent', service: 'replay-test' }),
      clock: w.clock,
    });
    // The original request arriving again is still a duplicate...
    expect((await dispatcher.handle(new FakeMessage(original))).outcome).toBe('duplicate');

    // ...its replay is placed.
    const s = await dispatcher.handle(new FakeMessage(w.published[0]));

    expect(s).toMatchObject({ outcome: 'placed', sessionId: `${original.sessionId}.r1` });
    const replayed = await w.store.get(`${original.sessionId}.r1`);
    expect(replayed).toMatchObject({
      state: 'active',
      replayOf: { sessionId: original.sessionId, attempt: 1, by: 'erin', source: 'dead_letter' },
    });
    expect(replayed?.replayOf?.at).toEqual(replayedAt);
    expect((await w.store.get(original.sessionId))?.state).toBe('failed');
    expect(JSON.parse(rooms.created[0]!.metadata)).toMatchObject({ replay: { by: 'erin' } });
  });
});
