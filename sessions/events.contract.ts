/**
 * The contract every SessionEventPublisher must pass: RecordingEvents as a unit test
 * (`events.test.ts`), PubSubEventPublisher against the Pub/Sub emulator
 * (`tests/session-events.test.ts`). Each test uses its own session ids.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionEventPublisher } from './events.ts';
import type { SessionEvent } from './schema.ts';

export interface EventsFixture {
  publisher: SessionEventPublisher;
  /** Every event that reached a consumer so far, in arrival order. */
  received(): readonly SessionEvent[];
}

export interface EventsContractOptions {
  open(): Promise<EventsFixture>;
  close?(): Promise<void>;
  /** How long an event may take to reach a consumer. @defaultValue 20_000 */
  arrivalMs?: number;
}

const sid = (): string => `sess-${randomUUID().slice(0, 8)}`;
const AT = '2026-01-05T10:00:00.000Z';

export function describeEventsContract(name: string, opts: EventsContractOptions): void {
  const arrivalMs = opts.arrivalMs ?? 20_000;

  describe(`SessionEventPublisher contract: ${name}`, () => {
    let f: EventsFixture;

    beforeAll(async () => {
      f = await opts.open();
    });

    afterAll(async () => {
      await opts.close?.();
    });

    /** The events for `sessionId` once `count` of them have arrived. */
    async function arrived(sessionId: string, count: number): Promise<SessionEvent[]> {
      const until = Date.now() + arrivalMs;
      for (;;) {
        const mine = f.received().filter((e) => e.sessionId === sessionId);
        if (mine.length >= count) return mine;
        if (Date.now() > until) throw new Error(`${mine.length}/${count} events for ${sessionId}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    it('delivers each kind of event exactly as published, once it resolves', async () => {
      const sessionId = sid();
      const events: SessionEvent[] = [
        { type: 'session.ready', sessionId, at: AT, room: 'r-1', livekitUrl: 'ws://lk' },
        {
          type: 'session.failed',
          sessionId,
          at: AT,
          code: 'agent_join_timeout',
          reason: 'no agent joined within 1000 ms',
        },
        { type: 'session.completed', sessionId, at: AT, state: 'completed', reason: 'end_phrase' },
      ];
      for (const e of events) await f.publisher.publish(e);
      const got = await arrived(sessionId, events.length);
      expect([...got].sort((a, b) => a.type.localeCompare(b.type))).toEqual(
        [...events].sort((a, b) => a.type.localeCompare(b.type)),
      );
    });

    it('refuses an event that does not match its schema before it leaves', async () => {
      const sessionId = sid();
      const bad = { type: 'session.ready', sessionId, at: 'yesterday' } as unknown as SessionEvent;
      await expect(f.publisher.publish(bad)).rejects.toThrow();
      // A valid event published after it arrives alone: the bad one never left.
      await f.publisher.publish({
        type: 'session.completed',
        sessionId,
        at: AT,
        state: 'interrupted',
      });
      const got = await arrived(sessionId, 1);
      expect(got.map((e) => e.type)).toEqual(['session.completed']);
    });
  });
}
