/**
 * A local, durable spool of JSON records, one file per record: what a process could not hand to
 * MongoDB goes here, and a longer-lived process (the agent worker's main process, or the same
 * worker after a restart on the same disk) moves it on once MongoDB answers again.
 *
 * Why one file per record rather than one append-only JSON-lines file: several processes use a
 * spool at once (every job process writes, the main process replays and deletes) and there is
 * no cross-process lock in Node. A file written to a temporary name, fsync'd and then renamed
 * appears whole or not at all, and is removed only after its record was stored elsewhere, so no
 * interleaving of writers and replayers can lose or tear an entry. Writing one record twice
 * (same key) replaces the file: replays must be idempotent, and are (unique keys downstream).
 * A file holds the record's JSON and nothing else, named by a hash of its key, so the
 * escalation spool's files from before this module existed read back unchanged.
 *
 * What it does not cover: losing the disk itself (a Cloud Run instance's disk is memory and goes
 * with the instance).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

const SUFFIX = '.json';

export interface SpoolListing<T> {
  /** Complete, valid records. */
  entries: T[];
  /** Files that did not parse or failed `check`: kept for a person to look at. */
  unreadable: string[];
}

export interface DurableSpoolOptions<T> {
  dir: string;
  /** Validates a record read back (and one about to be written); throws when it is not one. */
  check: (raw: unknown) => T;
  /** The record's identity: a record written again under the same key replaces the first. */
  keyOf: (record: T) => string;
}

export class DurableSpool<T> {
  readonly dir: string;
  readonly #check: (raw: unknown) => T;
  readonly #keyOf: (record: T) => string;
  #ready: Promise<void> | undefined;

  constructor(opts: DurableSpoolOptions<T>) {
    this.dir = opts.dir;
    this.#check = opts.check;
    this.#keyOf = opts.keyOf;
  }

  /** Durable once it resolves: the file and its directory entry are fsync'd. */
  async write(record: T): Promise<void> {
    const valid = this.#check(record);
    await this.#ensureDir();
    const final = this.#path(this.#keyOf(valid));
    const tmp = `${final}.${randomUUID().slice(0, 8)}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(valid));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, final);
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async remove(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  /** Every complete record (temporary files of a writer that died are skipped). */
  async list(): Promise<SpoolListing<T>> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], unreadable: [] };
      throw err;
    }
    const entries: SpoolListing<T>['entries'] = [];
    const unreadable: string[] = [];
    for (const name of names.filter((n) => n.endsWith(SUFFIX))) {
      try {
        const raw = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as unknown;
        entries.push(this.#check(raw));
      } catch (err) {
        // Removed by another replayer meanwhile: nothing to do.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') unreadable.push(name);
      }
    }
    return { entries, unreadable };
  }

  #path(key: string): string {
    // Keys carry `:` and session ids: hash them into a portable file name.
    return join(
      this.dir,
      `${createHash('sha256').update(key).digest('hex').slice(0, 32)}${SUFFIX}`,
    );
  }

  #ensureDir(): Promise<void> {
    this.#ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => undefined);
    return this.#ready;
  }
}
