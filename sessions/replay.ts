/**
 * Replays: an operator re-runs a failed or dead-lettered request as a new attempt. The re-run is
 * a new session, `<original>.r<n>`, so the original record (and its transcript, its
 * announcements, its rooms) stays exactly as it ended, and idempotency on sessionId cannot ack
 * the re-run as a duplicate of it. The request carries `replay` (who, when, which attempt, from
 * where), and the new session record keeps it as `replayOf`.
 *
 * Pure functions; `dispatcher/replay.ts` does the I/O and `voicecare sessions replay` calls it.
 */
import { createHash } from 'node:crypto';
import {
  SessionRequestV1,
  type ReplayOf,
  type SessionRecord,
  type SessionRequest,
} from './schema.ts';

/** Sessions in these states may be replayed; the others are still running or went well. */
export const REPLAYABLE_STATES: ReadonlySet<SessionRecord['state']> = new Set([
  'failed',
  'interrupted',
]);

const MAX_ID = 128;

/**
 * The session id of the n-th replay of `original`: `<original>.r<n>`, or, when that would be
 * longer than a sessionId may be, a shortened original with a hash that keeps it unique.
 */
export function replaySessionId(original: string, attempt: number): string {
  const suffix = `.r${attempt}`;
  if (original.length + suffix.length <= MAX_ID) return `${original}${suffix}`;
  const hash = createHash('sha256').update(original).digest('hex').slice(0, 12);
  return `${original.slice(0, MAX_ID - suffix.length - hash.length - 1)}-${hash}${suffix}`;
}

export interface ReplayStamp {
  /** The first session of the chain. */
  of: string;
  attempt: number;
  by: string;
  at: Date;
  source: ReplayOf['source'];
}

/**
 * The re-run of `original`. It is requested now (a replay is a fresh decision to call, so the
 * stale-request check measures from it); a deadline that has passed is dropped, a later one
 * kept. Throws a zod error if `by` is not plain text.
 */
export function replayRequest(original: SessionRequest, stamp: ReplayStamp): SessionRequest {
  const { deadline, replay: _previous, ...rest } = original;
  const keepDeadline = deadline !== undefined && Date.parse(deadline) > stamp.at.getTime();
  return SessionRequestV1.parse({
    ...rest,
    sessionId: replaySessionId(stamp.of, stamp.attempt),
    requestedAt: stamp.at.toISOString(),
    ...(keepDeadline ? { deadline } : {}),
    replay: {
      of: stamp.of,
      attempt: stamp.attempt,
      by: stamp.by,
      at: stamp.at.toISOString(),
      source: stamp.source,
    },
  });
}

/**
 * A request rebuilt from a session record, for a session whose message is gone. The record
 * keeps no display name or language (they are not stored), so the re-run greets the patient
 * without a name, in the profile's language.
 */
export function requestFromRecord(record: SessionRecord): SessionRequest {
  return SessionRequestV1.parse({
    sessionId: record.sessionId,
    profile: record.profile,
    patient: { ref: record.patientRef },
    requestedAt: record.requestedAt.toISOString(),
    ...(record.deadline ? { deadline: record.deadline.toISOString() } : {}),
    priority: record.priority,
  });
}
