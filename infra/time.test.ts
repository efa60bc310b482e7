import { describe, expect, it } from 'vitest';
import { TimeoutError } from './errors.ts';
import { percentile } from './stats.ts';
import { deepFreeze } from './freeze.ts';
import { settlesWithin, sleep, systemClock, withTimeout } from './time.ts';

class Stop extends Error {}

describe('sleep', () => {
  it('resolves after the time given', async () => {
    const started = systemClock.monotonicMs();
    await sleep(20);
    expect(systemClock.monotonicMs() - started).toBeGreaterThanOrEqual(15);
  });

  it('rejects with the reason the signal aborted with, not a wrapper', async () => {
    const ac = new AbortController();
    const waiting = sleep(60_000, ac.signal);
    ac.abort(new Stop());
    await expect(waiting).rejects.toBeInstanceOf(Stop);
    await expect(sleep(10, AbortSignal.abort(new Stop()))).rejects.toBeInstanceOf(Stop);
  });
});

describe('withTimeout', () => {
  it('settles like the work when it finishes in time, value or error', async () => {
    await expect(withTimeout(Promise.resolve(7), 1000, 'work')).resolves.toBe(7);
    await expect(withTimeout(Promise.reject(new Stop()), 1000, 'work')).rejects.toBeInstanceOf(
      Stop,
    );
  });

  it('rejects with a TimeoutError naming the work when it does not', async () => {
    const err = await withTimeout(new Promise(() => undefined), 10, 'the flush').catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'timeout', timeoutMs: 10, retryable: true });
    expect((err as Error).message).toBe('the flush did not finish within 10 ms');
  });

  it('rejects with the caller’s own error when it builds one', async () => {
    await expect(
      withTimeout(new Promise(() => undefined), 10, 'x', () => new Stop()),
    ).rejects.toBeInstanceOf(Stop);
  });

  it('leaves no timer behind once the race is over', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await withTimeout(Promise.resolve(1), 60_000, 'work');
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(after).toBeLessThanOrEqual(before);
  });
});

describe('settlesWithin', () => {
  it('says whether the work settled in time, counting its failure as settled', async () => {
    expect(await settlesWithin(Promise.resolve(), 100, 'a')).toBe(true);
    expect(await settlesWithin(Promise.reject(new Stop()), 100, 'b')).toBe(true);
    expect(await settlesWithin(new Promise(() => undefined), 10, 'c')).toBe(false);
  });
});

describe('percentile', () => {
  it('is the nearest-rank value of unsorted samples, and NaN for none', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([5, 1, 4, 2, 3], 95)).toBe(5);
    expect(percentile([9], 1)).toBe(9);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('deepFreeze', () => {
  it('freezes nested objects and arrays in place', () => {
    const tree = deepFreeze({ a: { b: [1, { c: 2 }] } });
    expect(Object.isFrozen(tree.a.b[1])).toBe(true);
    expect(() => {
      (tree.a as { b: unknown }).b = [];
    }).toThrow(TypeError);
  });
});
