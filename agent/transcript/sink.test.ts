import { describe, expect, it, vi } from 'vitest';
import { PermanentError, ValidationError } from '../../infra/errors.ts';
import { MemoryUtteranceStore } from '../../sessions/memory-store.ts';
import type { UtteranceStore } from '../../sessions/store.ts';
import { FaultyUtteranceStore } from '../../sessions/testing/faulty-utterance-store.ts';
import { TranscriptSink, type TranscriptSinkOptions, type UtteranceInput } from './sink.ts';
import { capturedLogger, utteranceNo } from './testing.ts';

const SESSION = 'sess-sink-1';
/** Marks utterance text so a test can prove it never reaches the logs. */
const SECRET = 'chest-tightness-secret';

const said = (i: number): UtteranceInput => utteranceNo(i, SECRET);

/** A sink over a memory store behind a fault injector, with fast timings for tests. */
function setup(overrides: Partial<TranscriptSinkOptions> = {}) {
  const memory = new MemoryUtteranceStore();
  const store = new FaultyUtteranceStore(memory);
  const log = capturedLogger();
  const sink = new TranscriptSink({
    store,
    sessionId: SESSION,
    logger: log.logger,
    flushIntervalMs: 5,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 4,
    ...overrides,
  });
  const stored = () => memory.listUtterances(SESSION);
  return { sink, store, memory, stored, log };
}

describe('TranscriptSink', () => {
  it('numbers utterances densely in append order and writes them in that order', async () => {
    const { sink, store, stored } = setup({ maxBatchSize: 3 });
    const seqs = [0, 1, 2, 3, 4, 5, 6].map((i) => sink.append(said(i)));
    const report = await sink.close({ deadlineMs: 2000 });

    expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(report).toMatchObject({ written: 7, unwritten: 0, timedOut: false });
    const rows = await stored();
    expect(rows.map((u) => [u.seq, u.text])).toEqual(
      seqs.map((s) => [s, `${SECRET} ${s}`] as const),
    );
    expect(rows.every((u) => u.sessionId === SESSION)).toBe(true);
    expect(store.seqsPerCall().flat()).toEqual(seqs);
    expect(Math.max(...store.seqsPerCall().map((b) => b.length))).toBeLessThanOrEqual(3);
  });

  it('keeps its own copy: changing an utterance after appending it changes nothing written', async () => {
    const { sink, stored } = setup();
    const input = said(0);
    sink.append(input);
    input.text = 'edited afterwards';
    input.startedAt.setTime(0);
    await sink.close({ deadlineMs: 1000 });
    const [row] = await stored();
    expect(row?.text).toBe(`${SECRET} 0`);
    expect(row?.startedAt).toEqual(said(0).startedAt);
  });

  it('takes appends at once while a write is stuck, and writes them all when the store recovers', async () => {
    const { sink, store, stored } = setup();
    const release = store.hold();
    sink.append(said(0));
    await vi.waitFor(() => expect(store.calls).toHaveLength(1));

    // The store has not answered; appending must not wait for it.
    expect([1, 2, 3, 4].map((i) => sink.append(said(i)))).toEqual([1, 2, 3, 4]);
    expect(sink.stats()).toMatchObject({ pending: 5, inFlight: 1, queued: 4, written: 0 });
    expect(await stored()).toEqual([]);

    release();
    const report = await sink.close({ deadlineMs: 2000 });
    expect(report.unwritten).toBe(0);
    expect((await stored()).map((u) => u.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(store.seqsPerCall()).toEqual([[0], [1, 2, 3, 4]]);
  });

  it('retries a batch the store failed transiently, and loses nothing', async () => {
    const { sink, store, stored } = setup();
    store.failNext(2);
    [0, 1, 2].forEach((i) => sink.append(said(i)));
    const report = await sink.close({ deadlineMs: 2000 });

    expect(report).toMatchObject({ written: 3, unwritten: 0 });
    expect(report.stats).toMatchObject({ failedAttempts: 2, batches: 1, parkedBatches: 0 });
    expect(store.seqsPerCall()).toEqual([
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
    ]);
    expect((await stored()).map((u) => u.seq)).toEqual([0, 1, 2]);
  });

  it('leaves one record per seq when a retried batch had in fact been written', async () => {
    const { sink, store, stored } = setup();
    store.failNext(1, { afterWrite: true });
    [0, 1, 2, 3].forEach((i) => sink.append(said(i)));
    const report = await sink.close({ deadlineMs: 2000 });

    expect(store.seqsPerCall()).toEqual([
      [0, 1, 2, 3],
      [0, 1, 2, 3],
    ]);
    expect(report).toMatchObject({ written: 4, unwritten: 0 });
    expect((await stored()).map((u) => u.seq)).toEqual([0, 1, 2, 3]);
  });

  it('gives up on a batch after maxAttempts, keeps it in memory, and reports it at close', async () => {
    const { sink, store, stored } = setup({ maxAttempts: 3 });
    store.failNext(Infinity);
    sink.append(said(0));
    sink.append(said(1));
    await vi.waitFor(() => expect(sink.stats().parked).toBe(2));
    expect(store.calls).toHaveLength(3);
    expect(sink.stats()).toMatchObject({ pending: 2, parkedBatches: 1, failedAttempts: 3 });

    // close gives the parked batch one more bounded round, then reports it.
    const report = await sink.close({ deadlineMs: 2000 });
    expect(store.calls).toHaveLength(6);
    expect(report).toMatchObject({
      written: 0,
      unwritten: 2,
      unwrittenSeqs: [0, 1],
      inDoubt: 0,
      timedOut: false,
      lastError: { errName: 'TransientError', errCode: 'store_unavailable', retryable: true },
    });
    expect(report.unwrittenUtterances.map((u) => u.text)).toEqual([`${SECRET} 0`, `${SECRET} 1`]);
    expect(await stored()).toEqual([]);
  });

  it('stops retrying once the time budget is spent, however many attempts remain', async () => {
    const { sink, store } = setup({ maxAttempts: 1000, retryBudgetMs: 60 });
    store.delayMs = 20;
    store.failNext(Infinity);
    sink.append(said(0));
    await vi.waitFor(() => expect(sink.stats().parked).toBe(1), { timeout: 5000 });
    expect(store.calls.length).toBeGreaterThanOrEqual(2);
    expect(store.calls.length).toBeLessThan(10);
    store.heal();
    await sink.close({ deadlineMs: 2000 });
  });

  it('does not retry an error the store marks as not retryable, and reports that batch', async () => {
    const { sink, store, stored } = setup();
    store.failNext(1, { error: () => new ValidationError('bad_doc', 'refused') });
    sink.append(said(0));
    await vi.waitFor(() => expect(sink.stats().parked).toBe(1));
    sink.append(said(1));
    const report = await sink.close({ deadlineMs: 2000 });

    expect(store.seqsPerCall()).toEqual([[0], [1]]);
    expect(report).toMatchObject({ written: 1, unwritten: 1, unwrittenSeqs: [0] });
    expect((await stored()).map((u) => u.seq)).toEqual([1]);
  });

  it('puts a parked batch back in the queue as soon as a later write succeeds', async () => {
    const { sink, store, stored } = setup({ maxAttempts: 2 });
    store.failNext(2);
    sink.append(said(0));
    await vi.waitFor(() => expect(sink.stats().parked).toBe(1));
    sink.append(said(1));
    await vi.waitFor(() => expect(sink.stats().written).toBe(2));

    expect(store.seqsPerCall()).toEqual([[0], [0], [1], [0]]);
    expect((await stored()).map((u) => u.seq)).toEqual([0, 1]);
    expect((await sink.close({ deadlineMs: 1000 })).unwritten).toBe(0);
  });

  it('flushes everything on close without waiting out the batching interval', async () => {
    const { sink, store, stored } = setup({ maxBatchSize: 2, flushIntervalMs: 60_000 });
    store.delayMs = 5;
    [0, 1, 2, 3, 4].forEach((i) => sink.append(said(i)));
    const report = await sink.close({ deadlineMs: 10_000 });

    expect(report).toMatchObject({ written: 5, unwritten: 0, timedOut: false });
    // Batches stay capped at maxBatchSize, and none waited out the minute-long interval.
    expect(store.seqsPerCall()).toEqual([[0, 1], [2, 3], [4]]);
    expect((await stored()).map((u) => u.seq)).toEqual([0, 1, 2, 3, 4]);
  });

  it('returns at its deadline when the store hangs, reporting what it could not write', async () => {
    const { sink, store, stored } = setup();
    const release = store.hold();
    [0, 1, 2].forEach((i) => sink.append(said(i)));
    await vi.waitFor(() => expect(sink.stats().inFlight).toBe(3));
    sink.append(said(3));

    const started = performance.now();
    const report = await sink.close({ deadlineMs: 50 });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(report).toMatchObject({
      written: 0,
      unwritten: 4,
      unwrittenSeqs: [0, 1, 2, 3],
      inDoubt: 3,
      timedOut: true,
    });
    expect(() => sink.append(said(4))).toThrow(PermanentError);

    // The write it stopped waiting for may still land; the store keeps it once.
    release();
    await vi.waitFor(async () => expect(await stored()).toHaveLength(3));
  });

  it('returns the same report from a second close', async () => {
    const { sink } = setup();
    sink.append(said(0));
    const first = await sink.close({ deadlineMs: 1000 });
    expect(await sink.close({ deadlineMs: 1000 })).toBe(first);
    expect(() => sink.append(said(1))).toThrow(
      expect.objectContaining({ code: 'transcript_sink_closed' }),
    );
  });

  it('measures, per utterance, the time from append to the store acknowledging it', async () => {
    let offsetMs = 0;
    const clock = { monotonicMs: () => performance.now() + offsetMs };
    const memory = new MemoryUtteranceStore();
    // Each write "takes" 40 ms of the injected clock.
    const slow: UtteranceStore = {
      writeUtterances: async (batch) => {
        offsetMs += 40;
        await memory.writeUtterances(batch);
      },
      listUtterances: (id) => memory.listUtterances(id),
    };
    const sink = new TranscriptSink({
      store: slow,
      sessionId: SESSION,
      logger: capturedLogger().logger,
      clock,
      flushIntervalMs: 1,
      maxBatchSize: 2,
    });
    [0, 1, 2].forEach((i) => sink.append(said(i)));
    const { stats } = await sink.close({ deadlineMs: 2000 });

    expect(stats.durabilityMs.count).toBe(3);
    expect(stats.durabilityMs.medianMs).toBeGreaterThanOrEqual(40);
    expect(stats.durabilityMs.maxMs).toBeGreaterThanOrEqual(80);
    expect(stats.writeMs.count).toBe(2);
    expect(stats.writeMs.p95Ms).toBeGreaterThanOrEqual(40);
  });

  it('warns past the high-water mark, and at each doubling, yet keeps and writes everything', async () => {
    const { sink, store, stored, log } = setup({ highWaterMark: 3 });
    const release = store.hold();
    for (let i = 0; i < 8; i++) sink.append(said(i));

    const warnings = log
      .records()
      .filter((r) => r['severity'] === 'WARNING' && String(r['message']).includes('high-water'));
    expect(warnings.map((w) => w['pending'])).toEqual([4, 7]);
    expect(sink.stats()).toMatchObject({ pending: 8, aboveHighWaterMark: true });

    release();
    const report = await sink.close({ deadlineMs: 2000 });
    expect(report.unwritten).toBe(0);
    expect(await stored()).toHaveLength(8);
    expect(sink.stats().aboveHighWaterMark).toBe(false);
  });

  it('never logs utterance text, only counts, seq numbers and the session id', async () => {
    const { sink, store, log } = setup({ maxAttempts: 2, highWaterMark: 1 });
    store.failNext(Infinity);
    [0, 1, 2].forEach((i) => sink.append(said(i)));
    await vi.waitFor(() => expect(sink.stats().parked).toBe(3));
    await sink.close({ deadlineMs: 500 });

    const records = log.records();
    expect(records.map((r) => r['message'])).toEqual(
      expect.arrayContaining([
        'transcript write failed',
        expect.stringContaining('parked'),
        'transcript sink closed with utterances unwritten',
      ]),
    );
    expect(records.every((r) => r['sessionId'] === SESSION)).toBe(true);
    expect(log.lines.join('\n')).not.toContain(SECRET);
  });

  it('stops at once when its abort signal fires; close then only reports', async () => {
    const controller = new AbortController();
    const { sink, store } = setup({ signal: controller.signal });
    const release = store.hold();
    sink.append(said(0));
    await vi.waitFor(() => expect(sink.stats().inFlight).toBe(1));
    controller.abort();

    const report = await sink.close({ deadlineMs: 60_000 });
    expect(report).toMatchObject({ unwritten: 1, inDoubt: 1, timedOut: true });
    expect(() => sink.append(said(1))).toThrow(PermanentError);
    release();
  });

  it('refuses an utterance that belongs to another session', async () => {
    const { sink, stored } = setup();
    expect(() => sink.append({ ...said(0), sessionId: 'someone-else' })).toThrow(ValidationError);
    expect(sink.append({ ...said(0), sessionId: SESSION })).toBe(0);
    await sink.close({ deadlineMs: 1000 });
    expect(await stored()).toHaveLength(1);
  });

  it('refuses options that make no sense', () => {
    const base = { store: new MemoryUtteranceStore(), sessionId: SESSION };
    const logger = capturedLogger().logger;
    const bad: Partial<TranscriptSinkOptions>[] = [
      { maxBatchSize: 0 },
      { flushIntervalMs: -1 },
      { maxAttempts: 1.5 },
      { retryBaseDelayMs: 100, retryMaxDelayMs: 10 },
      { sessionId: '' },
    ];
    for (const opts of bad) {
      expect(() => new TranscriptSink({ ...base, logger, ...opts })).toThrow(ValidationError);
    }
  });
});
