/**
 * The contract every PlacementLeases must pass: the in-memory twin as a unit test
 * (`leases.test.ts`), MongoDB against FerretDB (`leases.int.test.ts`). Each test uses its own
 * session ids, so one instance may serve the whole suite.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlacementLeases } from './leases.ts';

export interface LeasesContractOptions {
  open(): Promise<PlacementLeases>;
  close?(): Promise<void>;
}

const T0 = Date.parse('2026-01-05T10:00:00.000Z');
const at = (ms: number): Date => new Date(T0 + ms);
const sid = (): string => `sess-${randomUUID().slice(0, 8)}`;

export function describeLeasesContract(name: string, opts: LeasesContractOptions): void {
  describe(`PlacementLeases contract: ${name}`, () => {
    let leases: PlacementLeases;

    beforeAll(async () => {
      leases = await opts.open();
    });

    afterAll(async () => {
      await opts.close?.();
    });

    it('gives a free session to the first owner and refuses a second while the lease lives', async () => {
      const s = sid();
      expect(await leases.acquire(s, 'a', at(0), 1000)).toBe(true);
      expect(await leases.acquire(s, 'b', at(500), 1000)).toBe(false);
      expect(await leases.acquire(s, 'a', at(600), 1000)).toBe(true);
    });

    it('names the live holder, and nobody once the lease is released or lapsed', async () => {
      const s = sid();
      expect(await leases.holder(s, at(0))).toBeNull();
      await leases.acquire(s, 'a', at(0), 1000);
      expect(await leases.holder(s, at(999))).toBe('a');
      expect(await leases.holder(s, at(1000))).toBeNull();
      await leases.acquire(s, 'b', at(2000), 1000);
      expect(await leases.holder(s, at(2001))).toBe('b');
      await leases.release(s, 'b');
      expect(await leases.holder(s, at(2002))).toBeNull();
    });

    it('lets exactly one of many concurrent owners win', async () => {
      const s = sid();
      const owners = ['a', 'b', 'c', 'd', 'e', 'f'];
      const won = await Promise.all(owners.map((o) => leases.acquire(s, o, at(0), 1000)));
      expect(won.filter(Boolean)).toHaveLength(1);
    });

    it('lets exactly one of many concurrent owners take a released lease', async () => {
      const s = sid();
      for (let round = 0; round < 3; round++) {
        await leases.acquire(s, `holder-${round}`, at(round * 10), 60_000);
        await leases.release(s, `holder-${round}`);
        const owners = ['a', 'b', 'c', 'd', 'e', 'f'].map((o) => `${o}-${round}`);
        const won = await Promise.all(
          owners.map((o) => leases.acquire(s, o, at(round * 10 + 1), 60_000)),
        );
        expect(won.filter(Boolean), `round ${round}`).toHaveLength(1);
        const winner = owners[won.indexOf(true)]!;
        await leases.release(s, winner);
      }
    });

    it('lets exactly one of many concurrent owners take a lapsed lease', async () => {
      const s = sid();
      await leases.acquire(s, 'gone', at(0), 1000);
      const owners = ['a', 'b', 'c', 'd', 'e', 'f'];
      const won = await Promise.all(owners.map((o) => leases.acquire(s, o, at(5000), 60_000)));
      expect(won.filter(Boolean)).toHaveLength(1);
    });

    it('never lets a renewal and a takeover of a lapsed lease both succeed', async () => {
      for (let round = 0; round < 5; round++) {
        const s = sid();
        await leases.acquire(s, 'slow', at(0), 1000);
        const [renewed, taken] = await Promise.all([
          leases.renew(s, 'slow', at(2000), 1000),
          leases.acquire(s, 'fast', at(2000), 1000),
        ]);
        expect(renewed && taken, `round ${round}`).toBe(false);
        expect(renewed || taken, `round ${round}`).toBe(true);
      }
    });

    it('hands a lapsed lease to another owner, after which the old owner cannot renew it', async () => {
      const s = sid();
      expect(await leases.acquire(s, 'a', at(0), 1000)).toBe(true);
      expect(await leases.acquire(s, 'b', at(1000), 1000)).toBe(true);
      expect(await leases.renew(s, 'a', at(1001), 1000)).toBe(false);
      expect(await leases.renew(s, 'b', at(1001), 1000)).toBe(true);
    });

    it('keeps a renewed lease alive past its first expiry', async () => {
      const s = sid();
      await leases.acquire(s, 'a', at(0), 1000);
      expect(await leases.renew(s, 'a', at(900), 1000)).toBe(true);
      expect(await leases.acquire(s, 'b', at(1500), 1000)).toBe(false);
      expect(await leases.acquire(s, 'b', at(1900), 1000)).toBe(true);
    });

    it('frees a released lease at once, and ignores a release by a non-owner', async () => {
      const s = sid();
      await leases.acquire(s, 'a', at(0), 60_000);
      await leases.release(s, 'b');
      expect(await leases.acquire(s, 'b', at(1), 60_000)).toBe(false);
      await leases.release(s, 'a');
      expect(await leases.acquire(s, 'b', at(2), 60_000)).toBe(true);
    });

    it('cannot renew a lease that was never taken', async () => {
      expect(await leases.renew(sid(), 'a', at(0), 1000)).toBe(false);
    });

    it('remembers announcements per event, independently of the lease', async () => {
      const s = sid();
      expect(await leases.wasAnnounced(s, 'session.ready')).toBe(false);
      await leases.markAnnounced(s, 'session.ready', at(0));
      await leases.markAnnounced(s, 'session.ready', at(1));
      expect(await leases.wasAnnounced(s, 'session.ready')).toBe(true);
      expect(await leases.wasAnnounced(s, 'session.failed')).toBe(false);
      // An announcement recorded before any lease does not block acquiring one.
      expect(await leases.acquire(s, 'a', at(2), 1000)).toBe(true);
      expect(await leases.wasAnnounced(s, 'session.ready')).toBe(true);
    });
  });
}
