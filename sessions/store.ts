/**
 * The persistence boundary both services use. MongoDB (FerretDB locally) in production; an
 * in-memory twin for unit tests. Both pass `store.contract.ts`.
 *
 * No transactions, no change streams: idempotency and safety under concurrent writers come from
 * unique keys (`mongo-store.ts` explains why not from conditional updates on FerretDB).
 *
 * Errors: implementations throw VoiceCareErrors (`infra/errors.ts`). `retryable` is true when the
 * backend was unreachable or busy and the same call may succeed later (TransientError); a
 * ValidationError means the input can never be stored (a key with `.` or a leading `$`, an
 * invalid date); PermanentError `session_not_found` means the session does not exist.
 */
import type {
  CapturedAnswer,
  Escalation,
  Rejection,
  SessionHandoff,
  SessionRecord,
  SessionRequest,
  SessionState,
  SessionSummary,
  Utterance,
} from './schema.ts';

export interface ClaimResult {
  /** True when this call created the session; false when it already existed. */
  created: boolean;
  session: SessionRecord;
}

/**
 * Fields a transition sets along with the state. Absent fields are left as they were; `answers`
 * merge key by key like `saveAnswers`, everything else replaces.
 */
export interface TransitionPatch {
  room?: string;
  failureCode?: string;
  failureReason?: string;
  endReason?: string;
  endedBy?: string;
  unanswered?: string[];
  profileVersion?: number;
  dispatch?: SessionRecord['dispatch'];
  summary?: SessionSummary;
  answers?: Record<string, CapturedAnswer>;
}

export interface SessionStore {
  /** Creates the session in `requested` unless it exists. Safe under concurrent duplicates. */
  claim(request: SessionRequest, now: Date): Promise<ClaimResult>;
  get(sessionId: string): Promise<SessionRecord | null>;
  /**
   * Moves the session to `to` if its current state allows it (see ALLOWED_FROM), stamping
   * `timestamps[to]` (re-entering a state re-stamps it) and `updatedAt`. Returns the updated
   * record, or null when the transition was refused or the session does not exist. Of concurrent
   * transitions from the same state, only those still allowed after the winner's move succeed.
   */
  transition(
    sessionId: string,
    to: SessionState,
    now: Date,
    patch?: TransitionPatch,
  ): Promise<SessionRecord | null>;
  /**
   * Counts one more placement attempt (atomically) and returns the new count; remembers why the
   * previous one failed, if given, as `failureReason`. Throws `session_not_found`.
   */
  recordAttempt(sessionId: string, now: Date, lastFailure?: string): Promise<number>;
  /**
   * Merges captured protocol answers into the session (field by field: later keys replace
   * earlier ones, others stay). Keys must not contain `.` or start with `$`; each answer must be
   * a well-formed CapturedAnswer (ValidationError otherwise, and nothing of the call is saved).
   * Throws `session_not_found`.
   */
  saveAnswers(sessionId: string, answers: Record<string, CapturedAnswer>, now: Date): Promise<void>;
  /**
   * Appends an escalation. One with an id already recorded is recorded once, so a retried or
   * replayed call is harmless. Throws `session_not_found`.
   */
  addEscalation(sessionId: string, escalation: Escalation, now: Date): Promise<void>;
  /**
   * Notes that a draining worker dispatched this live call to a successor (see
   * `SessionRecord.handoff`); a later note replaces an earlier one. True when noted, false when
   * the session is not `active` (it ended meanwhile). Throws `session_not_found`.
   */
  noteHandoff(sessionId: string, handoff: SessionHandoff, now: Date): Promise<boolean>;
  /**
   * Sessions whose current state is one of `states` and whose last change was at or after
   * `changedSince`, least recently changed first, at most `limit` (default 500). For sweeps
   * (the reaper), not for hot paths: on FerretDB it scans the revisions.
   */
  listInStates(
    states: readonly SessionState[],
    opts: { changedSince: Date; limit?: number },
  ): Promise<SessionRecord[]>;
  /** Idempotent by `messageId`: the first recording wins. */
  recordRejection(rejection: Rejection): Promise<void>;
  /** Rejections matching every given field (all of them for `{}`), oldest first. */
  listRejections(filter: { messageId?: string; sessionId?: string }): Promise<Rejection[]>;
}

export interface UtteranceStore {
  /**
   * Idempotent: writing the same (sessionId, seq) twice leaves one record, and the first write
   * wins. A batch may mix sessions; an empty batch is a no-op. Throws a retryable error when the
   * backend is unavailable, so a caller can retry the same batch safely.
   */
  writeUtterances(batch: readonly Utterance[]): Promise<void>;
  /** The session's utterances ordered by seq. */
  listUtterances(sessionId: string): Promise<Utterance[]>;
}
