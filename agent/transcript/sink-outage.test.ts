/**
 * The sink through a database outage: a store that never answers, the in-memory bound, the
 * local spool at the bound and at close, and a resumed session's numbering.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryUtteranceStore } from '../../sessions/memory-store.ts';
import { FaultyUtteranceStore } from '../../sessions/testing/faulty-utterance-store.ts';
import { UtteranceSpool } from '../../sessions/utterance-spool.ts';
import { TranscriptSink, type TranscriptSinkOptions, type UtteranceInput } from './sink.ts';
import { capturedLogger, utteranceNo } from './testing.ts';

const SESSION = 'sess-outage-1';
const SECRET = 'spool-secret-words';

const said = (i: number): UtteranceInput => utteranceNo(i, SECRET);

const dirs: string[] = [];
async function spoolDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vc-sink-spool-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A store whose writes hang until released: a paused MongoDB on an open socket. */
function pausedStore() {
  const memory = new MemoryUtteranceStore();
  const store = new FaultyUtteranceStore(memory);
  const release = store.hold();
  return { memory, store, release };
}

function sinkOver(
  store: TranscriptSinkOptions['store'],
  log: ReturnType<typeof capturedLogger>['logger'],
  overrides: Partial<TranscriptSinkOptions> = {},
): TranscriptSink {
  return new TranscriptSink({
    store,
    sessionId: SESSION,
    logger: log,
    flushIntervalMs: 0,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 4,
    ...overrides,
  });
}

describe('TranscriptSink through a database outage', () => {
  it('gives up on a store call that never settles after writeTimeoutMs and tries again', async () => {
    const { memory, store, release } = pausedStore();
    const l = capturedLogger();
    const sink = sinkOver(store, l.logger, { writeTimeoutMs: 30, maxAttempts: 100 });
    sink.append(said(0));
    // Two calls at least: the first was abandoned at its timeout, not waited on for ever.
    const deadline = Date.now() + 5000;
    while (store.calls.length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    expect(store.calls.length).toBeGreaterThanOrEqual(2);
    expect(sink.stats().timedOutAttempts).toBeGreaterThanOrEqual(1);
    release();
    const report = await sink.close({ deadlineMs: 2000 });
    expect(report.unwritten).toBe(0);
    expect((await memory.listUtterances(SESSION)).map((u) => u.seq)).toEqual([0]);
  });

  it('spills everything not yet written to the spool at close, in-flight included, and the replay stores each once', async () => {
    const { memory, store, release } = pausedStore();
    const dir = await spoolDir();
    const spool = new UtteranceSpool({ dir });
    const l = capturedLogger();
    const sink = sinkOver(store, l.logger, {
      writeTimeoutMs: 60_000,
      spill: (us) => spool.write(SESSION, us, { by: 'job:test' }),
    });
    for (let i = 0; i < 5; i++) sink.append(said(i));
    const report = await sink.close({ deadlineMs: 100 });

    expect(report.unwritten).toBe(0);
    expect(report.spilled).toBe(5);
    expect(report.spilledSeqs).toEqual([0, 1, 2, 3, 4]);

    // The abandoned first write lands once the database is back; the replay then adds the
    // rest and duplicates nothing.
    release();
    await new Promise((r) => setTimeout(r, 20));
    const replayed = await spool.replayInto(memory, l.logger);
    expect(replayed).toMatchObject({ replayed: 1, utterances: 5, left: 0 });
    const stored = await memory.listUtterances(SESSION);
    expect(stored.map((u) => u.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(stored[3]?.text).toBe(`${SECRET} 3`);
    expect(stored[3]?.startedAt).toBeInstanceOf(Date);
    expect(await readdir(dir)).toEqual([]);
    // Utterance text never reaches the logs.
    expect(l.lines.join('\n')).not.toContain(SECRET);
  });

  it('at its bound spills to the spool, warns and counts it, and keeps taking utterances', async () => {
    const { memory, store, release } = pausedStore();
    const dir = await spoolDir();
    const spool = new UtteranceSpool({ dir });
    const l = capturedLogger();
    const sink = sinkOver(store, l.logger, {
      maxPending: 4,
      writeTimeoutMs: 60_000,
      spill: (us) => spool.write(SESSION, us, { by: 'job:test' }),
    });
    // Seconds apart in a call; a few milliseconds here. The first write hangs in flight.
    for (let i = 0; i < 10; i++) {
      sink.append(said(i));
      await new Promise((r) => setTimeout(r, 5));
    }
    const deadline = Date.now() + 5000;
    while (sink.stats().pending >= 4 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));

    const stats = sink.stats();
    expect(stats.boundReached).toBeGreaterThanOrEqual(1);
    expect(stats.spilled).toBeGreaterThanOrEqual(6);
    // Memory holds less than the bound: the batch in flight and what arrived since a spill.
    expect(stats.pending).toBeLessThan(4);
    expect(l.records().some((r) => String(r['message']).includes('at its bound'))).toBe(true);

    release();
    const report = await sink.close({ deadlineMs: 2000 });
    expect(report.unwritten).toBe(0);
    await spool.replayInto(memory, l.logger);
    expect((await memory.listUtterances(SESSION)).map((u) => u.seq)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);
  });

  it('without a spool, reaching the bound warns once and keeps everything in memory', async () => {
    const { store, release } = pausedStore();
    const l = capturedLogger();
    const sink = sinkOver(store, l.logger, { maxPending: 3, writeTimeoutMs: 60_000 });
    expect(() => {
      for (let i = 0; i < 8; i++) sink.append(said(i));
    }).not.toThrow();
    expect(sink.stats()).toMatchObject({ pending: 8, boundReached: 1, spilled: 0 });
    release();
    const report = await sink.close({ deadlineMs: 2000 });
    expect(report.unwritten).toBe(0);
    expect(report.written).toBe(8);
  });

  it('a resumed session numbers on from startSeq', async () => {
    const memory = new MemoryUtteranceStore();
    const l = capturedLogger();
    const sink = sinkOver(memory, l.logger, { startSeq: 7 });
    expect([sink.append(said(0)), sink.append(said(1))]).toEqual([7, 8]);
    await sink.close({ deadlineMs: 2000 });
    expect((await memory.listUtterances(SESSION)).map((u) => u.seq)).toEqual([7, 8]);
    expect(() => sinkOver(memory, l.logger, { startSeq: -1 })).toThrow(/startSeq/);
  });

  it('keeps a spool file whose batch the store refused, and reports the highest spooled seq', async () => {
    const dir = await spoolDir();
    const spool = new UtteranceSpool({ dir });
    const l = capturedLogger();
    const u = (seq: number) => ({ ...said(seq), sessionId: SESSION, seq });
    await spool.write(SESSION, [u(3), u(4)], { by: 'job:a' });
    await spool.write('sess-other', [{ ...u(9), sessionId: 'sess-other' }], { by: 'job:a' });
    expect(await spool.lastSeq(SESSION)).toBe(4);
    expect(await spool.lastSeq('sess-none')).toBeUndefined();

    const down = new FaultyUtteranceStore(new MemoryUtteranceStore()).failNext(Infinity);
    await expect(spool.replayInto(down, l.logger)).rejects.toThrow();
    expect((await spool.list()).entries).toHaveLength(2);
  });
});
