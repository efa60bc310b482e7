import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TransientError } from '../infra/errors.ts';
import { createLogger } from '../infra/logger.ts';
import { backoffMs, EscalationCourier, type EscalationPublisher } from './escalation-delivery.ts';
import { EscalationSpool } from './escalation-spool.ts';
import { outboxEntry } from './testing/outbox-fixtures.ts';
import { OutboxMetrics } from './outbox-metrics.ts';
import { OutboxRelay } from './outbox-relay.ts';
import { MemoryEscalationOutbox } from './outbox.ts';
import type { SessionEvent } from './schema.ts';

const log = createLogger({ level: 'silent', service: 'test' });
const fast = { initialMs: 5, maxMs: 20 };

/** Records what was published; `down = true` makes every publish fail, like Pub/Sub away. */
class RecordingPublisher implements EscalationPublisher {
  readonly published: SessionEvent[] = [];
  attempts = 0;
  down = false;
  async publish(event: SessionEvent): Promise<string> {
    this.attempts += 1;
    if (this.down) throw new TransientError('events_unavailable', 'down');
    this.published.push(event);
    return String(this.published.length);
  }
}

const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 3000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('backoffMs', () => {
  it('grows exponentially up to the cap, with jitter in the upper half of each step', () => {
    const b = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffMs(n, b, () => 1))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, b, () => 0))).toEqual([50, 100, 200, 400, 500]);
  });
});

describe('EscalationCourier', () => {
  let dir: string;
  let spool: EscalationSpool;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vc-spool-unit-'));
    spool = new EscalationSpool({ dir });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores the escalation, publishes it once and records the delivery', async () => {
    const outbox = new MemoryEscalationOutbox();
    const publisher = new RecordingPublisher();
    const courier = new EscalationCourier({ outbox, publisher, logger: log, by: 'job:1', spool });
    const e = outboxEntry('sess-a', new Date());
    courier.send(e);
    expect(await courier.drain(2000)).toEqual({ unfinished: 0 });
    expect(publisher.published).toEqual([e.event]);
    expect(await outbox.isDelivered(e.id)).toBe(true);
    expect(await readdir(dir)).toEqual([]);
  });

  it('keeps publishing through a Pub/Sub outage until it is acknowledged', async () => {
    const outbox = new MemoryEscalationOutbox();
    const publisher = new RecordingPublisher();
    const metrics = new OutboxMetrics();
    publisher.down = true;
    const courier = new EscalationCourier({
      outbox,
      publisher,
      logger: log,
      by: 'job:1',
      backoff: fast,
      metrics,
    });
    const e = outboxEntry('sess-b', new Date());
    courier.send(e);
    await until('stored', async () => (await outbox.depth()).undelivered === 1);
    await until('several attempts', () => publisher.attempts >= 3);
    publisher.down = false;
    expect(await courier.drain(2000)).toEqual({ unfinished: 0 });
    expect(publisher.published).toHaveLength(1);
    expect(await outbox.isDelivered(e.id)).toBe(true);
    const attempts = await metrics.publishAttempts.get();
    const failed = attempts.values.find(
      (v) => v.labels.source === 'job' && v.labels.outcome === 'failed',
    );
    expect(failed?.value).toBeGreaterThanOrEqual(3);
  });

  it('leaves an escalation undelivered in the outbox when the job drains during an outage', async () => {
    const outbox = new MemoryEscalationOutbox();
    const publisher = new RecordingPublisher();
    publisher.down = true;
    const courier = new EscalationCourier({
      outbox,
      publisher,
      logger: log,
      by: 'j',
      backoff: fast,
    });
    const e = outboxEntry('sess-c', new Date());
    courier.send(e);
    await until('a failed attempt', () => publisher.attempts >= 1);
    expect(await courier.drain(400)).toEqual({ unfinished: 1 });
    expect(courier.inFlight).toBe(0);
    expect(
      (await outbox.pending({ createdBefore: new Date(), limit: 10 })).map((p) => p.id),
    ).toEqual([e.id]);
  });

  it('publishes at once with MongoDB down, spools the escalation, and stores it once Mongo is back', async () => {
    const outbox = new MemoryEscalationOutbox();
    outbox.unavailable = true;
    const publisher = new RecordingPublisher();
    const courier = new EscalationCourier({
      outbox,
      publisher,
      logger: log,
      by: 'job:1',
      spool,
      backoff: fast,
    });
    const e = outboxEntry('sess-d', new Date());
    courier.send(e);
    await until('published without the outbox', () => publisher.published.length === 1);
    expect((await spool.list()).entries.map((x) => x.id)).toEqual([e.id]);
    outbox.unavailable = false;
    expect(await courier.drain(2000)).toEqual({ unfinished: 0 });
    expect(await outbox.isDelivered(e.id)).toBe(true);
    // Stored after all: the spool copy is no longer needed.
    expect((await spool.list()).entries).toEqual([]);
    expect(publisher.published).toHaveLength(1);
  });

  it('leaves a spooled copy when both stores are down at shutdown, which a relay replays', async () => {
    const outbox = new MemoryEscalationOutbox();
    outbox.unavailable = true;
    const publisher = new RecordingPublisher();
    publisher.down = true;
    const courier = new EscalationCourier({
      outbox,
      publisher,
      logger: log,
      by: 'job:1',
      spool,
      backoff: fast,
      storeWaitMs: 10_000,
    });
    const e = outboxEntry('sess-e', new Date(Date.now() - 60_000));
    courier.send(e);
    // Drained before even the (long) wait for the outbox is over: spooled on the way out.
    expect(await courier.drain(300)).toEqual({ unfinished: 1 });
    expect((await spool.list()).entries.map((x) => x.id)).toEqual([e.id]);

    // The process died; the worker's relay starts with both back.
    outbox.unavailable = false;
    publisher.down = false;
    const relay = new OutboxRelay({ outbox, publisher, logger: log, by: 'relay:1', spool });
    expect(await relay.sweep()).toMatchObject({ replayed: 1, published: 1, failed: 0, depth: 0 });
    expect(
      publisher.published.map((p) => p.type === 'session.escalation' && p.escalationId),
    ).toEqual([e.id]);
    expect(await spool.list()).toEqual({ entries: [], unreadable: [] });
  });
});

describe('OutboxRelay', () => {
  const old = (id: string) => outboxEntry(id, new Date(Date.now() - 60_000));

  it('publishes only entries older than its minimum age, oldest first, in bounded batches', async () => {
    const outbox = new MemoryEscalationOutbox();
    const publisher = new RecordingPublisher();
    const young = outboxEntry('sess-young', new Date());
    const olds = ['sess-1', 'sess-2', 'sess-3'].map(old);
    for (const e of [young, ...olds]) await outbox.add(e);
    const relay = new OutboxRelay({ outbox, publisher, logger: log, by: 'r', batchSize: 2 });
    expect(await relay.sweep()).toMatchObject({ published: 2, depth: 2 });
    expect(await relay.sweep()).toMatchObject({ published: 1, depth: 1 });
    expect(await relay.sweep()).toMatchObject({ published: 0, depth: 1 });
    expect(publisher.published.map((p) => p.sessionId)).toEqual(['sess-1', 'sess-2', 'sess-3']);
  });

  it('tries one entry per sweep while Pub/Sub is down, and loses none', async () => {
    const outbox = new MemoryEscalationOutbox();
    const publisher = new RecordingPublisher();
    const metrics = new OutboxMetrics();
    for (const e of ['sess-4', 'sess-5'].map(old)) await outbox.add(e);
    publisher.down = true;
    const relay = new OutboxRelay({ outbox, publisher, logger: log, by: 'r', metrics });
    expect(await relay.sweep()).toMatchObject({ published: 0, failed: 1, depth: 2 });
    expect(publisher.attempts).toBe(1);
    expect((await metrics.depth.get()).values[0]?.value).toBe(2);
    expect((await metrics.oldestUndeliveredSeconds.get()).values[0]?.value).toBeGreaterThan(59);
    publisher.down = false;
    expect(await relay.sweep()).toMatchObject({ published: 2, depth: 0 });
    expect((await metrics.oldestUndeliveredSeconds.get()).values[0]?.value).toBe(0);
  });

  it('lets several relays sweep one outbox: duplicates at most, never a loss', async () => {
    const outbox = new MemoryEscalationOutbox();
    const publisher = new RecordingPublisher();
    const entries = Array.from({ length: 10 }, (_, i) => old(`sess-m${i}`));
    for (const e of entries) await outbox.add(e);
    const relays = [1, 2, 3].map(
      (n) => new OutboxRelay({ outbox, publisher, logger: log, by: `r${n}`, batchSize: 4 }),
    );
    for (let round = 0; round < 4; round++) await Promise.all(relays.map((r) => r.sweep()));
    const ids = new Set(publisher.published.map((p) => p.sessionId));
    expect(ids).toEqual(new Set(entries.map((e) => e.sessionId)));
    expect((await outbox.depth()).undelivered).toBe(0);
  });

  it('runs until stopped, and stops within its deadline', async () => {
    const outbox = new MemoryEscalationOutbox();
    const publisher = new RecordingPublisher();
    const relay = new OutboxRelay({ outbox, publisher, logger: log, by: 'r', intervalMs: 10 });
    relay.start();
    await outbox.add(old('sess-loop'));
    await until('published by the loop', () => publisher.published.length === 1);
    const t0 = Date.now();
    await relay.stop(500);
    expect(Date.now() - t0).toBeLessThan(500);
    await outbox.add(old('sess-after-stop'));
    await new Promise((r) => setTimeout(r, 50));
    expect(publisher.published).toHaveLength(1);
  });
});
