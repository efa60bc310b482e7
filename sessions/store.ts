/**
 * The persistence boundary both services use. MongoDB (FerretDB locally) in production; an
 * in-memory twin for unit tests. Both pass `store.contract.ts`.
 *
 * No transactions, no change streams: idempotency comes from unique keys and conditional updates.
 */
import type {
  Escalation,
  Rejection,
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

export interface TransitionPatch {
  room?: string;
  failureReason?: string;
  profileVersion?: number;
  dispatch?: SessionRecord['dispatch'];
  summary?: SessionSummary;
  answers?: Record<string, unknown>;
}

export interface SessionStore {
  /** Creates the session in `requested` unless it exists. Safe under concurrent duplicates. */
  claim(request: SessionRequest, now: Date): Promise<ClaimResult>;
  get(sessionId: string): Promise<SessionRecord | null>;
  /**
   * Moves the session to `to` if its current state allows it (see ALLOWED_FROM), stamping
   * `timestamps[to]`. Returns the updated record, or null when the transition was refused.
   */
  transition(
    sessionId: string,
    to: SessionState,
    now: Date,
    patch?: TransitionPatch,
  ): Promise<SessionRecord | null>;
  /** Counts one more placement attempt and remembers why the previous one failed, if given. */
  recordAttempt(sessionId: string, now: Date, lastFailure?: string): Promise<number>;
  /** Merges captured protocol answers into the session (field by field). */
  saveAnswers(sessionId: string, answers: Record<string, unknown>, now: Date): Promise<void>;
  addEscalation(sessionId: string, escalation: Escalation, now: Date): Promise<void>;
  recordRejection(rejection: Rejection): Promise<void>;
  listRejections(filter: { messageId?: string; sessionId?: string }): Promise<Rejection[]>;
}

export interface UtteranceStore {
  /** Idempotent: writing the same (sessionId, seq) twice leaves one record. */
  writeUtterances(batch: readonly Utterance[]): Promise<void>;
  listUtterances(sessionId: string): Promise<Utterance[]>;
}
