/**
 * Where a job's transcript goes when MongoDB does not take it before the job must end (or when
 * the sink's in-memory bound is reached during an outage): one file per batch of utterances on
 * the worker's disk (`durable-spool.ts`). The worker's main process replays the files into the
 * utterance store once MongoDB answers, and again at its next start; a file is removed only
 * after the store acknowledged its batch.
 *
 * Replays never duplicate: the store is insert-once on (sessionId, seq), so a batch whose
 * write did land before the job gave up on it (a write in doubt) is simply acknowledged again.
 */
import type { Logger } from '../infra/logger.ts';
import { utteranceDocument } from './documents.ts';
import { DurableSpool } from './durable-spool.ts';
import type { Utterance } from './schema.ts';
import type { UtteranceStore } from './store.ts';

export interface SpooledBatch {
  sessionId: string;
  /** Who spooled it (`job:<id>`): for the log of the process that replays it. */
  by: string;
  spooledAt: Date;
  utterances: Utterance[];
}

function revive(u: Utterance): Utterance {
  return utteranceDocument({
    ...u,
    startedAt: new Date(u.startedAt),
    endedAt: new Date(u.endedAt),
  });
}

function checkBatch(raw: unknown): SpooledBatch {
  const b = raw as Partial<SpooledBatch> | null;
  if (
    typeof b?.sessionId !== 'string' ||
    typeof b.by !== 'string' ||
    !Array.isArray(b.utterances) ||
    b.utterances.length === 0
  ) {
    throw new TypeError('not a spooled utterance batch');
  }
  const utterances = b.utterances.map(revive);
  if (utterances.some((u) => u.sessionId !== b.sessionId)) {
    throw new TypeError('spooled batch mixes sessions');
  }
  return {
    sessionId: b.sessionId,
    by: b.by,
    spooledAt: new Date(b.spooledAt ?? 0),
    utterances,
  };
}

/** One batch is one file; its seqs name it, so spooling the same batch twice keeps one file. */
const keyOf = (b: SpooledBatch): string =>
  `${b.sessionId}:${b.utterances.map((u) => u.seq).join(',')}`;

export interface ReplayResult {
  /** Batches stored and removed from the spool. */
  replayed: number;
  utterances: number;
  /** Batches left for a later replay (the store failed). */
  left: number;
}

export class UtteranceSpool {
  readonly dir: string;
  readonly #spool: DurableSpool<SpooledBatch>;

  constructor(opts: { dir: string }) {
    this.dir = opts.dir;
    this.#spool = new DurableSpool({ dir: opts.dir, check: checkBatch, keyOf });
  }

  /** Durable once it resolves. Utterances of one session only; an empty list is a no-op. */
  async write(
    sessionId: string,
    utterances: readonly Utterance[],
    meta: { by: string; at?: Date },
  ): Promise<void> {
    if (utterances.length === 0) return;
    await this.#spool.write({
      sessionId,
      by: meta.by,
      spooledAt: meta.at ?? new Date(),
      utterances: [...utterances],
    });
  }

  async list(): Promise<{ entries: SpooledBatch[]; unreadable: string[] }> {
    return this.#spool.list();
  }

  /** The highest spooled seq of a session, or undefined: a resumed job numbers after it. */
  async lastSeq(sessionId: string): Promise<number | undefined> {
    const { entries } = await this.list();
    let last: number | undefined;
    for (const b of entries) {
      if (b.sessionId !== sessionId) continue;
      for (const u of b.utterances) last = Math.max(last ?? -1, u.seq);
    }
    return last;
  }

  /**
   * Writes every spooled batch (of one session, if given) to the store, oldest first, removing
   * each once stored. Stops at the first failed write (MongoDB still away) and leaves the rest.
   */
  async replayInto(
    store: UtteranceStore,
    log: Logger,
    opts: { sessionId?: string } = {},
  ): Promise<ReplayResult> {
    const { entries, unreadable } = await this.list();
    // Kept, not deleted: a person should look at a file we could not read.
    if (unreadable.length > 0)
      log.error({ files: unreadable }, 'unreadable transcript spool files');
    const batches = entries
      .filter((b) => opts.sessionId === undefined || b.sessionId === opts.sessionId)
      .sort((a, b) => a.spooledAt.getTime() - b.spooledAt.getTime());
    const result: ReplayResult = { replayed: 0, utterances: 0, left: batches.length };
    for (const batch of batches) {
      await store.writeUtterances(batch.utterances);
      await this.#spool.remove(keyOf(batch));
      result.replayed += 1;
      result.utterances += batch.utterances.length;
      result.left -= 1;
      log.info(
        {
          sessionId: batch.sessionId,
          by: batch.by,
          count: batch.utterances.length,
          ageMs: Date.now() - batch.spooledAt.getTime(),
        },
        'spooled transcript replayed',
      );
    }
    return result;
  }
}
