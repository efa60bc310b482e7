/**
 * Who is placing a session right now. The SessionStore makes a session exist once; this makes one
 * delivery at a time (in this dispatcher or another) place it, so concurrent duplicates produce
 * one dispatch. A lease lapses on its own when its holder dies, so a crash never strands a
 * session; the holder renews it while it works and fences its LiveKit calls on a renewal.
 *
 * It also remembers whether the event announcing the outcome went out, so a redelivery after a
 * failed publish announces it instead of dropping it.
 */
import type { Collection, Db } from 'mongodb';
import { isDuplicateKeyError } from '../infra/mongo.ts';
import { toStoreError } from '../sessions/mongo-store.ts';

export type Announcement = 'session.ready' | 'session.failed';

export interface PlacementLeases {
  /**
   * Takes the lease for `ttlMs` when nobody holds a live one, or `owner` already does.
   * False when another owner's lease has not lapsed yet.
   */
  acquire(sessionId: string, owner: string, now: Date, ttlMs: number): Promise<boolean>;
  /** Extends the lease; false when `owner` no longer holds it. */
  renew(sessionId: string, owner: string, now: Date, ttlMs: number): Promise<boolean>;
  /** Who holds a live lease on the session at `now`, or null when nobody does. */
  holder(sessionId: string, now: Date): Promise<string | null>;
  /** Gives the lease up so another delivery may place the session at once. */
  release(sessionId: string, owner: string): Promise<void>;
  markAnnounced(sessionId: string, event: Announcement, now: Date): Promise<void>;
  wasAnnounced(sessionId: string, event: Announcement): Promise<boolean>;
}

/** One state of a session's lease. Terms are only ever inserted, never updated. */
interface TermDocument {
  /** `<sessionId>#<term>`: the unique key that arbitrates who moves the lease on. */
  _id: string;
  sessionId: string;
  term: number;
  owner: string | null;
  leaseUntil: Date;
}

interface AnnouncementDocument {
  /** `<sessionId>#<event>` */
  _id: string;
  sessionId: string;
  event: Announcement;
  at: Date;
}

export const LEASE_COLLECTIONS = {
  terms: 'placement_lease_terms',
  announcements: 'placement_announcements',
} as const;

/** Contending writers retry this often before treating the lease as taken. */
const MAX_RACES = 5;

export interface MongoPlacementLeasesOptions {
  db: Db;
}

/**
 * MongoDB leases that hold on FerretDB too. FerretDB v1 rewrites a whole document on update, so
 * two conditional updates racing on one document can both "win"; what it does arbitrate is an
 * insert against a unique key. So every change of a lease (take, renew, release) inserts the
 * session's next term, `<sessionId>#<n+1>`, after checking term n allows it: of two racing
 * changes (a renewal and a takeover of a lapsed lease, say) exactly one inserts, and the other
 * looks again. No TTL either (FerretDB lacks TTL indexes): expiry is a timestamp, and a release
 * prunes the terms before it.
 */
export class MongoPlacementLeases implements PlacementLeases {
  readonly #terms: Collection<TermDocument>;
  readonly #announcements: Collection<AnnouncementDocument>;

  constructor(opts: MongoPlacementLeasesOptions) {
    this.#terms = opts.db.collection<TermDocument>(LEASE_COLLECTIONS.terms);
    this.#announcements = opts.db.collection<AnnouncementDocument>(LEASE_COLLECTIONS.announcements);
  }

  /** Idempotent; run at startup. The latest term is looked up by this index. */
  async ensureIndexes(): Promise<void> {
    try {
      await this.#terms.createIndex({ sessionId: 1, term: -1 }, { name: 'sessionId_term' });
    } catch (err) {
      throw toStoreError(err, 'create lease indexes');
    }
  }

  acquire(sessionId: string, owner: string, now: Date, ttlMs: number): Promise<boolean> {
    return this.#advance(sessionId, 'acquire lease', (latest) =>
      !latest ||
      latest.owner === null ||
      latest.owner === owner ||
      latest.leaseUntil.getTime() <= now.getTime()
        ? { owner, leaseUntil: new Date(now.getTime() + ttlMs) }
        : undefined,
    );
  }

  renew(sessionId: string, owner: string, now: Date, ttlMs: number): Promise<boolean> {
    return this.#advance(sessionId, 'renew lease', (latest) =>
      latest?.owner === owner ? { owner, leaseUntil: new Date(now.getTime() + ttlMs) } : undefined,
    );
  }

  async holder(sessionId: string, now: Date): Promise<string | null> {
    try {
      const latest = await this.#latest(sessionId);
      return latest?.owner && latest.leaseUntil.getTime() > now.getTime() ? latest.owner : null;
    } catch (err) {
      throw toStoreError(err, 'read lease');
    }
  }

  async release(sessionId: string, owner: string): Promise<void> {
    const released = await this.#advance(sessionId, 'release lease', (latest) =>
      latest?.owner === owner ? { owner: null, leaseUntil: new Date(0) } : undefined,
    );
    if (!released) return;
    try {
      const latest = await this.#latest(sessionId);
      if (latest) await this.#terms.deleteMany({ sessionId, term: { $lt: latest.term } });
    } catch {
      // Pruning is housekeeping: old terms are never read.
    }
  }

  async markAnnounced(sessionId: string, event: Announcement, now: Date): Promise<void> {
    try {
      await this.#announcements.insertOne({
        _id: `${sessionId}#${event}`,
        sessionId,
        event,
        at: now,
      });
    } catch (err) {
      if (isDuplicateKeyError(err)) return;
      throw toStoreError(err, 'mark announced');
    }
  }

  async wasAnnounced(sessionId: string, event: Announcement): Promise<boolean> {
    try {
      return (await this.#announcements.findOne({ _id: `${sessionId}#${event}` })) !== null;
    } catch (err) {
      throw toStoreError(err, 'read announcement');
    }
  }

  async #latest(sessionId: string): Promise<TermDocument | null> {
    return this.#terms.findOne({ sessionId }, { sort: { term: -1 } });
  }

  /** Inserts the next term if `next` allows a change from the latest; false when refused. */
  async #advance(
    sessionId: string,
    operation: string,
    next: (latest: TermDocument | null) => Pick<TermDocument, 'owner' | 'leaseUntil'> | undefined,
  ): Promise<boolean> {
    try {
      for (let race = 0; race < MAX_RACES; race++) {
        const latest = await this.#latest(sessionId);
        const change = next(latest);
        if (!change) return false;
        const term = (latest?.term ?? 0) + 1;
        try {
          await this.#terms.insertOne({ _id: `${sessionId}#${term}`, sessionId, term, ...change });
          return true;
        } catch (err) {
          // Someone moved the lease on first: look again.
          if (!isDuplicateKeyError(err)) throw err;
        }
      }
      return false;
    } catch (err) {
      throw toStoreError(err, operation);
    }
  }
}

/** The in-memory twin; passes the same contract (`leases.contract.ts`). */
export class InMemoryPlacementLeases implements PlacementLeases {
  readonly #leases = new Map<string, { owner: string | null; leaseUntil: number }>();
  readonly #announced = new Map<string, Set<Announcement>>();

  async acquire(sessionId: string, owner: string, now: Date, ttlMs: number): Promise<boolean> {
    const held = this.#leases.get(sessionId);
    const free =
      !held || held.owner === null || held.owner === owner || held.leaseUntil <= now.getTime();
    if (!free) return false;
    this.#leases.set(sessionId, { owner, leaseUntil: now.getTime() + ttlMs });
    return true;
  }

  async renew(sessionId: string, owner: string, now: Date, ttlMs: number): Promise<boolean> {
    const held = this.#leases.get(sessionId);
    if (!held || held.owner !== owner) return false;
    held.leaseUntil = now.getTime() + ttlMs;
    return true;
  }

  async holder(sessionId: string, now: Date): Promise<string | null> {
    const held = this.#leases.get(sessionId);
    return held?.owner && held.leaseUntil > now.getTime() ? held.owner : null;
  }

  async release(sessionId: string, owner: string): Promise<void> {
    const held = this.#leases.get(sessionId);
    if (held?.owner === owner) this.#leases.set(sessionId, { owner: null, leaseUntil: 0 });
  }

  async markAnnounced(sessionId: string, event: Announcement): Promise<void> {
    const set = this.#announced.get(sessionId) ?? new Set<Announcement>();
    set.add(event);
    this.#announced.set(sessionId, set);
  }

  async wasAnnounced(sessionId: string, event: Announcement): Promise<boolean> {
    return this.#announced.get(sessionId)?.has(event) ?? false;
  }
}
