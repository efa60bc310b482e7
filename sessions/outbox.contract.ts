/**
 * The contract every EscalationOutbox must pass: the in-memory twin as a unit test
 * (`outbox.test.ts`), MongoDB against FerretDB (`outbox.int.test.ts`). Each test uses its own
 * ids and a time window of its own, so one instance may serve the whole suite.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EscalationOutbox } from './outbox.ts';
import { outboxEntry } from './testing/outbox-fixtures.ts';

export interface OutboxContractOptions {
  open(): Promise<EscalationOutbox>;
  close?(): Promise<void>;
}

let window = 0;
/** A time window no other test in the suite uses, so `pending` sees only this test's entries. */
function nextWindow(): (ms: number) => Date {
  const base = Date.parse('2026-01-05T10:00:00.000Z') + window++ * 3_600_000;
  return (ms) => new Date(base + ms);
}

const sid = (): string => `sess-${randomUUID().slice(0, 8)}`;

export function describeOutboxContract(name: string, opts: OutboxContractOptions): void {
  describe(`EscalationOutbox contract: ${name}`, () => {
    let outbox: EscalationOutbox;

    beforeAll(async () => {
      outbox = await opts.open();
    });

    afterAll(async () => {
      await opts.close?.();
    });

    const inWindow = async (at: (ms: number) => Date, limit = 100) =>
      (await outbox.pending({ createdBefore: at(3_599_999), limit })).filter(
        (e) => e.createdAt >= at(0),
      );

    it('stores an entry once: adding the same id again is a no-op', async () => {
      const at = nextWindow();
      const e = outboxEntry(sid(), at(0));
      expect(await outbox.add(e)).toBe(true);
      expect(await outbox.add(e)).toBe(false);
      const pending = await inWindow(at);
      expect(pending).toEqual([e]);
    });

    it('lets exactly one of many concurrent adds of one id create it', async () => {
      const at = nextWindow();
      const e = outboxEntry(sid(), at(0));
      const created = await Promise.all(Array.from({ length: 6 }, () => outbox.add(e)));
      expect(created.filter(Boolean)).toHaveLength(1);
      expect((await inWindow(at)).map((p) => p.id)).toEqual([e.id]);
    });

    it('lists undelivered entries oldest first, only those old enough, at most `limit`', async () => {
      const at = nextWindow();
      const entries = [30, 10, 20, 40].map((s) => outboxEntry(sid(), at(s * 1000)));
      for (const e of entries) await outbox.add(e);
      const oldEnough = await outbox.pending({ createdBefore: at(30_000), limit: 100 });
      expect(oldEnough.filter((e) => e.createdAt >= at(0)).map((e) => e.createdAt)).toEqual([
        at(10_000),
        at(20_000),
        at(30_000),
      ]);
      const two = await outbox.pending({ createdBefore: at(3_599_999), limit: 2 });
      expect(two).toHaveLength(2);
      expect(two.every((e, i) => i === 0 || e.createdAt >= two[i - 1]!.createdAt)).toBe(true);
    });

    it('takes a delivered entry out of pending, and keeps it out when it is added again', async () => {
      const at = nextWindow();
      const [a, b] = [outboxEntry(sid(), at(0)), outboxEntry(sid(), at(1000))];
      await outbox.add(a!);
      await outbox.add(b!);
      expect(await outbox.isDelivered(a!.id)).toBe(false);
      await outbox.markDelivered({ id: a!.id, deliveredAt: at(2000), by: 'test', messageId: '1' });
      expect(await outbox.isDelivered(a!.id)).toBe(true);
      expect((await inWindow(at)).map((e) => e.id)).toEqual([b!.id]);
      // A replay (spool, retried write) after delivery must not publish it again.
      await outbox.add(a!);
      expect((await inWindow(at)).map((e) => e.id)).toEqual([b!.id]);
    });

    it('accepts the same delivery from several relays at once', async () => {
      const at = nextWindow();
      const e = outboxEntry(sid(), at(0));
      await outbox.add(e);
      await Promise.all(
        ['r1', 'r2', 'r3'].map((by) => outbox.markDelivered({ id: e.id, deliveredAt: at(1), by })),
      );
      expect(await outbox.isDelivered(e.id)).toBe(true);
      expect(await inWindow(at)).toEqual([]);
    });

    it('reports how many entries wait and since when', async () => {
      const at = nextWindow();
      const before = await outbox.depth();
      const e = outboxEntry(sid(), at(0));
      await outbox.add(e);
      const during = await outbox.depth();
      expect(during.undelivered).toBe(before.undelivered + 1);
      expect(during.oldestCreatedAt).toBeInstanceOf(Date);
      expect(during.oldestCreatedAt!.getTime()).toBeLessThanOrEqual(e.createdAt.getTime());
      await outbox.markDelivered({ id: e.id, deliveredAt: at(1), by: 'test' });
      expect((await outbox.depth()).undelivered).toBe(before.undelivered);
    });

    it('refuses an entry whose id is not its event’s escalation id', async () => {
      const e = outboxEntry(sid(), nextWindow()(0));
      await expect(outbox.add({ ...e, id: `${e.id}-other` })).rejects.toThrow();
    });
  });
}
