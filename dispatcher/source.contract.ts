/**
 * The contract every RequestSource must pass: FakeRequestSource as a unit test
 * (`source.test.ts`), PubSubRequestSource against the Pub/Sub emulator
 * (`tests/request-source.test.ts`). Each test opens a source of its own (its own subscription),
 * because starting and closing are part of what is tested.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { InboundMessage, RequestSource } from './source.ts';

export interface SourceFixture {
  source: RequestSource;
  /** Publishes a message body where this source pulls from; the broker counts deliveries. */
  publish(body: Buffer): Promise<void>;
}

export interface SourceContractOptions {
  open(): Promise<SourceFixture>;
  /** Called once after the suite: delete topics, close clients. */
  close?(): Promise<void>;
  /** How long a delivery may take to arrive. @defaultValue 20_000 */
  arrivalMs?: number;
}

/** Resolves with the deliveries once `enough` says so; rejects after `withinMs`. */
function deliveries(
  source: RequestSource,
  onMessage: (m: InboundMessage, seen: InboundMessage[]) => void,
  enough: (seen: InboundMessage[]) => boolean,
  withinMs: number,
): Promise<InboundMessage[]> {
  const seen: InboundMessage[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${seen.length} deliveries within ${withinMs} ms`)),
      withinMs,
    );
    source.start(
      (m) => {
        seen.push(m);
        onMessage(m, seen);
        if (enough(seen)) {
          clearTimeout(timer);
          resolve(seen);
        }
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export function describeRequestSourceContract(name: string, opts: SourceContractOptions): void {
  const arrivalMs = opts.arrivalMs ?? 20_000;

  describe(`RequestSource contract: ${name}`, () => {
    afterAll(async () => {
      await opts.close?.();
    });

    it('is open only between start and close, and close resolves true when it finishes', async () => {
      const { source } = await opts.open();
      expect(source.isOpen).toBe(false);
      source.start(
        () => undefined,
        () => undefined,
      );
      expect(source.isOpen).toBe(true);
      expect(await source.close(5000)).toBe(true);
      expect(source.isOpen).toBe(false);
      expect(await source.close(5000)).toBe(true);
    });

    it('hands over a published message with its bytes, an id, its publish time and first attempt', async () => {
      const { source, publish } = await opts.open();
      const body = Buffer.from('{"sessionId":"s-1"}');
      const before = Date.now();
      const arriving = deliveries(
        source,
        (m) => m.ack(),
        (seen) => seen.length >= 1,
        arrivalMs,
      );
      await publish(body);
      const [m] = await arriving;
      expect(m?.data.equals(body)).toBe(true);
      expect(m?.id).toEqual(expect.any(String));
      expect(m?.deliveryAttempt).toBe(1);
      // Broker clocks are not ours: allow a second of skew.
      expect(m!.publishTime.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(m!.publishTime.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
      await source.close(5000);
    });

    it('brings a nacked message back as the same message, one delivery attempt later', async () => {
      const { source, publish } = await opts.open();
      const arriving = deliveries(
        source,
        (m, seen) => (seen.length === 1 ? m.nack() : m.ack()),
        (seen) => seen.length >= 2,
        arrivalMs,
      );
      await publish(Buffer.from('{"n":1}'));
      const [first, again] = await arriving;
      expect(again?.id).toBe(first?.id);
      expect(again?.data.equals(first!.data)).toBe(true);
      expect(again?.deliveryAttempt).toBe(2);
      await source.close(5000);
    });
  });
}
