/**
 * `Idempotency-Key` → session id, per caller. The first insert under the unique `_id` wins;
 * FerretDB arbitrates that atomically, where a read-then-write would race.
 */
import type { Collection, Db } from 'mongodb';
import { isDuplicateKeyError } from '../../infra/mongo.ts';
import { ApiProblem } from '../errors.ts';

export const IDEMPOTENCY_COLLECTION = 'api_idempotency_keys';

interface KeyDocument {
  /** `<caller>\u0000<key>`: one caller's keys never collide with another's. */
  _id: string;
  sessionId: string;
  fingerprint: string;
  createdAt: Date;
}

export class IdempotencyKeys {
  readonly #col: Collection<KeyDocument>;

  constructor(db: Db) {
    this.#col = db.collection<KeyDocument>(IDEMPOTENCY_COLLECTION);
  }

  /**
   * The session id this key stands for: `proposed` the first time, the first one's after that.
   * The same key with a different request is a conflict.
   */
  async resolve(
    caller: string,
    key: string,
    proposed: string,
    fingerprint: string,
    now: Date,
  ): Promise<{ sessionId: string; first: boolean }> {
    const _id = `${caller}\u0000${key}`;
    try {
      await this.#col.insertOne({ _id, sessionId: proposed, fingerprint, createdAt: now });
      return { sessionId: proposed, first: true };
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
    const existing = await this.#col.findOne({ _id });
    if (!existing) throw new ApiProblem('unavailable', { detail: 'the idempotency key vanished' });
    if (existing.fingerprint !== fingerprint) {
      throw new ApiProblem('idempotency_conflict', {
        detail: 'this Idempotency-Key was first used with a different request',
      });
    }
    return { sessionId: existing.sessionId, first: false };
  }
}
