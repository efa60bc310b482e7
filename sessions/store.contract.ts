/**
 * The one contract every SessionStore/UtteranceStore pair must pass. The memory twin runs it as a
 * unit test (`memory-store.test.ts`), the MongoDB stores against FerretDB
 * (`tests/session-store.test.ts`). Each test uses its own session ids, so a store may be shared
 * across the suite.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError, ValidationError } from '../infra/errors.ts';
import {
  ALLOWED_FROM,
  SESSION_STATES,
  type CapturedAnswer,
  type Escalation,
  type Rejection,
  type SessionRequest,
  type SessionState,
  type Utterance,
} from './schema.ts';
import type { SessionStore, UtteranceStore } from './store.ts';
import { capturedAnswer } from './testing/answers.ts';

export interface StoreFixture {
  sessions: SessionStore;
  utterances: UtteranceStore;
}

export interface StoreContractOptions {
  /** Called once before the suite. */
  open(): Promise<StoreFixture>;
  /** Called once after the suite: drop databases, close clients. */
  close?(): Promise<void>;
}

const T0 = Date.parse('2026-01-05T10:00:00.000Z');
/** A distinct instant `s` seconds after a fixed origin. */
const at = (s: number): Date => new Date(T0 + s * 1000);

const uid = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

function escalation(overrides: Partial<Escalation> & Pick<Escalation, 'id' | 'at'>): Escalation {
  return {
    ruleId: 'chest-pain',
    severity: 'emergency',
    status: 'confirmed',
    channel: 'speech',
    trigger: { detector: 'rules', kind: 'concept', value: 'chest-pain' },
    ...overrides,
  };
}

function request(overrides: Partial<SessionRequest> = {}): SessionRequest {
  return {
    sessionId: uid('sess'),
    profile: { id: 'intake', version: 2 },
    patient: { ref: 'pt-0001' },
    requestedAt: '2026-01-05T09:59:58.000Z',
    priority: 'routine',
    ...overrides,
  };
}

function utterance(sessionId: string, seq: number, overrides: Partial<Utterance> = {}): Utterance {
  return {
    sessionId,
    seq,
    role: seq % 2 === 0 ? 'agent' : 'patient',
    text: `line ${seq}`,
    startedAt: at(seq),
    endedAt: at(seq + 0.5),
    interrupted: false,
    ...overrides,
  };
}

/** The transitions that bring a freshly claimed session into each state. */
const PATH_TO: Record<SessionState, readonly SessionState[]> = {
  requested: [],
  dispatching: ['dispatching'],
  active: ['dispatching', 'active'],
  completed: ['active', 'completed'],
  failed: ['failed'],
  interrupted: ['active', 'interrupted'],
};

export function describeStoreContract(name: string, opts: StoreContractOptions): void {
  describe(`${name} stores (contract)`, () => {
    let sessions: SessionStore;
    let utterances: UtteranceStore;

    beforeAll(async () => {
      ({ sessions, utterances } = await opts.open());
    });

    afterAll(async () => {
      await opts.close?.();
    });

    async function claimedIn(state: SessionState): Promise<string> {
      const { session } = await sessions.claim(request(), at(0));
      let t = 1;
      for (const step of PATH_TO[state]) {
        const moved = await sessions.transition(session.sessionId, step, at(t++));
        expect(moved?.state, `setting up ${state} via ${step}`).toBe(step);
      }
      return session.sessionId;
    }

    describe('claim', () => {
      it('creates the session in requested on the first claim, with every field stored', async () => {
        const req = request({
          priority: 'urgent',
          deadline: '2026-01-05T10:05:00.000Z',
          patient: { ref: 'pt-0002', displayName: 'Test Patient', language: 'en-US' },
        });
        const { created, session } = await sessions.claim(req, at(0));
        expect(created).toBe(true);
        expect(session).toStrictEqual({
          sessionId: req.sessionId,
          state: 'requested',
          profile: { id: 'intake', version: 2 },
          patientRef: 'pt-0002',
          priority: 'urgent',
          requestedAt: new Date('2026-01-05T09:59:58.000Z'),
          deadline: new Date('2026-01-05T10:05:00.000Z'),
          timestamps: { requested: at(0) },
          attempts: 0,
          updatedAt: at(0),
        });
        expect(await sessions.get(req.sessionId)).toStrictEqual(session);
      });

      it('stores no key at all for optional fields the request left out', async () => {
        const req = request({ profile: { id: 'intake' } });
        const { session } = await sessions.claim(req, at(0));
        const stored = await sessions.get(req.sessionId);
        for (const record of [session, stored]) {
          expect(Object.keys(record ?? {})).not.toContain('deadline');
          expect(Object.keys(record?.profile ?? {})).toEqual(['id']);
        }
      });

      it('returns the existing session, unchanged, when the request is delivered again', async () => {
        const req = request();
        await sessions.claim(req, at(0));
        const moved = await sessions.transition(req.sessionId, 'dispatching', at(1));
        const again = await sessions.claim({ ...req, priority: 'urgent' }, at(2));
        expect(again.created).toBe(false);
        expect(again.session).toStrictEqual(moved);
      });

      it('creates exactly one session when duplicate claims race', async () => {
        const req = request();
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => sessions.claim(req, at(i))),
        );
        expect(results.filter((r) => r.created)).toHaveLength(1);
        const winner = results.find((r) => r.created)?.session;
        for (const r of results) expect(r.session).toStrictEqual(winner);
      });

      it('keeps who replayed a re-run session, and when', async () => {
        const req = request({
          replay: {
            of: 'sess-original',
            attempt: 2,
            by: 'Dr Operator',
            at: '2026-01-05T09:59:00.000Z',
            source: 'dead_letter',
          },
        });
        const { session } = await sessions.claim(req, at(0));
        const expected = {
          sessionId: 'sess-original',
          attempt: 2,
          by: 'Dr Operator',
          at: new Date('2026-01-05T09:59:00.000Z'),
          source: 'dead_letter',
        };
        expect(session.replayOf).toStrictEqual(expected);
        expect((await sessions.get(req.sessionId))?.replayOf).toStrictEqual(expected);
      });

      it('finds nothing for a session never claimed', async () => {
        expect(await sessions.get(uid('missing'))).toBeNull();
      });
    });

    describe('transition', () => {
      it('walks requested → dispatching → active → completed, stamping each state and applying the patch', async () => {
        const { session } = await sessions.claim(request(), at(0));
        const id = session.sessionId;
        await sessions.transition(id, 'dispatching', at(1), { room: 'room-1' });
        await sessions.transition(id, 'active', at(2), {
          profileVersion: 2,
          dispatch: { dispatchId: 'AD_1', agentJoinedMs: 840, dispatchedAt: at(2) },
        });
        const done = await sessions.transition(id, 'completed', at(3), {
          summary: {
            turns: { patient: 3, agent: 4, interrupted: 1 },
            latency: { endToEndMs: { count: 3, medianMs: 900, p95Ms: 1200 } },
          },
        });
        expect(done).toMatchObject({
          state: 'completed',
          room: 'room-1',
          profileVersion: 2,
          dispatch: { dispatchId: 'AD_1', agentJoinedMs: 840, dispatchedAt: at(2) },
          summary: { turns: { patient: 3, agent: 4, interrupted: 1 } },
          timestamps: { requested: at(0), dispatching: at(1), active: at(2), completed: at(3) },
          updatedAt: at(3),
        });
        expect(await sessions.get(id)).toStrictEqual(done);
      });

      for (const to of SESSION_STATES) {
        it(`moves to ${to} exactly from the states ALLOWED_FROM lists`, async () => {
          const outcome: Record<string, boolean> = {};
          const expected: Record<string, boolean> = {};
          for (const from of SESSION_STATES) {
            const id = await claimedIn(from);
            const moved = await sessions.transition(id, to, at(10));
            outcome[from] = moved !== null;
            expected[from] = ALLOWED_FROM[to].includes(from);
            const after = await sessions.get(id);
            expect(after?.state).toBe(moved ? to : from);
            if (moved) expect(after?.timestamps[to]).toEqual(at(10));
          }
          expect(outcome).toEqual(expected);
        });
      }

      it('refuses completed → active and leaves the record as it was', async () => {
        const id = await claimedIn('completed');
        const before = await sessions.get(id);
        expect(await sessions.transition(id, 'active', at(20), { room: 'other' })).toBeNull();
        expect(await sessions.get(id)).toStrictEqual(before);
      });

      it('refuses any transition of a session that does not exist', async () => {
        expect(await sessions.transition(uid('missing'), 'dispatching', at(1))).toBeNull();
      });

      it('keeps failureReason through later transitions and replaces it when given', async () => {
        const id = await claimedIn('dispatching');
        await sessions.recordAttempt(id, at(5), 'agent did not join');
        const active = await sessions.transition(id, 'active', at(6));
        expect(active?.failureReason).toBe('agent did not join');
        const failed = await sessions.transition(id, 'failed', at(7), {
          failureReason: 'provider outage',
        });
        expect(failed?.failureReason).toBe('provider outage');
        expect((await sessions.get(id))?.failureReason).toBe('provider outage');
      });

      it('keeps a failure code and its reason as separate fields, each replaced when given', async () => {
        const id = await claimedIn('dispatching');
        await sessions.transition(id, 'dispatching', at(5), {
          failureCode: 'agent_join_timeout',
          failureReason: 'no agent joined within 15000 ms',
        });
        const failed = await sessions.transition(id, 'failed', at(6), {
          failureCode: 'deadline_expired',
        });
        expect(failed).toMatchObject({
          failureCode: 'deadline_expired',
          failureReason: 'no agent joined within 15000 ms',
        });
        expect(await sessions.get(id)).toMatchObject({ failureCode: 'deadline_expired' });
      });

      it('records why a session ended', async () => {
        const id = await claimedIn('active');
        const done = await sessions.transition(id, 'completed', at(9), { endReason: 'end_phrase' });
        expect(done?.endReason).toBe('end_phrase');
        expect((await sessions.get(id))?.endReason).toBe('end_phrase');
      });

      it('lets only one of two racing transitions out of active win', async () => {
        const id = await claimedIn('active');
        const [completed, failed] = await Promise.all([
          sessions.transition(id, 'completed', at(8)),
          sessions.transition(id, 'failed', at(8), { failureReason: 'hung up' }),
        ]);
        expect([completed, failed].filter((r) => r !== null)).toHaveLength(1);
        const winner = completed ?? failed;
        expect((await sessions.get(id))?.state).toBe(winner?.state);
      });
    });

    describe('attempts', () => {
      it('counts attempts and remembers the last failure reason given', async () => {
        const id = await claimedIn('dispatching');
        expect(await sessions.recordAttempt(id, at(2))).toBe(1);
        expect(await sessions.recordAttempt(id, at(3), 'room create timed out')).toBe(2);
        expect(await sessions.recordAttempt(id, at(4))).toBe(3);
        const record = await sessions.get(id);
        expect(record).toMatchObject({
          attempts: 3,
          failureReason: 'room create timed out',
          updatedAt: at(4),
        });
      });

      it('counts every one of concurrent attempts once', async () => {
        const id = await claimedIn('dispatching');
        const counts = await Promise.all(
          Array.from({ length: 5 }, () => sessions.recordAttempt(id, at(2))),
        );
        expect([...counts].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
        expect((await sessions.get(id))?.attempts).toBe(5);
      });

      it('refuses to count attempts for a session that does not exist', async () => {
        const err = await sessions.recordAttempt(uid('missing'), at(1)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PermanentError);
        expect(err).toMatchObject({ code: 'session_not_found', retryable: false });
      });
    });

    describe('answers', () => {
      it("merges answers field by field, keeping each one's confidence, source and review flag", async () => {
        const id = await claimedIn('active');
        const reason = capturedAnswer('my knee hurts', {
          confidence: 0.31,
          sttConfidence: 0.31,
          source: { method: 'engine', seq: 3 },
          needsReview: true,
          reviewReason: 'general_model_unconfirmed',
          at: at(5),
        });
        const unheard = capturedAnswer(null, {
          confidence: 0,
          source: { method: 'engine', seq: 5 },
          needsReview: true,
          reviewReason: 'read_back_rejected',
          at: at(5),
        });
        await sessions.saveAnswers(id, { visitReason: reason, allergies: unheard }, at(5));
        const allergies = capturedAnswer(false, {
          source: { method: 'llm_tool', seq: 7, confirmedSeq: 9 },
          confirmed: true,
          at: at(6),
        });
        await sessions.saveAnswers(id, { allergies }, at(6));
        const pain = capturedAnswer(4, { at: at(7) });
        await sessions.transition(id, 'completed', at(7), {
          answers: { painScore: pain },
          endReason: 'incomplete',
          endedBy: 'end_tool',
          unanswered: ['contactPreference'],
        });
        const record = await sessions.get(id);
        expect(record?.answers).toStrictEqual({
          visitReason: reason,
          allergies,
          painScore: pain,
        });
        expect(record).toMatchObject({
          endReason: 'incomplete',
          endedBy: 'end_tool',
          unanswered: ['contactPreference'],
        });
      });

      it('refuses a bare value or a malformed answer, naming the field, and keeps nothing of the call', async () => {
        const id = await claimedIn('active');
        const bad: unknown[] = [
          'none',
          { ...capturedAnswer('x'), confidence: 1.5 },
          { ...capturedAnswer('x'), needsReview: true },
          { ...capturedAnswer(null) },
          { ...capturedAnswer('x'), source: { method: 'guess' } },
          { ...capturedAnswer('x'), at: 'yesterday' },
        ];
        for (const answer of bad) {
          const err = await sessions
            .saveAnswers(
              id,
              { fine: capturedAnswer(1), broken: answer } as Record<string, CapturedAnswer>,
              at(5),
            )
            .catch((e: unknown) => e);
          expect(err).toBeInstanceOf(ValidationError);
          expect(err).toMatchObject({ code: 'invalid_answer' });
          expect((err as Error).message).toContain('answers.broken');
        }
        expect((await sessions.get(id))?.answers).toBeUndefined();
      });

      it('refuses answer keys MongoDB cannot store, keeping nothing of the call', async () => {
        const id = await claimedIn('active');
        const unstorable: Record<string, CapturedAnswer>[] = [
          { 'blood.pressure': capturedAnswer(120) },
          { $where: capturedAnswer(1) },
        ];
        for (const bad of unstorable) {
          await expect(
            sessions.saveAnswers(id, { fine: capturedAnswer(1), ...bad }, at(5)),
          ).rejects.toThrow(ValidationError);
        }
        expect((await sessions.get(id))?.answers).toBeUndefined();
      });

      it('refuses to save answers for a session that does not exist', async () => {
        await expect(
          sessions.saveAnswers(uid('missing'), { a: capturedAnswer(1) }, at(1)),
        ).rejects.toMatchObject({
          code: 'session_not_found',
        });
      });
    });

    describe('escalations', () => {
      it('appends escalations in order and records a retried one once', async () => {
        const id = await claimedIn('active');
        const first = escalation({ id: `${id}:3:chest-pain:confirmed`, at: at(5), seq: 3 });
        const second = escalation({
          id: `${id}:9:self-harm:confirmed`,
          ruleId: 'self-harm',
          at: at(9),
        });
        await sessions.addEscalation(id, first, at(5));
        await sessions.addEscalation(id, second, at(9));
        await sessions.addEscalation(id, { ...first }, at(10));
        const record = await sessions.get(id);
        expect(record?.escalations).toStrictEqual([first, second]);
        expect(record?.updatedAt).toEqual(at(10));
      });

      it('refuses an escalation for a session that does not exist', async () => {
        await expect(
          sessions.addEscalation(uid('missing'), escalation({ id: 'x', at: at(1) }), at(1)),
        ).rejects.toMatchObject({ code: 'session_not_found' });
      });
    });

    describe('handoff', () => {
      it('notes a handoff on an active session, the later note replacing the earlier', async () => {
        const id = await claimedIn('active');
        expect(await sessions.noteHandoff(id, { fromJob: 'AJ_a', requestedAt: at(5) }, at(5))).toBe(
          true,
        );
        expect(await sessions.noteHandoff(id, { fromJob: 'AJ_b', requestedAt: at(8) }, at(9))).toBe(
          true,
        );
        const record = await sessions.get(id);
        expect(record?.handoff).toStrictEqual({ fromJob: 'AJ_b', requestedAt: at(8) });
        expect(record?.state).toBe('active');
        expect(record?.updatedAt).toEqual(at(9));
      });

      it('refuses a handoff for a call that is not active, leaving it as it was', async () => {
        for (const state of ['dispatching', 'completed', 'interrupted'] as const) {
          const id = await claimedIn(state);
          const before = await sessions.get(id);
          expect(await sessions.noteHandoff(id, { fromJob: 'AJ', requestedAt: at(9) }, at(9))).toBe(
            false,
          );
          expect(await sessions.get(id), state).toStrictEqual(before);
        }
      });

      it('refuses a handoff for a session that does not exist', async () => {
        await expect(
          sessions.noteHandoff(uid('missing'), { fromJob: 'AJ', requestedAt: at(1) }, at(1)),
        ).rejects.toMatchObject({ code: 'session_not_found' });
      });
    });
    describe('listInStates', () => {
      it('lists sessions by their current state, least recently changed first, within the window', async () => {
        // Far from the other tests' instants, so the window holds only this test's sessions.
        const t = (s: number) => at(86_400 * 400 + s);
        const claim = async (s: number) =>
          (await sessions.claim(request(), t(s))).session.sessionId;
        const dispatching = await claim(0);
        await sessions.transition(dispatching, 'dispatching', t(5));
        const activeLate = await claim(1);
        await sessions.transition(activeLate, 'active', t(4));
        const activeEarly = await claim(2);
        await sessions.transition(activeEarly, 'active', t(3));
        const done = await claim(3);
        await sessions.transition(done, 'active', t(3));
        await sessions.transition(done, 'completed', t(6));
        const old = await claim(-100);
        await sessions.transition(old, 'active', t(-90));

        const mine = new Set([dispatching, activeLate, activeEarly, done, old]);
        const ids = async (states: SessionState[], since: number, limit?: number) =>
          (
            await sessions.listInStates(states, {
              changedSince: t(since),
              ...(limit === undefined ? {} : { limit }),
            })
          )
            .map((r) => r.sessionId)
            .filter((id) => mine.has(id));

        expect(await ids(['active'], -10)).toEqual([activeEarly, activeLate]);
        expect(await ids(['active'], -1000)).toEqual([old, activeEarly, activeLate]);
        expect(await ids(['requested', 'dispatching', 'active'], -10)).toEqual([
          activeEarly,
          activeLate,
          dispatching,
        ]);
        expect(await ids(['completed'], -10)).toEqual([done]);
        expect(await ids(['active'], 3.5)).toEqual([activeLate]);
        const listed = await sessions.listInStates(['active'], { changedSince: t(-10) });
        expect(listed.find((r) => r.sessionId === activeLate)).toStrictEqual(
          await sessions.get(activeLate),
        );
      });

      it('returns at most the limit', async () => {
        const t = (s: number) => at(86_400 * 800 + s);
        for (let i = 0; i < 3; i++) {
          const { session } = await sessions.claim(request(), t(i));
          await sessions.transition(session.sessionId, 'dispatching', t(i));
        }
        const page = await sessions.listInStates(['dispatching'], {
          changedSince: t(0),
          limit: 2,
        });
        expect(page).toHaveLength(2);
      });
    });

    describe('rejections', () => {
      it('records a rejection once per message id and lists them by session or message', async () => {
        const sessionId = uid('sess');
        const first: Rejection = {
          messageId: uid('msg'),
          sessionId,
          reason: 'profile version 9 is not published',
          code: 'unknown_profile_version',
          receivedAt: at(2),
          detail: '{"profile":{"id":"string","version":"number"}}',
        };
        const second: Rejection = {
          messageId: uid('msg'),
          sessionId,
          reason: 'deadline passed',
          code: 'expired',
          receivedAt: at(1),
        };
        const anonymous: Rejection = {
          messageId: uid('msg'),
          reason: 'not JSON',
          code: 'invalid_json',
          receivedAt: at(3),
        };
        await sessions.recordRejection(first);
        await sessions.recordRejection({ ...first, reason: 'redelivered', receivedAt: at(4) });
        await sessions.recordRejection(second);
        await sessions.recordRejection(anonymous);

        expect(await sessions.listRejections({ sessionId })).toStrictEqual([second, first]);
        const byMessage = await sessions.listRejections({ messageId: anonymous.messageId });
        expect(byMessage).toStrictEqual([anonymous]);
        expect(Object.keys(byMessage[0] ?? {})).not.toContain('sessionId');
        expect(await sessions.listRejections({ sessionId: uid('other') })).toEqual([]);
      });
    });

    describe('utterances', () => {
      it('lists a session’s utterances ordered by seq, whatever order they were written in', async () => {
        const id = uid('sess');
        const other = uid('sess');
        await utterances.writeUtterances([
          utterance(id, 2),
          utterance(other, 0),
          utterance(id, 0, { confidence: 0.92, latency: { endToEndMs: 850, llmTtftMs: 310 } }),
          utterance(id, 1, { interrupted: true }),
        ]);
        const listed = await utterances.listUtterances(id);
        expect(listed.map((u) => u.seq)).toEqual([0, 1, 2]);
        expect(listed[0]).toStrictEqual(
          utterance(id, 0, { confidence: 0.92, latency: { endToEndMs: 850, llmTtftMs: 310 } }),
        );
        expect(listed[1]).toStrictEqual(utterance(id, 1, { interrupted: true }));
        expect(Object.keys(listed[2] ?? {})).not.toContain('confidence');
      });

      it('writes each (sessionId, seq) once: a retried batch changes nothing and the first write wins', async () => {
        const id = uid('sess');
        const batch = [utterance(id, 0), utterance(id, 1)];
        await utterances.writeUtterances(batch);
        await utterances.writeUtterances(batch);
        await utterances.writeUtterances([
          utterance(id, 1, { text: 'a different text' }),
          utterance(id, 2),
        ]);
        const listed = await utterances.listUtterances(id);
        expect(listed).toStrictEqual([utterance(id, 0), utterance(id, 1), utterance(id, 2)]);
      });

      it('stores one record per seq when the same batch is written concurrently', async () => {
        const id = uid('sess');
        const batch = [0, 1, 2, 3].map((seq) => utterance(id, seq));
        await Promise.all([1, 2, 3].map(() => utterances.writeUtterances(batch)));
        expect(await utterances.listUtterances(id)).toStrictEqual(batch);
      });

      it('treats an empty batch as nothing to do and an unknown session as empty', async () => {
        await utterances.writeUtterances([]);
        expect(await utterances.listUtterances(uid('sess'))).toEqual([]);
      });

      it('refuses an utterance without a usable seq, keeping nothing of the batch', async () => {
        const id = uid('sess');
        await expect(
          utterances.writeUtterances([utterance(id, 0), utterance(id, -1)]),
        ).rejects.toThrow(ValidationError);
        await expect(utterances.writeUtterances([utterance(id, 1.5)])).rejects.toThrow(
          ValidationError,
        );
        expect(await utterances.listUtterances(id)).toEqual([]);
      });
    });

    it('hands out copies: changing a returned record changes nothing stored', async () => {
      const id = await claimedIn('active');
      await sessions.saveAnswers(id, { allergies: capturedAnswer('none') }, at(5));
      const record = await sessions.get(id);
      if (record?.answers?.['allergies']) record.answers['allergies'].value = 'penicillin';
      record?.timestamps.active?.setTime(0);
      const again = await sessions.get(id);
      expect(again?.answers).toEqual({ allergies: capturedAnswer('none') });
      expect(again?.timestamps.active).toEqual(at(2));

      const u = utterance(uid('sess'), 0);
      await utterances.writeUtterances([u]);
      u.text = 'changed after writing';
      expect((await utterances.listUtterances(u.sessionId))[0]?.text).toBe('line 0');
    });
  });
}
