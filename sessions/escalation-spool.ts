/**
 * A local, durable spool for escalations the outbox could not take (MongoDB unreachable).
 *
 * Why a spool at all: with MongoDB down the job still publishes the escalation straight to
 * Pub/Sub, but if Pub/Sub is down too and the job process then dies, memory is all there was.
 * The spool is on the worker's own disk, so the worker's main process (which hosts a relay and
 * outlives its job processes) replays it into the outbox once MongoDB answers again; a worker
 * restarted on the same disk replays it at start.
 *
 * Why one file per escalation rather than one append-only JSON-lines file: several processes
 * use the spool at once (every job process writes, the main process replays and deletes) and
 * there is no cross-process lock in Node. A file written to a temporary name, fsync'd and then
 * renamed appears whole or not at all, and is removed only after the outbox has stored it, so
 * no interleaving of writers and replayers can lose or tear an entry. Escalations are rare, so
 * a file each costs nothing.
 *
 * What it does not cover: losing the disk itself (a Cloud Run instance's disk is memory and goes
 * with the instance). That case is left to the direct publish the job made while MongoDB was down.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../infra/logger.ts';
import { checkEntry, type EscalationOutbox, type OutboxEntry } from './outbox.ts';

const SUFFIX = '.json';

export class EscalationSpool {
  readonly dir: string;
  #ready: Promise<void> | undefined;

  constructor(opts: { dir: string }) {
    this.dir = opts.dir;
  }

  /** Durable once it resolves: the file and its directory entry are fsync'd. */
  async write(entry: OutboxEntry): Promise<void> {
    const valid = checkEntry(entry);
    await this.#ensureDir();
    const final = this.#path(valid.id);
    const tmp = `${final}.${randomUUID().slice(0, 8)}.tmp`;
    const fh = await open(tmp, 'w');
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

  async remove(id: string): Promise<void> {
    await rm(this.#path(id), { force: true });
  }

  /** Every complete spooled entry (temporary files of a writer that died are skipped). */
  async list(): Promise<{ entries: OutboxEntry[]; unreadable: string[] }> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], unreadable: [] };
      throw err;
    }
    const entries: OutboxEntry[] = [];
    const unreadable: string[] = [];
    for (const name of names.filter((n) => n.endsWith(SUFFIX))) {
      try {
        const raw = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as OutboxEntry;
        entries.push(checkEntry(raw));
      } catch (err) {
        // Removed by another replayer meanwhile: nothing to do.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') unreadable.push(name);
      }
    }
    return { entries, unreadable };
  }

  /**
   * Moves spooled entries into the outbox, removing each once stored. Stops at the first failed
   * write (MongoDB still away) and leaves the rest for the next call. Returns how many moved.
   */
  async replayInto(outbox: EscalationOutbox, log: Logger): Promise<number> {
    const { entries, unreadable } = await this.list();
    // Kept, not deleted: a person should look at a file we could not read.
    if (unreadable.length > 0)
      log.error({ files: unreadable }, 'unreadable escalation spool files');
    let moved = 0;
    for (const entry of entries) {
      await outbox.add(entry);
      await this.remove(entry.id);
      moved += 1;
      log.info(
        { sessionId: entry.sessionId, escalationId: entry.id },
        'spooled escalation replayed',
      );
    }
    return moved;
  }

  #path(id: string): string {
    // Escalation ids carry `:` and session ids: hash them into a portable file name.
    return join(this.dir, `${createHash('sha256').update(id).digest('hex').slice(0, 32)}${SUFFIX}`);
  }

  #ensureDir(): Promise<void> {
    this.#ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => undefined);
    return this.#ready;
  }
}
