/**
 * In-memory twins of the MongoDB stores, for unit tests and offline runs. Same semantics, proven
 * by the same contract suite (`store.contract.ts`) and by construction: both apply the same pure
 * mutations from `documents.ts`. A call here is atomic because nothing in it awaits.
 */
import {
  DEFAULT_LIST_LIMIT,
  compareByChange,
  compareRejections,
  escalationDocument,
  newSessionRecord,
  prepareAnswers,
  preparePatch,
  rejectionDocument,
  sessionNotFound,
  utteranceDocument,
  withAnswers,
  withAttempt,
  withEscalation,
  withHandoff,
  withTransition,
} from './documents.ts';
import type {
  CapturedAnswer,
  Escalation,
  Rejection,
  SessionHandoff,
  SessionRecord,
  SessionRequest,
  SessionState,
  Utterance,
} from './schema.ts';
import type { ClaimResult, SessionStore, TransitionPatch, UtteranceStore } from './store.ts';

export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #rejections = new Map<string, Rejection>();

  async claim(request: SessionRequest, now: Date): Promise<ClaimResult> {
    const fresh = newSessionRecord(request, now);
    const existing = this.#sessions.get(fresh.sessionId);
    if (existing) return { created: false, session: structuredClone(existing) };
    this.#sessions.set(fresh.sessionId, fresh);
    return { created: true, session: structuredClone(fresh) };
  }

  async get(sessionId: string): Promise<SessionRecord | null> {
    const record = this.#sessions.get(sessionId);
    return record ? structuredClone(record) : null;
  }

  async transition(
    sessionId: string,
    to: SessionState,
    now: Date,
    patch?: TransitionPatch,
  ): Promise<SessionRecord | null> {
    const prepared = preparePatch(patch);
    const current = this.#sessions.get(sessionId);
    const next = current ? withTransition(current, to, now, prepared) : null;
    if (!next) return null;
    this.#sessions.set(sessionId, next);
    return structuredClone(next);
  }

  async recordAttempt(sessionId: string, now: Date, lastFailure?: string): Promise<number> {
    const next = withAttempt(this.#require(sessionId), now, lastFailure);
    this.#sessions.set(sessionId, next);
    return next.attempts;
  }

  async saveAnswers(
    sessionId: string,
    answers: Record<string, CapturedAnswer>,
    now: Date,
  ): Promise<void> {
    const prepared = prepareAnswers(answers);
    this.#sessions.set(sessionId, withAnswers(this.#require(sessionId), prepared, now));
  }

  async addEscalation(sessionId: string, escalation: Escalation, now: Date): Promise<void> {
    const doc = escalationDocument(escalation);
    this.#sessions.set(sessionId, withEscalation(this.#require(sessionId), doc, now));
  }

  async noteHandoff(sessionId: string, handoff: SessionHandoff, now: Date): Promise<boolean> {
    const next = withHandoff(this.#require(sessionId), handoff, now);
    if (next) this.#sessions.set(sessionId, next);
    return next !== null;
  }

  async listInStates(
    states: readonly SessionState[],
    opts: { changedSince: Date; limit?: number },
  ): Promise<SessionRecord[]> {
    const since = opts.changedSince.getTime();
    return [...this.#sessions.values()]
      .filter((r) => states.includes(r.state) && r.updatedAt.getTime() >= since)
      .sort(compareByChange)
      .slice(0, opts.limit ?? DEFAULT_LIST_LIMIT)
      .map((r) => structuredClone(r));
  }

  async recordRejection(rejection: Rejection): Promise<void> {
    const doc = rejectionDocument(rejection);
    if (!this.#rejections.has(doc.messageId)) this.#rejections.set(doc.messageId, doc);
  }

  async listRejections(filter: { messageId?: string; sessionId?: string }): Promise<Rejection[]> {
    return [...this.#rejections.values()]
      .filter(
        (r) =>
          (filter.messageId === undefined || r.messageId === filter.messageId) &&
          (filter.sessionId === undefined || r.sessionId === filter.sessionId),
      )
      .sort(compareRejections)
      .map((r) => structuredClone(r));
  }

  #require(sessionId: string): SessionRecord {
    const record = this.#sessions.get(sessionId);
    if (!record) throw sessionNotFound(sessionId);
    return record;
  }
}

export class MemoryUtteranceStore implements UtteranceStore {
  readonly #bySession = new Map<string, Map<number, Utterance>>();

  async writeUtterances(batch: readonly Utterance[]): Promise<void> {
    // Like the Mongo store: the whole batch is validated before anything is kept.
    const docs = batch.map(utteranceDocument);
    for (const doc of docs) {
      let session = this.#bySession.get(doc.sessionId);
      if (!session) {
        session = new Map();
        this.#bySession.set(doc.sessionId, session);
      }
      if (!session.has(doc.seq)) session.set(doc.seq, doc);
    }
  }

  async listUtterances(sessionId: string): Promise<Utterance[]> {
    const session = this.#bySession.get(sessionId);
    if (!session) return [];
    return [...session.values()].sort((a, b) => a.seq - b.seq).map((u) => structuredClone(u));
  }
}
