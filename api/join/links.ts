/**
 * Single-use join links. Only the code's SHA-256 is stored. A code is consumed by inserting its
 * hash into `join_link_uses` under a unique `_id`: on FerretDB, where a conditional update is no
 * compare-and-swap (see sessions/mongo-store.ts), an insert is the one write that two
 * concurrent openers cannot both win.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { isDuplicateKeyError } from '../../infra/mongo.ts';

export const JOIN_LINKS_COLLECTION = 'join_links';
export const JOIN_LINK_USES_COLLECTION = 'join_link_uses';

interface LinkDocument {
  _id: string;
  sessionId: string;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
}

interface UseDocument {
  _id: string;
  sessionId: string;
  usedAt: Date;
}

const hashCode = (code: string): string => createHash('sha256').update(code).digest('hex');
const CODE_FORMAT = /^[A-Za-z0-9_-]{32}$/;

export type LinkLookup =
  { kind: 'valid'; sessionId: string; hash: string } | { kind: 'unknown' } | { kind: 'expired' };

export interface JoinLinksOptions {
  db: Db;
  ttlMs: number;
}

export class JoinLinks {
  readonly #links: Collection<LinkDocument>;
  readonly #uses: Collection<UseDocument>;
  readonly #ttlMs: number;

  constructor(opts: JoinLinksOptions) {
    this.#links = opts.db.collection<LinkDocument>(JOIN_LINKS_COLLECTION);
    this.#uses = opts.db.collection<UseDocument>(JOIN_LINK_USES_COLLECTION);
    this.#ttlMs = opts.ttlMs;
  }

  async create(
    sessionId: string,
    createdBy: string,
    now: Date,
  ): Promise<{ code: string; expiresAt: Date }> {
    // 192 random bits: unguessable, so the code alone may stand for the patient.
    const code = randomBytes(24).toString('base64url');
    const expiresAt = new Date(now.getTime() + this.#ttlMs);
    await this.#links.insertOne({
      _id: hashCode(code),
      sessionId,
      createdBy,
      createdAt: now,
      expiresAt,
    });
    return { code, expiresAt };
  }

  /** Looks the code up without using it (a session not placed yet must not burn the link). */
  async lookup(code: string, now: Date): Promise<LinkLookup> {
    if (!CODE_FORMAT.test(code)) return { kind: 'unknown' };
    const hash = hashCode(code);
    const doc = await this.#links.findOne({ _id: hash });
    if (!doc) return { kind: 'unknown' };
    if (doc.expiresAt.getTime() <= now.getTime()) return { kind: 'expired' };
    return { kind: 'valid', sessionId: doc.sessionId, hash };
  }

  /** True for the one caller that used the link; false for everyone after (or racing) it. */
  async consume(hash: string, sessionId: string, now: Date): Promise<boolean> {
    try {
      await this.#uses.insertOne({ _id: hash, sessionId, usedAt: now });
      return true;
    } catch (err) {
      if (isDuplicateKeyError(err)) return false;
      throw err;
    }
  }
}
