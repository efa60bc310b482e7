/**
 * Published profile versions: immutable once written. MongoDB in production (mongo-store.ts),
 * an in-memory twin for unit tests (memory-store.ts); both pass store.contract.ts.
 *
 * There is deliberately no update path. A version is identified by (id, version) and its content
 * hash; publishing the same content again is a no-op, and different content under a published
 * version is refused. Changing a profile means publishing a new version number.
 */
import { createHash } from 'node:crypto';
import { PermanentError, ValidationError } from '../infra/errors.ts';
import type { ProfileRef } from '../sessions/schema.ts';
import { formatPath, safeParseProfile, type Profile } from './schema.ts';
import { deepFreeze } from '../infra/freeze.ts';

export interface PublishMeta {
  /** Who approved this version (a name or staff id; not a patient). */
  author: string;
  /** What changed and why, for the audit trail. */
  note: string;
}

export interface ProfileVersionInfo {
  id: string;
  version: number;
  /** `sha256:<hex>` of the canonical JSON of the profile. */
  hash: string;
  author: string;
  note: string;
  publishedAt: Date;
}

export interface PublishedProfile extends ProfileVersionInfo {
  /** Deeply frozen. */
  profile: Profile;
}

export interface PublishResult {
  /** False when this exact content was already published under this version. */
  created: boolean;
  published: PublishedProfile;
}

export interface ProfileStore {
  /**
   * Stores an immutable version. Idempotent for identical content; throws PublishConflictError
   * for different content under a published version, or for a version older than the latest.
   */
  publish(profile: Profile, meta: PublishMeta): Promise<PublishResult>;
  /** The pinned version, or the latest (highest) one when `version` is omitted. */
  get(id: string, version?: number): Promise<PublishedProfile | null>;
  /** Version metadata, by id then version, oldest first. */
  list(id?: string): Promise<ProfileVersionInfo[]>;
  /**
   * The profile a session runs: the pinned version, or the latest. Throws ProfileNotFoundError
   * (not retryable, with a `reason` to record) for an unknown id or version.
   */
  resolve(ref: ProfileRef): Promise<Profile>;
}

/** A published version can't be changed, and history can't be rewritten with an older number. */
export class PublishConflictError extends PermanentError {
  constructor(
    message: string,
    readonly id: string,
    readonly version: number,
    /** The hash already published under this version, when that is the conflict. */
    readonly existingHash: string | undefined,
    readonly attemptedHash: string,
  ) {
    super('profile_version_conflict', message);
  }
}

/**
 * The session asked for a profile or version that was never published. Not retryable: the
 * dispatcher records `reason` on the rejection.
 */
export class ProfileNotFoundError extends PermanentError {
  readonly reason: string;
  constructor(
    code: 'profile_unknown' | 'profile_version_unknown',
    reason: string,
    readonly ref: ProfileRef,
  ) {
    super(code, reason);
    this.reason = reason;
  }
}

/** A stored version no longer matches its hash: it was edited outside the store. */
export class ProfileIntegrityError extends PermanentError {
  constructor(id: string, version: number) {
    super(
      'profile_integrity',
      `published profile ${id} v${version} does not match its content hash; it was changed outside the profile store`,
    );
  }
}

/** JSON with object keys sorted at every level, so equal content always hashes equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, (v as Record<string, unknown>)[k]]),
      );
    }
    return v;
  });
}

export function contentHash(profile: Profile): string {
  return `sha256:${createHash('sha256').update(canonicalJson(profile)).digest('hex')}`;
}

/** Validation both stores run before writing: the store only ever holds valid profiles. */
export function preparePublish(profile: Profile, meta: PublishMeta, now: Date): PublishedProfile {
  const author = typeof meta.author === 'string' ? meta.author.trim() : '';
  const note = typeof meta.note === 'string' ? meta.note.trim() : '';
  const problems: string[] = [];
  if (!author || author.length > 100)
    problems.push('author: give who approved this (1-100 characters)');
  if (!note || note.length > 2000)
    problems.push('note: say what changed and why (1-2000 characters)');
  const parsed = safeParseProfile(profile);
  if (!parsed.success) {
    for (const i of parsed.error.issues) problems.push(`${formatPath(i.path)}: ${i.message}`);
  }
  if (problems.length || !parsed.success) {
    throw new ValidationError(
      'profile_publish_invalid',
      `cannot publish: ${problems.join('; ')}`,
      problems,
    );
  }
  const clean = parsed.data;
  return deepFreeze({
    id: clean.id,
    version: clean.version,
    hash: contentHash(clean),
    author,
    note,
    publishedAt: now,
    profile: clean,
  });
}

export function conflictWithExisting(
  existing: ProfileVersionInfo,
  attempted: ProfileVersionInfo,
): PublishConflictError {
  return new PublishConflictError(
    `${attempted.id} v${attempted.version} is already published with different content ` +
      `(published ${existing.publishedAt.toISOString()} by ${existing.author}). Published ` +
      `versions can't be changed: give your changes a new version number.`,
    attempted.id,
    attempted.version,
    existing.hash,
    attempted.hash,
  );
}

export function conflictWithLatest(
  latest: ProfileVersionInfo,
  attempted: ProfileVersionInfo,
): PublishConflictError {
  return new PublishConflictError(
    `${attempted.id} v${attempted.version} is older than the latest published version ` +
      `(v${latest.version}); publish it as v${latest.version + 1} or later.`,
    attempted.id,
    attempted.version,
    undefined,
    attempted.hash,
  );
}

/** resolve() in terms of get(), shared by both stores. */
export async function resolveWith(
  store: Pick<ProfileStore, 'get'>,
  ref: ProfileRef,
): Promise<Profile> {
  const found = await store.get(ref.id, ref.version);
  if (found) return found.profile;
  if (ref.version === undefined) {
    throw new ProfileNotFoundError(
      'profile_unknown',
      `no version of profile '${ref.id}' has been published`,
      ref,
    );
  }
  const latest = await store.get(ref.id);
  throw new ProfileNotFoundError(
    latest ? 'profile_version_unknown' : 'profile_unknown',
    latest
      ? `profile '${ref.id}' has no published version ${ref.version} (latest is v${latest.version})`
      : `no version of profile '${ref.id}' has been published`,
    ref,
  );
}

export function infoOf(p: PublishedProfile): ProfileVersionInfo {
  return {
    id: p.id,
    version: p.version,
    hash: p.hash,
    author: p.author,
    note: p.note,
    publishedAt: p.publishedAt,
  };
}
