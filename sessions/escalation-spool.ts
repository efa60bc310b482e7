/**
 * A local, durable spool for escalations the outbox could not take (MongoDB unreachable).
 *
 * Why a spool at all: with MongoDB down the job still publishes the escalation straight to
 * Pub/Sub, but if Pub/Sub is down too and the job process then dies, memory is all there was.
 * The spool is on the worker's own disk, so the worker's main process (which hosts a relay and
 * outlives its job processes) replays it into the outbox once MongoDB answers again; a worker
 * restarted on the same disk replays it at start.
 *
 * The files are `DurableSpool`'s (`durable-spool.ts`): one per escalation, written whole or not
 * at all, removed only once the outbox has stored it. Escalations are rare, so a file each
 * costs nothing.
 *
 * What it does not cover: losing the disk itself (a Cloud Run instance's disk is memory and goes
 * with the instance). That case is left to the direct publish the job made while MongoDB was down.
 */
import type { Logger } from '../infra/logger.ts';
import { DurableSpool } from './durable-spool.ts';
import { checkEntry, type EscalationOutbox, type OutboxEntry } from './outbox.ts';

export class EscalationSpool {
  readonly dir: string;
  readonly #spool: DurableSpool<OutboxEntry>;

  constructor(opts: { dir: string }) {
    this.dir = opts.dir;
    this.#spool = new DurableSpool({
      dir: opts.dir,
      check: (raw) => checkEntry(raw as OutboxEntry),
      keyOf: (entry) => entry.id,
    });
  }

  /** Durable once it resolves: the file and its directory entry are fsync'd. */
  write(entry: OutboxEntry): Promise<void> {
    return this.#spool.write(entry);
  }

  remove(id: string): Promise<void> {
    return this.#spool.remove(id);
  }

  /** Every complete spooled entry (temporary files of a writer that died are skipped). */
  list(): Promise<{ entries: OutboxEntry[]; unreadable: string[] }> {
    return this.#spool.list();
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
}
