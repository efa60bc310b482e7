/**
 * Session reads for GET /v1/sessions/:id: concurrent reads of one session share one store read
 * (single flight), and a result may be served for `maxAgeMs` after it was read. Every store
 * read is at least one FerretDB query (the probe for a newer revision), and a console polling a
 * call, or many, is exactly the load this absorbs. Writes never go through here.
 */
import type { SessionRecord } from '../../sessions/schema.ts';

const MAX_ENTRIES = 10_000;

export class SessionReadCache {
  readonly #read: (id: string) => Promise<SessionRecord | null>;
  readonly #maxAgeMs: number;
  readonly #entries = new Map<string, { at: number; value: Promise<SessionRecord | null> }>();
  readonly #inFlight = new Map<string, Promise<SessionRecord | null>>();

  constructor(read: (id: string) => Promise<SessionRecord | null>, maxAgeMs: number) {
    this.#read = read;
    this.#maxAgeMs = maxAgeMs;
  }

  get(id: string, now = Date.now()): Promise<SessionRecord | null> {
    const hit = this.#entries.get(id);
    // A read still in flight is shared even with no cache age allowed.
    if (hit && (now - hit.at <= this.#maxAgeMs || hit.value === this.#inFlight.get(id))) {
      return hit.value;
    }
    const value = this.#read(id);
    this.#inFlight.set(id, value);
    const settle = () => {
      if (this.#inFlight.get(id) === value) this.#inFlight.delete(id);
      // A failure is never cached; the next caller reads again.
    };
    value.then(settle, () => {
      settle();
      if (this.#entries.get(id)?.value === value) this.#entries.delete(id);
    });
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    this.#entries.set(id, { at: now, value });
    return value;
  }
}
