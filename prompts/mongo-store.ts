/**
 * Published profile versions in MongoDB (FerretDB locally, Atlas in production).
 *
 * Immutability is enforced by the database, not only by this class: a unique index on
 * (profileId, version), and no code path that updates or deletes a version. Content is stored
 * with its hash and checked on every read, so an edit made behind the store's back is refused
 * rather than run.
 */
import { Db, type Collection } from 'mongodb';
import { deepFreeze } from '../infra/freeze.ts';
import { isDuplicateKeyError } from '../infra/mongo.ts';
import type { ProfileRef } from '../sessions/schema.ts';
import { safeParseProfile, type Profile } from './schema.ts';
import {
  ProfileIntegrityError,
  conflictWithExisting,
  conflictWithLatest,
  contentHash,
  preparePublish,
  resolveWith,
  type ProfileStore,
  type ProfileVersionInfo,
  type PublishMeta,
  type PublishResult,
  type PublishedProfile,
} from './store.ts';

interface ProfileDoc {
  profileId: string;
  version: number;
  hash: string;
  author: string;
  note: string;
  publishedAt: Date;
  profile: Profile;
}

export interface MongoProfileStoreOptions {
  db: Db;
  /** @defaultValue 'profiles' */
  collection?: string;
  /** @defaultValue `() => new Date()` */
  now?: () => Date;
}

const defaults = { collection: 'profiles', now: () => new Date() } as const;

export class MongoProfileStore implements ProfileStore {
  readonly #col: Collection<ProfileDoc>;
  readonly #now: () => Date;
  #indexed: Promise<void> | undefined;

  /** Takes an options bag, or just the database for the defaults. */
  constructor(opts: MongoProfileStoreOptions | Db) {
    const o = opts instanceof Db ? { db: opts } : opts;
    if (!(o.db instanceof Db)) throw new TypeError('MongoProfileStore needs a mongodb Db');
    this.#col = o.db.collection<ProfileDoc>(o.collection ?? defaults.collection);
    this.#now = o.now ?? defaults.now;
  }

  /** A store whose unique index is already in place (otherwise it is made before the first write). */
  static async create(opts: MongoProfileStoreOptions | Db): Promise<MongoProfileStore> {
    const store = new MongoProfileStore(opts);
    await store.ensureIndexes();
    return store;
  }

  /** The unique (profileId, version) index: the database itself refuses a second copy. */
  ensureIndexes(): Promise<void> {
    this.#indexed ??= this.#col
      .createIndex({ profileId: 1, version: 1 }, { unique: true, name: 'profile_version_unique' })
      .then(
        () => undefined,
        (err: unknown) => {
          this.#indexed = undefined;
          throw err;
        },
      );
    return this.#indexed;
  }

  async publish(profile: Profile, meta: PublishMeta): Promise<PublishResult> {
    const candidate = preparePublish(profile, meta, this.#now());
    await this.ensureIndexes();
    const existing = await this.get(candidate.id, candidate.version);
    if (existing) return this.#sameOrConflict(existing, candidate);
    const latest = await this.get(candidate.id);
    if (latest && latest.version > candidate.version) throw conflictWithLatest(latest, candidate);
    try {
      await this.#col.insertOne({
        profileId: candidate.id,
        version: candidate.version,
        hash: candidate.hash,
        author: candidate.author,
        note: candidate.note,
        publishedAt: candidate.publishedAt,
        // A structured clone: the driver adds nothing to it, and the candidate stays frozen.
        profile: structuredClone(candidate.profile),
      });
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      // Someone published this version between our read and our insert.
      const winner = await this.get(candidate.id, candidate.version);
      if (!winner) throw err;
      return this.#sameOrConflict(winner, candidate);
    }
    return { created: true, published: candidate };
  }

  #sameOrConflict(existing: PublishedProfile, candidate: PublishedProfile): PublishResult {
    if (existing.hash === candidate.hash) return { created: false, published: existing };
    throw conflictWithExisting(existing, candidate);
  }

  async get(id: string, version?: number): Promise<PublishedProfile | null> {
    const doc =
      version === undefined
        ? await this.#col.findOne({ profileId: id }, { sort: { version: -1 } })
        : await this.#col.findOne({ profileId: id, version });
    return doc ? this.#fromDoc(doc) : null;
  }

  async list(id?: string): Promise<ProfileVersionInfo[]> {
    const docs = await this.#col
      .find(id === undefined ? {} : { profileId: id }, { projection: { profile: 0 } })
      .sort({ profileId: 1, version: 1 })
      .toArray();
    return docs.map((d) => ({
      id: d.profileId,
      version: d.version,
      hash: d.hash,
      author: d.author,
      note: d.note,
      publishedAt: d.publishedAt,
    }));
  }

  resolve(ref: ProfileRef): Promise<Profile> {
    return resolveWith(this, ref);
  }

  #fromDoc(doc: ProfileDoc): PublishedProfile {
    const parsed = safeParseProfile(doc.profile);
    if (
      !parsed.success ||
      contentHash(parsed.data) !== doc.hash ||
      parsed.data.id !== doc.profileId ||
      parsed.data.version !== doc.version
    ) {
      throw new ProfileIntegrityError(doc.profileId, doc.version);
    }
    return deepFreeze({
      id: doc.profileId,
      version: doc.version,
      hash: doc.hash,
      author: doc.author,
      note: doc.note,
      publishedAt: doc.publishedAt,
      profile: parsed.data,
    });
  }
}
