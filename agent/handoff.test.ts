import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { jobMetadata, readJobMetadata } from '../sessions/intake.ts';
import { MemorySessionStore } from '../sessions/memory-store.ts';
import { SessionRequestV1 } from '../sessions/schema.ts';
import {
  agentIdentity,
  handOverLiveCalls,
  JobLedger,
  readHandoverReply,
  readHandoverRequest,
  type HandoffDispatcher,
} from './handoff.ts';

const log = pino({ level: 'silent' });
const t0 = new Date('2026-01-01T00:00:00.000Z');

function request(sessionId: string) {
  return SessionRequestV1.parse({
    sessionId,
    profile: { id: 'intake' },
    patient: { ref: 'pt-1' },
    requestedAt: t0.toISOString(),
  });
}

class RecordingDispatcher implements HandoffDispatcher {
  readonly dispatched: { room: string; agentName: string; metadata: string }[] = [];
  failRooms = new Set<string>();
  async createDispatch(room: string, agentName: string, metadata: string): Promise<unknown> {
    if (this.failRooms.has(room)) throw new Error('livekit unavailable');
    this.dispatched.push({ room, agentName, metadata });
    return { id: `AD_${room}` };
  }
}

/** A session in `state`, placed in `room`. */
async function session(store: MemorySessionStore, id: string, room: string, live: boolean) {
  await store.claim(request(id), t0);
  await store.transition(id, 'dispatching', t0);
  await store.transition(id, 'active', t0, { room });
  if (!live) await store.transition(id, 'completed', t0);
}

describe('JobLedger', () => {
  it('forgets jobs older than the longest possible call', () => {
    let now = 0;
    const ledger = new JobLedger({ maxAgeMs: 1000, now: () => now });
    ledger.note({ jobId: 'a', room: 'r1', metadata: '{}' });
    now = 600;
    ledger.note({ jobId: 'b', room: 'r2', metadata: '{}' });
    now = 1200;
    expect(ledger.recent().map((j) => j.jobId)).toEqual(['b']);
  });

  it('refuses a non-positive age', () => {
    expect(() => new JobLedger({ maxAgeMs: 0 })).toThrow(/maxAgeMs/);
  });
});

describe('handOverLiveCalls', () => {
  it('dispatches only the calls still live in their room, re-addressed to a successor', async () => {
    const store = new MemorySessionStore();
    await session(store, 'live', 'room-live', true);
    await session(store, 'ended', 'room-ended', false);
    await session(store, 'moved', 'room-new', true);
    const dispatcher = new RecordingDispatcher();
    const jobs = [
      { jobId: 'AJ_1', room: 'room-live', metadata: jobMetadata(request('live')), acceptedAtMs: 0 },
      {
        jobId: 'AJ_2',
        room: 'room-ended',
        metadata: jobMetadata(request('ended')),
        acceptedAtMs: 0,
      },
      // The dispatcher placed this session again in another room: not this job's call any more.
      { jobId: 'AJ_3', room: 'room-old', metadata: jobMetadata(request('moved')), acceptedAtMs: 0 },
      { jobId: 'AJ_4', room: 'room-x', metadata: 'not json', acceptedAtMs: 0 },
    ];
    const at = new Date('2026-01-01T00:03:00.000Z');
    const report = await handOverLiveCalls(jobs, {
      dispatcher,
      sessions: store,
      agentName: 'voicecare',
      log,
      now: () => at,
    });
    expect(report).toEqual({ dispatched: 1, noted: 1, skipped: 3, failed: 0 });
    expect(dispatcher.dispatched).toHaveLength(1);
    // The session says who is leaving it, so that job leaves it open for the successor.
    expect((await store.get('live'))?.handoff).toEqual({ fromJob: 'AJ_1', requestedAt: at });
    expect((await store.get('ended'))?.handoff).toBeUndefined();
    const d = dispatcher.dispatched[0]!;
    expect(d).toMatchObject({ room: 'room-live', agentName: 'voicecare' });
    expect(readJobMetadata(d.metadata)).toEqual({
      ok: true,
      request: request('live'),
      handoff: { fromJob: 'AJ_1', requestedAt: at.toISOString() },
    });
  });

  it('counts a dispatch that fails, and still hands over the others', async () => {
    const store = new MemorySessionStore();
    await session(store, 's1', 'r1', true);
    await session(store, 's2', 'r2', true);
    const dispatcher = new RecordingDispatcher();
    dispatcher.failRooms.add('r1');
    const report = await handOverLiveCalls(
      [
        { jobId: 'AJ_1', room: 'r1', metadata: jobMetadata(request('s1')), acceptedAtMs: 0 },
        { jobId: 'AJ_2', room: 'r2', metadata: jobMetadata(request('s2')), acceptedAtMs: 0 },
      ],
      { dispatcher, sessions: store, agentName: 'voicecare', log },
    );
    expect(report).toEqual({ dispatched: 1, noted: 1, skipped: 0, failed: 1 });
    expect(dispatcher.dispatched.map((d) => d.room)).toEqual(['r2']);
    // No successor is coming for s1: nothing may tell its job to leave the call open.
    expect((await store.get('s1'))?.handoff).toBeUndefined();
  });

  it('gives up on a store that does not answer within the step timeout', async () => {
    const hung = {
      get: () => new Promise<never>(() => undefined),
      noteHandoff: () => new Promise<never>(() => undefined),
    };
    const report = await handOverLiveCalls(
      [{ jobId: 'AJ_1', room: 'r1', metadata: jobMetadata(request('s1')), acceptedAtMs: 0 }],
      {
        dispatcher: new RecordingDispatcher(),
        sessions: hung,
        agentName: 'a',
        log,
        stepTimeoutMs: 50,
      },
    );
    expect(report).toEqual({ dispatched: 0, noted: 0, skipped: 0, failed: 1 });
  });

  it('still counts the dispatch when the note fails: the old job then ends the call itself', async () => {
    const store = new MemorySessionStore();
    await session(store, 's1', 'r1', true);
    const failing = {
      get: (id: string) => store.get(id),
      noteHandoff: () => Promise.reject(new Error('store down')),
    };
    const dispatcher = new RecordingDispatcher();
    const report = await handOverLiveCalls(
      [{ jobId: 'AJ_1', room: 'r1', metadata: jobMetadata(request('s1')), acceptedAtMs: 0 }],
      { dispatcher, sessions: failing, agentName: 'a', log },
    );
    expect(report).toEqual({ dispatched: 1, noted: 0, skipped: 0, failed: 0 });
    expect(dispatcher.dispatched).toHaveLength(1);
  });
});

describe('the handover RPC', () => {
  it('names the old agent as the framework does, and reads its payloads defensively', () => {
    expect(agentIdentity('AJ_abc')).toBe('agent-AJ_abc');
    expect(readHandoverRequest(JSON.stringify({ sessionId: 's1' }))).toEqual({ sessionId: 's1' });
    expect(readHandoverRequest('{"sessionId":""}')).toBeUndefined();
    expect(readHandoverRequest('nope')).toBeUndefined();
    expect(readHandoverReply('{"ok":true,"nextSeq":7}')).toEqual({ ok: true, nextSeq: 7 });
    expect(readHandoverReply('{"ok":false,"reason":"ending"}')).toEqual({
      ok: false,
      reason: 'ending',
    });
    expect(readHandoverReply('garbage')).toEqual({ ok: false, reason: 'bad_request' });
  });
});
