/**
 * The in-memory ProfileStore: the same contract as the MongoDB store, for unit tests and for
 * running the agent against local files without a database.
 */
import {
  conflictWithExisting,
  conflictWithLatest,
  infoOf,
  preparePublish,
  resolveWith,
  type ProfileStore,
  type ProfileVersionInfo,
  type PublishMeta,
  type PublishResult,
  type PublishedProfile,
} from './store.ts';
import type { ProfileRef } from '../sessions/schema.ts';
import type { Profile } from './schema.ts';

export interface MemoryProfileStoreOptions {
  /** @defaultValue `() => new Date()` */
  now?: () => Date;
}

export class MemoryProfileStore implements ProfileStore {
  readonly #versions = new Map<string, PublishedProfile>();
  readonly #now: () => Date;

  constructor(opts: MemoryProfileStoreOptions = {}) {
    this.#now = opts.now ?? (() => new Date());
  }

  async publish(profile: Profile, meta: PublishMeta): Promise<PublishResult> {
    const candidate = preparePublish(profile, meta, this.#now());
    // Check and insert with no await in between: that is this store's unique index.
    const key = `${candidate.id}@${candidate.version}`;
    const existing = this.#versions.get(key);
    if (existing) {
      if (existing.hash === candidate.hash) return { created: false, published: existing };
      throw conflictWithExisting(existing, candidate);
    }
    const latest = this.#latest(candidate.id);
    if (latest && latest.version > candidate.version) throw conflictWithLatest(latest, candidate);
    this.#versions.set(key, candidate);
    return { created: true, published: candidate };
  }

  async get(id: string, version?: number): Promise<PublishedProfile | null> {
    if (version !== undefined) return this.#versions.get(`${id}@${version}`) ?? null;
    return this.#latest(id);
  }

  #latest(id: string): PublishedProfile | null {
    let latest: PublishedProfile | null = null;
    for (const p of this.#versions.values()) {
      if (p.id === id && (!latest || p.version > latest.version)) latest = p;
    }
    return latest;
  }

  async list(id?: string): Promise<ProfileVersionInfo[]> {
    return [...this.#versions.values()]
      .filter((p) => id === undefined || p.id === id)
      .sort((a, b) => a.id.localeCompare(b.id) || a.version - b.version)
      .map(infoOf);
  }

  resolve(ref: ProfileRef): Promise<Profile> {
    return resolveWith(this, ref);
  }
}
