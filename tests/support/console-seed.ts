/**
 * Sessions for the console's browser tests, written through the real stores the way the
 * dispatcher and the agent write them: claimed, moved through their states, with utterances
 * (and their per-turn latencies), captured answers and escalations. No patient data: opaque
 * refs and scripted words.
 */
import type { Db } from 'mongodb';
import { MongoSessionStore, MongoUtteranceStore } from '../../sessions/mongo-store.ts';
import type { CapturedAnswer, Escalation, Utterance } from '../../sessions/schema.ts';
import { uniqueName } from './env.ts';

export interface SeedOptions {
  profile?: string;
  profileVersion?: number;
  /** Where the session ends up. @defaultValue 'completed' */
  state?: 'active' | 'completed' | 'interrupted' | 'failed' | 'requested';
  /** @defaultValue now - 10 minutes */
  requestedAt?: Date;
  turns?: readonly {
    role: Utterance['role'];
    text: string;
    latency?: Utterance['latency'];
    confidence?: number;
  }[];
  answers?: Record<string, Omit<CapturedAnswer, 'at'>>;
  escalations?: readonly Omit<Escalation, 'at' | 'id'>[];
  endReason?: string;
}

export async function seedSession(db: Db, opts: SeedOptions = {}): Promise<string> {
  const sessions = new MongoSessionStore({ db });
  const utterances = new MongoUtteranceStore({ db });
  const sessionId = uniqueName('sess');
  const requestedAt = opts.requestedAt ?? new Date(Date.now() - 10 * 60_000);
  const at = (ms: number) => new Date(requestedAt.getTime() + ms);
  await sessions.claim(
    {
      sessionId,
      profile: { id: opts.profile ?? 'intake' },
      patient: { ref: uniqueName('pt') },
      requestedAt: requestedAt.toISOString(),
      priority: 'routine',
    },
    requestedAt,
  );
  const state = opts.state ?? 'completed';
  if (state === 'requested') return sessionId;
  if (state === 'failed') {
    await sessions.transition(sessionId, 'dispatching', at(200));
    await sessions.transition(sessionId, 'failed', at(30_000), {
      failureCode: 'agent_join_timeout',
      failureReason: 'no agent joined the room in time',
    });
    return sessionId;
  }
  await sessions.transition(sessionId, 'dispatching', at(200));
  await sessions.transition(sessionId, 'active', at(1500), {
    room: `session-${sessionId}-1`,
    profileVersion: opts.profileVersion ?? 1,
    dispatch: { dispatchId: uniqueName('AD'), agentJoinedMs: 850 },
  });
  let t = 2000;
  const batch: Utterance[] = (opts.turns ?? []).map((turn, seq) => {
    const startedAt = at(t);
    t += 2500 + turn.text.length * 40;
    const endedAt = at(t);
    t += 600;
    return {
      sessionId,
      seq,
      role: turn.role,
      text: turn.text,
      startedAt,
      endedAt,
      interrupted: false,
      ...(turn.confidence !== undefined ? { confidence: turn.confidence } : {}),
      ...(turn.latency ? { latency: turn.latency } : {}),
    };
  });
  if (batch.length) await utterances.writeUtterances(batch);
  if (opts.answers) {
    const withAt = Object.fromEntries(
      Object.entries(opts.answers).map(([k, a]) => [k, { ...a, at: at(t) }]),
    );
    await sessions.saveAnswers(sessionId, withAt, at(t));
  }
  for (const [i, e] of (opts.escalations ?? []).entries()) {
    await sessions.addEscalation(
      sessionId,
      { ...e, id: `${sessionId}:${e.seq ?? i}:${e.ruleId}:${e.status}`, at: at(t) },
      at(t),
    );
  }
  if (state === 'completed' || state === 'interrupted') {
    await sessions.transition(sessionId, state, at(t + 1000), {
      endReason: opts.endReason ?? (state === 'completed' ? 'end_phrase' : 'patient_left'),
    });
  }
  return sessionId;
}

/** A short intake call with latencies, answers (one flagged for review) and an escalation. */
export const SAMPLE_CALL: SeedOptions = {
  turns: [
    {
      role: 'agent',
      text: 'Hi there, this is the virtual assistant from your care team. Is now a good time?',
      latency: { ttsTtfbMs: 180 },
    },
    {
      role: 'patient',
      text: 'Yes, that is fine.',
      confidence: 0.94,
      latency: { endOfUtteranceMs: 420, transcriptionDelayMs: 160 },
    },
    {
      role: 'agent',
      text: "In a few words, what's the main reason for your visit?",
      latency: { llmTtftMs: 310, ttsTtfbMs: 190, endToEndMs: 980 },
    },
    {
      role: 'patient',
      text: 'A check on my knee.',
      confidence: 0.88,
      latency: { endOfUtteranceMs: 510 },
    },
    {
      role: 'agent',
      text: 'On a scale from zero to ten, how is your pain today?',
      latency: { llmTtftMs: 640, ttsTtfbMs: 260, endToEndMs: 1720 },
    },
    { role: 'patient', text: 'Maybe a six.', confidence: 0.52, latency: { endOfUtteranceMs: 700 } },
    {
      role: 'agent',
      text: 'I heard six out of ten. Is that right?',
      latency: { llmTtftMs: 1200, ttsTtfbMs: 420, endToEndMs: 2680 },
    },
  ],
  answers: {
    visitReason: {
      value: 'a check on my knee',
      confidence: 0.88,
      sttConfidence: 0.88,
      source: { method: 'engine', seq: 3 },
      confirmed: false,
      needsReview: false,
    },
    painScore: {
      value: 6,
      confidence: 0.52,
      sttConfidence: 0.52,
      source: { method: 'engine', seq: 5 },
      confirmed: false,
      needsReview: true,
      reviewReason: 'low_confidence',
    },
  },
};
