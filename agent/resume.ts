/**
 * A job LiveKit re-offers after its worker failed finds the session `active`: a job of this
 * session had joined the room before (the dispatcher marks `active` only once an agent joined,
 * and a new session's job marks it after it joins). Such a job continues the call instead of
 * starting it again:
 *
 * - the transcript continues its `seq` after the highest one stored or spooled on this machine
 *   (numbering from 0 again would collide with stored utterances, and the insert-once store
 *   would silently keep the old ones and drop the new);
 * - the protocol resumes from the answers already captured (the LLM is told which, the dialogue
 *   engine is put at the first step without one);
 * - the patient hears a short resume line and the next question rather than the greeting.
 *
 * Pure decisions here; `session.ts` does the reads.
 */
import type { Profile, ProtocolStep } from '../prompts/schema.ts';
import type { CapturedAnswer, SessionRecord, Utterance } from '../sessions/schema.ts';
import type { EngineState } from './protocol/engine.ts';
import type { AnswerValue } from './protocol/parse.ts';

export interface ResumePoint {
  /** The first seq this job writes. */
  startSeq: number;
  /** Answers the earlier job captured, by field (with values). */
  answers: Record<string, CapturedAnswer>;
  /** The conversation so far, oldest first, for the LLM's context. */
  history: { role: 'user' | 'assistant'; text: string }[];
}

/** Whether a job that finds this record continues an interrupted call. */
export function isResumedCall(record: Pick<SessionRecord, 'state'> | null | undefined): boolean {
  return record?.state === 'active';
}

export function resumePoint(
  record: Pick<SessionRecord, 'answers'>,
  stored: readonly Pick<Utterance, 'seq' | 'role' | 'text'>[],
  spooledLastSeq: number | undefined,
): ResumePoint {
  const lastStored = stored.reduce((m, u) => Math.max(m, u.seq), -1);
  const last = Math.max(lastStored, spooledLastSeq ?? -1);
  return {
    startSeq: last + 1,
    answers: { ...(record.answers ?? {}) },
    history: [...stored]
      .sort((a, b) => a.seq - b.seq)
      .map((u) => ({ role: u.role === 'patient' ? 'user' : 'assistant', text: u.text })),
  };
}

/** The answers that carry a value (a `null` value was heard but could not be trusted). */
function answeredValues(answers: Record<string, CapturedAnswer>): Record<string, AnswerValue> {
  const out: Record<string, AnswerValue> = {};
  for (const [field, a] of Object.entries(answers)) if (a.value !== null) out[field] = a.value;
  return out;
}

/** The steps still to ask, in protocol order. */
export function remainingSteps(
  protocol: readonly ProtocolStep[],
  answers: Record<string, CapturedAnswer>,
): ProtocolStep[] {
  const have = answeredValues(answers);
  return protocol.filter((s) => !(s.capture.field in have));
}

/**
 * The dialogue engine's state for a resumed call: the captured answers, asking the first step
 * without one (or done, when none is left).
 */
export function engineStateFor(
  profile: Pick<Profile, 'protocol' | 'closingMessage'>,
  answers: Record<string, CapturedAnswer>,
  closing: string,
): EngineState {
  const values = Object.freeze(answeredValues(answers));
  const next = profile.protocol.findIndex((s) => !(s.capture.field in values));
  if (next < 0) {
    return Object.freeze<EngineState>({
      phase: { kind: 'done', outcome: 'completed' },
      answers: values,
      unanswered: Object.freeze([]),
      prompt: profile.closingMessage?.trim() || closing,
    });
  }
  return Object.freeze<EngineState>({
    phase: { kind: 'asking', step: next, failures: 0 },
    answers: values,
    unanswered: Object.freeze([]),
    prompt: profile.protocol[next]!.ask.trim(),
  });
}

/** What the LLM is told when it takes a resumed call over. */
export function resumeInstructions(
  protocol: readonly ProtocolStep[],
  answers: Record<string, CapturedAnswer>,
  resumeLine: string,
): string {
  const answered = protocol
    .filter((s) => !remainingSteps(protocol, answers).includes(s))
    .map((s) => s.capture.field);
  const left = remainingSteps(protocol, answers);
  return [
    'The call was cut off by a technical fault and has just been reconnected.',
    `The patient has just heard: "${resumeLine}". Do not greet them again.`,
    answered.length > 0
      ? `Already answered, do not ask again: ${answered.join(', ')}.`
      : 'No protocol answer was recorded yet.',
    left.length > 0
      ? `Continue with the next unanswered question: "${left[0]!.ask.trim()}"`
      : 'Every step is answered: say the closing words and call end_call.',
  ].join(' ');
}
