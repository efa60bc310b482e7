/**
 * Whether a request's profile exists. Profiles are their own module (versioned in MongoDB); the
 * dispatcher only asks this one question, through this interface, before claiming a session.
 */
import type { ProfileRef } from '../sessions/schema.ts';

export interface ProfileCatalog {
  /** True when `ref.id` is published and, if `ref.version` is given, that version exists. */
  exists(ref: ProfileRef): Promise<boolean>;
}

const ENTRY = /^([a-z0-9][a-z0-9-]{1,62})(?:@([1-9][0-9]*))?$/;

/**
 * A fixed list until the profile store is wired in: `intake` accepts any version of intake,
 * `intake@2` only version 2 (and requests that pin no version).
 */
export class FixedProfileCatalog implements ProfileCatalog {
  readonly #anyVersion = new Set<string>();
  readonly #versions = new Map<string, Set<number>>();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const m = ENTRY.exec(entry);
      if (!m?.[1]) throw new Error(`profile entry "${entry}" is not "id" or "id@version"`);
      if (m[2] === undefined) {
        this.#anyVersion.add(m[1]);
      } else {
        const set = this.#versions.get(m[1]) ?? new Set<number>();
        set.add(Number(m[2]));
        this.#versions.set(m[1], set);
      }
    }
  }

  async exists(ref: ProfileRef): Promise<boolean> {
    if (this.#anyVersion.has(ref.id)) return true;
    const versions = this.#versions.get(ref.id);
    if (!versions) return false;
    return ref.version === undefined || versions.has(ref.version);
  }
}

/** In-memory catalog for tests: publish versions as the test needs them. */
export class InMemoryProfileCatalog implements ProfileCatalog {
  readonly #versions = new Map<string, Set<number>>();
  /** Every ref asked about, in order. */
  readonly asked: ProfileRef[] = [];

  publish(id: string, version: number): this {
    const set = this.#versions.get(id) ?? new Set<number>();
    set.add(version);
    this.#versions.set(id, set);
    return this;
  }

  async exists(ref: ProfileRef): Promise<boolean> {
    this.asked.push({ ...ref });
    const versions = this.#versions.get(ref.id);
    if (!versions || versions.size === 0) return false;
    return ref.version === undefined || versions.has(ref.version);
  }
}
