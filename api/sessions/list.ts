/**
 * Listing sessions with filters and a cursor. Sessions are revision chains (see
 * sessions/mongo-store.ts), so the listing walks the first revisions (rev 0: what was requested,
 * which never changes) newest first, and folds each page's sessions through the store for their
 * current state. A state filter is applied after the fold, so a page may hold fewer than `limit`
 * sessions; `nextCursor` still moves on, and is absent only at the end.
 */
import type { Db, Document } from 'mongodb';
import { COLLECTIONS } from '../../sessions/mongo-store.ts';
import type { SessionRecord, SessionState } from '../../sessions/schema.ts';
import type { SessionStore } from '../../sessions/store.ts';
import { ApiProblem } from '../errors.ts';

export interface ListFilter {
  state?: SessionState | undefined;
  profile?: string | undefined;
  /** requestedAt ≥ from */
  from?: Date | undefined;
  /** requestedAt < to */
  to?: Date | undefined;
  limit: number;
  cursor?: string | undefined;
}

interface Cursor {
  t: string;
  id: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeCursor(raw: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Cursor>;
    if (typeof c.t === 'string' && typeof c.id === 'string' && !Number.isNaN(Date.parse(c.t))) {
      return { t: c.t, id: c.id };
    }
  } catch {
    // fall through
  }
  throw new ApiProblem('invalid_request', {
    detail: 'query.cursor: not a cursor this API returned',
    errors: [{ path: 'query.cursor', message: 'not a cursor this API returned' }],
  });
}

/** Upper bound on first revisions read for one page when a state filter skips many. */
const MAX_SCANNED_PER_PAGE = 500;

export async function listSessions(
  db: Db,
  store: Pick<SessionStore, 'get'>,
  filter: ListFilter,
): Promise<{ items: SessionRecord[]; nextCursor: string | undefined }> {
  const base: Document = { rev: 0 };
  if (filter.profile !== undefined) base['profile.id'] = filter.profile;
  const time: Document = {};
  if (filter.from) time['$gte'] = filter.from;
  if (filter.to) time['$lt'] = filter.to;
  if (Object.keys(time).length) base['requestedAt'] = time;

  const revisions = db.collection(COLLECTIONS.sessionRevisions);
  const items: SessionRecord[] = [];
  let after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
  let scanned = 0;
  for (;;) {
    const query: Document = { ...base };
    if (after) {
      const t = new Date(after.t);
      query['$or'] = [
        { requestedAt: { $lt: t } },
        { requestedAt: t, sessionId: { $lt: after.id } },
      ];
      if (Object.keys(time).length) {
        query['$and'] = [{ requestedAt: time }];
        delete query['requestedAt'];
      }
    }
    const batchSize = filter.limit + 1;
    const firsts = await revisions
      .find(query, { projection: { sessionId: 1, requestedAt: 1 } })
      .sort({ requestedAt: -1, sessionId: -1 })
      .limit(batchSize)
      .toArray();
    const page = firsts.slice(0, filter.limit);
    const folded = await Promise.all(page.map((d) => store.get(String(d['sessionId']))));
    let consumed: Cursor | undefined;
    for (const [i, doc] of page.entries()) {
      if (items.length >= filter.limit && consumed) {
        return { items, nextCursor: encodeCursor(consumed) };
      }
      consumed = { t: (doc['requestedAt'] as Date).toISOString(), id: String(doc['sessionId']) };
      scanned++;
      const record = folded[i];
      if (!record) continue;
      if (filter.state !== undefined && record.state !== filter.state) continue;
      items.push(record);
    }
    const more = firsts.length > filter.limit;
    if (!more || !consumed) return { items, nextCursor: undefined };
    after = consumed;
    if (items.length >= filter.limit || scanned >= MAX_SCANNED_PER_PAGE) {
      return { items, nextCursor: encodeCursor(after) };
    }
  }
}
