/**
 * The MongoDB stores (FerretDB locally, Atlas in production).
 *
 * No transactions, change streams, TTL or partial indexes. Worse, FerretDB v1 applies an update
 * by reading the document, changing it in memory and writing the whole document back by `_id`:
 * a filter such as `{ state: 'active' }` is no compare-and-swap there, and concurrent updates
 * of one document lose each other's changes (measured: 5 concurrent `$inc` all returned 1, and
 * three conditional transitions out of `active` all "won"). What FerretDB does arbitrate
 * atomically is an insert against a unique index. So:
 *
 * - sessions are stored as revisions in `session_revisions`, one document per change, `_id`
 *   `<sessionId>#<rev>` and `(sessionId, rev)` unique. A mutation reads the latest revision,
 *   decides (with the same pure functions as the memory store) and inserts `rev + 1`. A
 *   duplicate key means another writer moved first: read again and decide again. This is
 *   optimistic concurrency that holds on FerretDB and MongoDB alike, and the revisions are an
 *   audit trail of every change to a session. Read the current state through `get`, never by
 *   querying the collection for "the" document of a session.
 * - utterances and rejections are insert-once: plain inserts against unique keys, a duplicate
 *   key meaning "already stored". (Not upserts: FerretDB runs each as a collection scan.)
 *
 * Driver errors leave this module as VoiceCareErrors: TransientError (`retryable`) when the
 * server was unreachable or said "try again", PermanentError otherwise, with the driver's error
 * as `cause`. Callers branch on `retryable`, never on driver classes.
 */
import {
  MongoBulkWriteError,
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoOperationTimeoutError,
  MongoServerSelectionError,
  type Collection,
  type Db,
  type Document,
  type IndexDescription,
  type WriteError,
} from 'mongodb';
import {
  PermanentError,
  TransientError,
  ValidationError,
  VoiceCareError,
} from '../infra/errors.ts';
import { isDuplicateKeyError } from '../infra/mongo.ts';
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
  toDocument,
  utteranceDocument,
  withAnswers,
  withAttempt,
  withEscalation,
  withHandoff,
  withTransition,
} from './documents.ts';
import {
  TERMINAL_STATES,
  type CapturedAnswer,
  type Escalation,
  type Rejection,
  type SessionHandoff,
  type SessionRecord,
  type SessionRequest,
  type SessionState,
  type Utterance,
} from './schema.ts';
import type { ClaimResult, SessionStore, TransitionPatch, UtteranceStore } from './store.ts';

export const COLLECTIONS = {
  /** One document per change to a session; the highest `rev` is the session's current state. */
  sessionRevisions: 'session_revisions',
  utterances: 'utterances',
  rejections: 'rejections',
} as const;

/**
 * Creates the indexes the stores rely on. Idempotent; run it at startup before serving.
 * The unique ones are what make claims, utterance writes and rejections idempotent.
 */
export async function ensureIndexes(db: Db): Promise<void> {
  // One index per command: FerretDB 1.24 drops the connection on a multi-index createIndexes.
  const specs: readonly [string, IndexDescription][] = [
    [
      COLLECTIONS.sessionRevisions,
      { key: { sessionId: 1, rev: 1 }, name: 'sessionId_rev_unique', unique: true },
    ],
    [
      COLLECTIONS.utterances,
      { key: { sessionId: 1, seq: 1 }, name: 'sessionId_seq_unique', unique: true },
    ],
    // listInStates (the reaper's sweep).
    [COLLECTIONS.sessionRevisions, { key: { state: 1, updatedAt: 1 }, name: 'state_updatedAt' }],
    [COLLECTIONS.rejections, { key: { messageId: 1 }, name: 'messageId_unique', unique: true }],
    // listRejections({ sessionId }) in arrival order.
    [
      COLLECTIONS.rejections,
      { key: { sessionId: 1, receivedAt: 1 }, name: 'sessionId_receivedAt' },
    ],
  ];
  for (const [collection, spec] of specs) {
    await guarded('ensureIndexes', () => db.collection(collection).createIndexes([spec]));
  }
}

// Server codes the MongoDB retryable-writes specification treats as "try again": the node is
// stepping down, shutting down or unreachable. FerretDB attaches no error labels, so the codes
// are checked as well as the labels.
const TRANSIENT_SERVER_CODES: ReadonlySet<number> = new Set([
  6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
]);

/** True for driver errors that say nothing about the operation itself, only about reaching it. */
export function isTransientMongoError(err: unknown): boolean {
  return isTransient(err, 0);
}

function isTransient(err: unknown, depth: number): boolean {
  if (
    err instanceof MongoNetworkError ||
    err instanceof MongoServerSelectionError ||
    err instanceof MongoOperationTimeoutError
  ) {
    return true;
  }
  if (!(err instanceof MongoError) || depth > 3) return false;
  if (err.hasErrorLabel(MongoErrorLabel.RetryableWriteError)) return true;
  if (err instanceof MongoBulkWriteError) {
    // bulkWrite wraps a driver failure (a dropped connection, no server to select) in a
    // MongoBulkWriteError and keeps the original as `errorResponse`: judge that one.
    const wrapped: unknown = err.errorResponse;
    if (wrapped instanceof Error && wrapped !== err) return isTransient(wrapped, depth + 1);
    const codes = writeErrorList(err).map((e) => e.code);
    return codes.length > 0 && codes.every((c) => TRANSIENT_SERVER_CODES.has(c));
  }
  if (typeof err.code === 'number' && TRANSIENT_SERVER_CODES.has(err.code)) return true;
  return err.cause !== undefined && isTransient(err.cause, depth + 1);
}

/** Maps anything a driver call threw onto the project's error hierarchy. */
export function toStoreError(err: unknown, operation: string): VoiceCareError {
  if (err instanceof VoiceCareError) return err;
  if (isTransientMongoError(err)) {
    return new TransientError('mongo_unavailable', `mongo ${operation} failed transiently`, err);
  }
  return new PermanentError('mongo_failed', `mongo ${operation} failed`, err);
}

/** Runs a store operation, turning a driver failure into our store error. */
export async function guarded<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toStoreError(err, operation);
  }
}

/** A stored document without MongoDB's `_id`, as the record type. */
export function withoutId<T>(doc: Document): T {
  const { _id: _ignored, ...rest } = doc;
  return rest as T;
}

function writeErrorList(err: MongoBulkWriteError): WriteError[] {
  const list: unknown = err.writeErrors;
  if (Array.isArray(list)) return list as WriteError[];
  // A single WriteError (a type-only export of the driver, so checked by shape).
  return typeof list === 'object' && list !== null && 'code' in list ? [list as WriteError] : [];
}

function allDuplicates(err: MongoBulkWriteError): boolean {
  const errors = writeErrorList(err);
  return (
    err.writeConcernError === undefined &&
    errors.length > 0 &&
    errors.every((e) => e.code === 11000)
  );
}

export interface MongoStoreOptions {
  db: Db;
}

export interface MongoSessionStoreOptions extends MongoStoreOptions {
  /**
   * How many times one mutation re-reads and re-decides after losing a race to another writer
   * of the same session before it gives up with a retryable `session_contended` error. Each
   * round has a winner, so this bounds how many writers may race on one session at once.
   * @defaultValue 16
   */
  maxWriteConflicts?: number;
}

/** Fields a revision carries besides the SessionRecord itself. */
interface RevisionFields {
  rev: number;
  /** What made this revision: `claim`, `transition:<state>`, `attempt`, `answers`, `escalation`. */
  op: string;
}

/** A stored revision: the SessionRecord's fields, the revision fields and a string `_id`. */
interface RevisionDocument extends RevisionFields, Document {
  _id: string;
}

interface Revision {
  rev: number;
  record: SessionRecord;
}

type Mutation =
  { outcome: 'written'; record: SessionRecord } | { outcome: 'refused' } | { outcome: 'missing' };

/**
 * Revisions get a deterministic `_id`, so finding "the next one" is a point lookup by `_id`,
 * the only filter FerretDB's SQLite backend pushes down (anything else scans the collection).
 * Session ids cannot contain `#`; even if one did, the rev after the last `#` is unambiguous.
 */
const revisionId = (sessionId: string, rev: number): string => `${sessionId}#${rev}`;

/** Sessions whose latest known revision this process remembers. */
const KNOWN_REVISIONS_MAX = 1000;
/** Point lookups for newer revisions before falling back to one query for the latest. */
const MAX_FORWARD_PROBES = 8;

export class MongoSessionStore implements SessionStore {
  readonly #revisions: Collection<RevisionDocument>;
  readonly #rejections: Collection<Document>;
  readonly #maxWriteConflicts: number;
  /**
   * The latest revision this process has seen per session (least recently used first).
   * Revisions are immutable, so an entry is never wrong, only possibly not the newest: reads
   * probe for the next rev by `_id`, and a stale write loses the insert race.
   */
  readonly #known = new Map<string, Revision>();

  constructor(opts: MongoSessionStoreOptions) {
    const maxWriteConflicts = opts.maxWriteConflicts ?? 16;
    if (!Number.isInteger(maxWriteConflicts) || maxWriteConflicts < 1) {
      throw new ValidationError('invalid_options', 'maxWriteConflicts must be a positive integer');
    }
    this.#revisions = opts.db.collection<RevisionDocument>(COLLECTIONS.sessionRevisions);
    this.#rejections = opts.db.collection(COLLECTIONS.rejections);
    this.#maxWriteConflicts = maxWriteConflicts;
  }

  async claim(request: SessionRequest, now: Date): Promise<ClaimResult> {
    const fresh = newSessionRecord(request, now);
    return guarded('claim', async () => {
      if (await this.#insert(fresh, { rev: 0, op: 'claim' })) {
        return { created: true, session: structuredClone(fresh) };
      }
      const existing = await this.#latest(fresh.sessionId);
      if (!existing) throw sessionNotFound(fresh.sessionId);
      return { created: false, session: structuredClone(existing.record) };
    });
  }

  async get(sessionId: string): Promise<SessionRecord | null> {
    const latest = await guarded('get', () => this.#latest(sessionId));
    return latest ? structuredClone(latest.record) : null;
  }

  async transition(
    sessionId: string,
    to: SessionState,
    now: Date,
    patch?: TransitionPatch,
  ): Promise<SessionRecord | null> {
    const prepared = preparePatch(patch);
    const res = await this.#mutate(sessionId, `transition:${to}`, (current) =>
      withTransition(current, to, now, prepared),
    );
    return res.outcome === 'written' ? structuredClone(res.record) : null;
  }

  async recordAttempt(sessionId: string, now: Date, lastFailure?: string): Promise<number> {
    const res = await this.#mutate(sessionId, 'attempt', (current) =>
      withAttempt(current, now, lastFailure),
    );
    if (res.outcome !== 'written') throw sessionNotFound(sessionId);
    return res.record.attempts;
  }

  async saveAnswers(
    sessionId: string,
    answers: Record<string, CapturedAnswer>,
    now: Date,
  ): Promise<void> {
    const prepared = prepareAnswers(answers);
    const res = await this.#mutate(sessionId, 'answers', (current) =>
      withAnswers(current, prepared, now),
    );
    if (res.outcome !== 'written') throw sessionNotFound(sessionId);
  }

  async addEscalation(sessionId: string, escalation: Escalation, now: Date): Promise<void> {
    const doc = escalationDocument(escalation);
    const res = await this.#mutate(sessionId, 'escalation', (current) =>
      withEscalation(current, doc, now),
    );
    if (res.outcome !== 'written') throw sessionNotFound(sessionId);
  }

  async noteHandoff(sessionId: string, handoff: SessionHandoff, now: Date): Promise<boolean> {
    const res = await this.#mutate(sessionId, 'handoff', (current) =>
      withHandoff(current, handoff, now),
    );
    if (res.outcome === 'missing') throw sessionNotFound(sessionId);
    return res.outcome === 'written';
  }

  async listInStates(
    states: readonly SessionState[],
    opts: { changedSince: Date; limit?: number },
  ): Promise<SessionRecord[]> {
    const limit = opts.limit ?? DEFAULT_LIST_LIMIT;
    return guarded('listInStates', async () => {
      // Any session now in one of the states has its latest revision in it, changed since then.
      const hits = await this.#revisions
        .find(
          { state: { $in: [...states] }, updatedAt: { $gte: opts.changedSince } },
          { projection: { sessionId: 1 } },
        )
        .toArray();
      let ids = new Set(hits.map((d) => String(d['sessionId'])));
      // States only move forward, so a session with a terminal revision is over; skipping those
      // saves folding every finished session of the window on each sweep.
      if (ids.size > 0 && !states.some((st) => TERMINAL_STATES.has(st))) {
        const over = await this.#revisions
          .find(
            { sessionId: { $in: [...ids] }, state: { $in: [...TERMINAL_STATES] } },
            { projection: { sessionId: 1 } },
          )
          .toArray();
        const ended = new Set(over.map((d) => String(d['sessionId'])));
        ids = new Set([...ids].filter((id) => !ended.has(id)));
      }
      const records: SessionRecord[] = [];
      for (const id of ids) {
        const latest = await this.#latest(id);
        if (!latest) continue;
        const r = latest.record;
        if (states.includes(r.state) && r.updatedAt.getTime() >= opts.changedSince.getTime()) {
          records.push(structuredClone(r));
        }
      }
      return records.sort(compareByChange).slice(0, limit);
    });
  }

  async recordRejection(rejection: Rejection): Promise<void> {
    const doc = rejectionDocument(rejection);
    await guarded('recordRejection', async () => {
      try {
        await this.#rejections.insertOne(doc);
      } catch (err) {
        // Redelivered message: the first recording stands.
        if (!isDuplicateKeyError(err)) throw err;
      }
    });
  }

  async listRejections(filter: { messageId?: string; sessionId?: string }): Promise<Rejection[]> {
    const query: Document = {};
    if (filter.messageId !== undefined) query['messageId'] = filter.messageId;
    if (filter.sessionId !== undefined) query['sessionId'] = filter.sessionId;
    const docs = await guarded('listRejections', () => this.#rejections.find(query).toArray());
    // Sorted here, with the memory store's comparison, so both order ties identically.
    return docs.map((d) => withoutId<Rejection>(d)).sort(compareRejections);
  }

  /**
   * Read the latest revision, let `decide` compute the next record (null: refused), insert it
   * as the next revision. Losing the insert race means the decision was taken on a stale
   * record, so it is taken again on the fresh one.
   */
  async #mutate(
    sessionId: string,
    op: string,
    decide: (current: SessionRecord) => SessionRecord | null,
  ): Promise<Mutation> {
    return guarded(op, async () => {
      for (let conflict = 0; conflict < this.#maxWriteConflicts; conflict++) {
        const latest = await this.#latest(sessionId);
        if (!latest) return { outcome: 'missing' };
        const next = decide(latest.record);
        if (!next) return { outcome: 'refused' };
        if (await this.#insert(next, { rev: latest.rev + 1, op })) {
          return { outcome: 'written', record: next };
        }
      }
      throw new TransientError(
        'session_contended',
        `session ${sessionId} changed under ${this.#maxWriteConflicts} attempts to ${op}`,
      );
    });
  }

  /** True when inserted; false when that revision already exists. */
  async #insert(record: SessionRecord, fields: RevisionFields): Promise<boolean> {
    const doc: RevisionDocument = {
      ...toDocument(record),
      ...fields,
      _id: revisionId(record.sessionId, fields.rev),
    };
    try {
      await this.#revisions.insertOne(doc);
    } catch (err) {
      if (isDuplicateKeyError(err)) return false;
      throw err;
    }
    this.#remember({ rev: fields.rev, record });
    return true;
  }

  async #latest(sessionId: string): Promise<Revision | null> {
    let latest = this.#known.get(sessionId) ?? (await this.#findLatest(sessionId));
    if (!latest) return null;
    // Revisions are dense: anything newer than what we know is at rev + 1, rev + 2, ...
    for (let probe = 0; ; probe++) {
      if (probe === MAX_FORWARD_PROBES) {
        // Far behind: one query is cheaper than many more probes.
        latest = (await this.#findLatest(sessionId)) ?? latest;
        break;
      }
      const newer = await this.#revisions.findOne({ _id: revisionId(sessionId, latest.rev + 1) });
      if (!newer) break;
      latest = toRevision(newer);
    }
    this.#remember(latest);
    return latest;
  }

  /** The latest revision by query: index-backed on MongoDB, a scan on FerretDB. */
  async #findLatest(sessionId: string): Promise<Revision | null> {
    const doc = await this.#revisions.find({ sessionId }).sort({ rev: -1 }).limit(1).next();
    return doc ? toRevision(doc) : null;
  }

  #remember(revision: Revision): void {
    const { sessionId } = revision.record;
    const known = this.#known.get(sessionId);
    if (known && known.rev > revision.rev) return;
    this.#known.delete(sessionId);
    this.#known.set(sessionId, revision);
    if (this.#known.size > KNOWN_REVISIONS_MAX) {
      const oldest = this.#known.keys().next();
      if (!oldest.done) this.#known.delete(oldest.value);
    }
  }
}

function toRevision(doc: Document): Revision {
  const { _id: _ignored, rev, op: _op, ...record } = doc;
  return { rev: rev as number, record: record as SessionRecord };
}

export class MongoUtteranceStore implements UtteranceStore {
  readonly #utterances: Collection<Document>;

  constructor(opts: MongoStoreOptions) {
    this.#utterances = opts.db.collection(COLLECTIONS.utterances);
  }

  async writeUtterances(batch: readonly Utterance[]): Promise<void> {
    if (batch.length === 0) return;
    // Validate the whole batch before anything is sent.
    const docs = batch.map(utteranceDocument);
    await guarded('writeUtterances', async () => {
      try {
        // Plain inserts, not upserts: the unique (sessionId, seq) index makes them insert-once
        // just the same, and FerretDB runs each upsert as a scan of the whole collection
        // (measured: 10 upserts 1.9 s at 2k documents; 10 inserts 8 ms).
        await this.#utterances.insertMany(docs, { ordered: false });
      } catch (err) {
        // Unordered: every other insert still ran. Duplicate keys only mean those utterances
        // are already stored (a retried batch, or a retry racing its own first attempt).
        if (err instanceof MongoBulkWriteError && allDuplicates(err)) return;
        throw err;
      }
    });
  }

  async listUtterances(sessionId: string): Promise<Utterance[]> {
    const docs = await guarded('listUtterances', () =>
      this.#utterances.find({ sessionId }).sort({ seq: 1 }).toArray(),
    );
    return docs.map((d) => withoutId<Utterance>(d));
  }
}
