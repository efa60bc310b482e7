/**
 * Whether a request's profile exists. Profiles are their own module (versioned in MongoDB); the
 * dispatcher only asks this one question, through this interface, before claiming a session.
 */
import type { ProfileStore } from '../prompts/store.ts';
import type { ProfileRef } from '../sessions/schema.ts';

export interface ProfileCatalog {
  /** True when `ref.id` is published and, if `ref.version` is given, that version exists. */
  exists(ref: ProfileRef): Promise<boolean>;
}

/** The published profiles in the profile store: the same versions the agent will resolve. */
export class PublishedProfileCatalog implements ProfileCatalog {
  readonly #store: Pick<ProfileStore, 'get'>;

  constructor(store: Pick<ProfileStore, 'get'>) {
    this.#store = store;
  }

  async exists(ref: ProfileRef): Promise<boolean> {
    return (await this.#store.get(ref.id, ref.version)) !== null;
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
