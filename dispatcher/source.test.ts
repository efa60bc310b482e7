import { EventEmitter } from 'node:events';
import type { Subscription } from '@google-cloud/pubsub';
import { describe, expect, it } from 'vitest';
import { describeRequestSourceContract } from './source.contract.ts';
import { PubSubRequestSource } from './source.ts';
import { FakeRequestSource } from './testing/fakes.ts';

/** Just enough of a Subscription: records options, emits messages, and can hang on close. */
class StubSubscription extends EventEmitter {
  options: Record<string, unknown> | undefined;
  isOpen = false;
  closeHangs = false;
  setOptions(options: Record<string, unknown>) {
    this.options = options;
  }
  override on(event: string, listener: (...args: unknown[]) => void): this {
    if (event === 'message') this.isOpen = true;
    return super.on(event, listener);
  }
  close(): Promise<void> {
    if (this.closeHangs) return new Promise(() => {});
    this.isOpen = false;
    return Promise.resolve();
  }
}

function source(stub: StubSubscription, maxInFlight = 3) {
  return new PubSubRequestSource({
    subscription: stub as unknown as Subscription,
    maxInFlight,
    maxLeaseExtensionMs: 90_000,
    closeWaitMs: 4000,
  });
}

describe('PubSubRequestSource', () => {
  it('caps messages in flight with allowExcessMessages off, and bounds lease extension and close', () => {
    const stub = new StubSubscription();
    source(stub, 3).start(
      () => {},
      () => {},
    );
    const opts = stub.options as {
      flowControl: unknown;
      maxExtensionTime: { milliseconds: number };
      closeOptions: { behavior: string; timeout: { milliseconds: number } };
    };
    expect(opts.flowControl).toEqual({ maxMessages: 3, allowExcessMessages: false });
    expect(opts.maxExtensionTime.milliseconds).toBe(90_000);
    expect(opts.closeOptions.behavior).toBe('WAIT');
    expect(opts.closeOptions.timeout.milliseconds).toBe(4000);
  });

  it('hands messages and errors to the callbacks', () => {
    const stub = new StubSubscription();
    const got: unknown[] = [];
    const errors: Error[] = [];
    source(stub).start(
      (m) => got.push(m),
      (e) => errors.push(e),
    );
    stub.emit('message', { id: '1' });
    stub.emit('error', new Error('stream reset'));
    expect(got).toEqual([{ id: '1' }]);
    expect(errors.map((e) => e.message)).toEqual(['stream reset']);
  });

  it('gives up on a close that hangs after its own timeout, and reports closed from then on', async () => {
    const stub = new StubSubscription();
    stub.closeHangs = true;
    const s = source(stub);
    s.start(
      () => {},
      () => {},
    );
    expect(s.isOpen).toBe(true);
    const started = Date.now();
    expect(await s.close(100)).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(s.isOpen).toBe(false);
  });

  it('refuses an in-flight cap that is not a positive integer', () => {
    expect(() => source(new StubSubscription(), 0)).toThrow(/maxInFlight/);
  });
});

describeRequestSourceContract('in-memory', {
  async open() {
    const source = new FakeRequestSource();
    return { source, publish: async (body: Buffer) => source.publish(body) };
  },
});
