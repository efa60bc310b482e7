/**
 * What the Mongo and memory stores share, so their semantics cannot drift apart:
 *
 * - how a value is prepared for storage: undefined properties vanish (never stored as null),
 *   keys MongoDB (and FerretDB in particular) cannot hold are refused, and the caller's objects
 *   are copied so later mutation cannot reach the store;
 * - every session mutation, as a pure function from the current record to the next.
 *
 * Internal to `sessions/`.
 */
import { PermanentError, ValidationError } from '../infra/errors.ts';
import {
  ALLOWED_FROM,
  CapturedAnswer,
  type Escalation,
  type Rejection,
  type SessionHandoff,
  type SessionRecord,
  type SessionRequest,
  type SessionState,
  type Utterance,
} from './schema.ts';
import type { TransitionPatch } from './store.ts';

/**
 * Deep copy for storage. Throws ValidationError naming the offending path (never the value: it
 * may be patient data) for keys with `.`, a leading `$`, empty keys, or values BSON cannot hold.
 */
export function toDocument<T>(value: T, path = '(root)'): T {
  return copy(value, path) as T;
}

function copy(value: unknown, path: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return value;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw unstorable(path, 'an invalid date');
    return new Date(value.getTime());
  }
  // BSON writes undefined array slots as null; match it.
  if (Array.isArray(value)) {
    return value.map((v, i) => (v === undefined ? null : copy(v, `${path}[${i}]`)));
  }
  if (typeof value === 'object' && isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      assertStorableKey(key, path);
      if (v !== undefined) out[key] = copy(v, `${path}.${key}`);
    }
    return out;
  }
  throw unstorable(path, `a value of type ${value === undefined ? 'undefined' : typeof value}`);
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function assertStorableKey(key: string, path: string): void {
  if (key === '' || key.includes('.') || key.startsWith('$') || key.includes('\0')) {
    throw new ValidationError(
      'unstorable_key',
      `a key under ${path} is empty, contains "." or starts with "$"; MongoDB cannot store it`,
    );
  }
}

function unstorable(path: string, what: string): ValidationError {
  return new ValidationError('unstorable_value', `${path} holds ${what}, which cannot be stored`);
}

function toDate(iso: string, field: string): Date {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    throw new ValidationError('invalid_request', `${field} is not a valid date-time`);
  }
  return d;
}

/** The record a first claim creates. */
export function newSessionRecord(request: SessionRequest, now: Date): SessionRecord {
  const record: SessionRecord = {
    sessionId: request.sessionId,
    state: 'requested',
    profile: { id: request.profile.id, version: request.profile.version },
    patientRef: request.patient.ref,
    priority: request.priority,
    requestedAt: toDate(request.requestedAt, 'requestedAt'),
    deadline: request.deadline === undefined ? undefined : toDate(request.deadline, 'deadline'),
    timestamps: { requested: now },
    attempts: 0,
    updatedAt: now,
    replayOf:
      request.replay === undefined
        ? undefined
        : {
            sessionId: request.replay.of,
            attempt: request.replay.attempt,
            by: request.replay.by,
            at: toDate(request.replay.at, 'replay.at'),
            source: request.replay.source,
          },
  };
  return toDocument(record);
}

/** A transition patch, validated and copied: what {@link withTransition} applies. */
export function preparePatch(patch: TransitionPatch = {}): TransitionPatch {
  return {
    room: patch.room,
    failureCode: patch.failureCode,
    failureReason: patch.failureReason,
    endReason: patch.endReason,
    endedBy: patch.endedBy,
    unanswered: patch.unanswered === undefined ? undefined : [...patch.unanswered],
    profileVersion: patch.profileVersion,
    dispatch: patch.dispatch === undefined ? undefined : toDocument(patch.dispatch, 'dispatch'),
    summary: patch.summary === undefined ? undefined : toDocument(patch.summary, 'summary'),
    answers: patch.answers === undefined ? undefined : prepareAnswers(patch.answers),
  };
}

/**
 * Answers, validated and copied: every key storable, undefined entries dropped, every answer a
 * well-formed CapturedAnswer (a bare value would read as a fact with nothing to judge it by).
 * Errors name the field and the problem, never the value: it is patient data.
 */
export function prepareAnswers(
  answers: Record<string, CapturedAnswer>,
): Record<string, CapturedAnswer> {
  const copied = toDocument(answers, 'answers');
  for (const [field, answer] of Object.entries(copied)) {
    const parsed = CapturedAnswer.safeParse(answer);
    if (!parsed.success) {
      const issues = parsed.error.issues.map(
        (i) => `answers.${field}${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.message}`,
      );
      throw new ValidationError(
        'invalid_answer',
        `answers.${field} is not a captured answer`,
        issues,
      );
    }
  }
  return copied;
}

/*
 * The mutations, as pure functions from the current record to the next one. Both stores apply
 * exactly these, so their semantics cannot drift apart. Inputs are prepared (validated, copied)
 * before the store looks the session up, so bad input is refused whether or not it exists.
 */

/**
 * The record after moving to `to`, or null when ALLOWED_FROM does not list the current state.
 * Re-entering a state re-stamps it. Answers merge key by key; other patch fields replace.
 */
export function withTransition(
  current: SessionRecord,
  to: SessionState,
  now: Date,
  patch: TransitionPatch,
): SessionRecord | null {
  if (!ALLOWED_FROM[to].includes(current.state)) return null;
  const next = structuredClone(current);
  next.state = to;
  next.timestamps[to] = new Date(now.getTime());
  next.updatedAt = new Date(now.getTime());
  if (patch.room !== undefined) next.room = patch.room;
  if (patch.failureCode !== undefined) next.failureCode = patch.failureCode;
  if (patch.failureReason !== undefined) next.failureReason = patch.failureReason;
  if (patch.endReason !== undefined) next.endReason = patch.endReason;
  if (patch.endedBy !== undefined) next.endedBy = patch.endedBy;
  if (patch.unanswered !== undefined) next.unanswered = [...patch.unanswered];
  if (patch.profileVersion !== undefined) next.profileVersion = patch.profileVersion;
  if (patch.dispatch !== undefined) next.dispatch = structuredClone(patch.dispatch);
  if (patch.summary !== undefined) next.summary = structuredClone(patch.summary);
  if (patch.answers !== undefined) next.answers = mergeAnswers(next.answers, patch.answers);
  return next;
}

/** Notes a handoff on an active session; null (refused) in any other state. */
export function withHandoff(
  current: SessionRecord,
  handoff: SessionHandoff,
  now: Date,
): SessionRecord | null {
  if (current.state !== 'active') return null;
  const next = structuredClone(current);
  next.handoff = { fromJob: handoff.fromJob, requestedAt: new Date(handoff.requestedAt.getTime()) };
  next.updatedAt = new Date(now.getTime());
  return next;
}

export function withAttempt(
  current: SessionRecord,
  now: Date,
  lastFailure?: string,
): SessionRecord {
  const next = structuredClone(current);
  next.attempts += 1;
  if (lastFailure !== undefined) next.failureReason = lastFailure;
  next.updatedAt = new Date(now.getTime());
  return next;
}

export function withAnswers(
  current: SessionRecord,
  prepared: Record<string, CapturedAnswer>,
  now: Date,
): SessionRecord {
  const next = structuredClone(current);
  next.answers = mergeAnswers(next.answers, prepared);
  next.updatedAt = new Date(now.getTime());
  return next;
}

/** Appends the escalation unless an identical one is already there (a retried call). */
export function withEscalation(
  current: SessionRecord,
  escalation: Escalation,
  now: Date,
): SessionRecord {
  const next = structuredClone(current);
  const list = (next.escalations ??= []);
  if (!list.some((e) => sameEscalation(e, escalation))) list.push(structuredClone(escalation));
  next.updatedAt = new Date(now.getTime());
  return next;
}

function mergeAnswers(
  current: Record<string, CapturedAnswer> | undefined,
  prepared: Record<string, CapturedAnswer>,
): Record<string, CapturedAnswer> {
  return { ...current, ...structuredClone(prepared) };
}

export function escalationDocument(escalation: Escalation): Escalation {
  if (escalation.id === '') {
    throw new ValidationError('invalid_escalation', 'an escalation needs an id');
  }
  return toDocument({
    id: escalation.id,
    ruleId: escalation.ruleId,
    severity: escalation.severity,
    status: escalation.status,
    at: escalation.at,
    seq: escalation.seq,
    channel: escalation.channel,
    trigger: { ...escalation.trigger },
  });
}

export function rejectionDocument(rejection: Rejection): Rejection {
  if (rejection.messageId === '') {
    throw new ValidationError('invalid_rejection', 'a rejection needs a messageId');
  }
  return toDocument({
    messageId: rejection.messageId,
    sessionId: rejection.sessionId,
    reason: rejection.reason,
    code: rejection.code,
    receivedAt: rejection.receivedAt,
    detail: rejection.detail,
  });
}

export function utteranceDocument(utterance: Utterance): Utterance {
  if (utterance.sessionId === '' || !Number.isSafeInteger(utterance.seq) || utterance.seq < 0) {
    throw new ValidationError(
      'invalid_utterance',
      'an utterance needs a sessionId and a non-negative integer seq',
    );
  }
  return toDocument({
    sessionId: utterance.sessionId,
    seq: utterance.seq,
    role: utterance.role,
    text: utterance.text,
    startedAt: utterance.startedAt,
    endedAt: utterance.endedAt,
    interrupted: utterance.interrupted,
    confidence: utterance.confidence,
    latency: utterance.latency,
    citations: utterance.citations,
  });
}

export function sessionNotFound(sessionId: string): PermanentError {
  return new PermanentError('session_not_found', `no session ${sessionId}`);
}

function sameEscalation(a: Escalation, b: Escalation): boolean {
  return a.id === b.id;
}

export function compareRejections(a: Rejection, b: Rejection): number {
  const byTime = a.receivedAt.getTime() - b.receivedAt.getTime();
  if (byTime !== 0) return byTime;
  return a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0;
}

/** How many sessions `listInStates` returns when the caller does not say. */
export const DEFAULT_LIST_LIMIT = 500;

/** Least recently changed first; ties by sessionId, so both stores order alike. */
export function compareByChange(a: SessionRecord, b: SessionRecord): number {
  const byTime = a.updatedAt.getTime() - b.updatedAt.getTime();
  if (byTime !== 0) return byTime;
  return a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0;
}
