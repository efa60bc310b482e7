/**
 * The silence a patient hears between the end of their speech and the agent's answer, from the
 * simulated patient's own record of agent audio: the wait for the first agent speech, and any
 * longer gap inside the answer (a holding line, then the reply).
 */
import type { SimulatedPatient } from './patient.ts';

export interface SilenceMeasure {
  /** End of the patient's speech to the agent's first speech after it. */
  firstSpeechMs: number;
  /** The longest stretch without agent speech from the end of the patient's speech to `until`. */
  longestMs: number;
}

export function measureSilence(
  patient: SimulatedPatient,
  speechEndedAt: number,
  until: number,
): SilenceMeasure {
  const segments = patient.agentSpeech.filter(
    (s) => (s.endedAt ?? Infinity) > speechEndedAt && s.startedAt < until,
  );
  let cursor = speechEndedAt;
  let longest = 0;
  let first: number | undefined;
  for (const s of segments) {
    const start = Math.max(s.startedAt, speechEndedAt);
    first ??= start;
    longest = Math.max(longest, start - cursor);
    cursor = Math.max(cursor, s.endedAt ?? until);
  }
  return {
    firstSpeechMs: (first ?? until) - speechEndedAt,
    longestMs: Math.max(longest, first === undefined ? until - speechEndedAt : 0),
  };
}
