import { describe, expect, it } from 'vitest';
import { logit, sigmoid, train, type Example } from './logistic.ts';

// Red when "now" is said, innocent when "ago" is; "pain" and "my" say nothing.
const TOY: Example[] = [
  { features: ['pain', 'now'], y: 1 },
  { features: ['pain', 'my', 'now'], y: 1 },
  { features: ['now', 'my'], y: 1 },
  { features: ['pain', 'ago'], y: 0 },
  { features: ['pain', 'my', 'ago'], y: 0 },
  { features: ['ago', 'my'], y: 0 },
];

describe('train', () => {
  it('learns a separable toy set: every example on its own side, the cue words weighted', () => {
    const m = train(TOY, { epochs: 50 });
    for (const e of TOY) expect(sigmoid(logit(m, e.features)) > 0.5).toBe(e.y === 1);
    expect(m.weights.get('now') ?? 0).toBeGreaterThan(1);
    expect(m.weights.get('ago') ?? 0).toBeLessThan(-1);
    expect(Math.abs(m.weights.get('pain') ?? 0)).toBeLessThan(0.5);
  });

  it('gives the same weights, bit for bit, for the same seed, and others for another seed', () => {
    const a = train(TOY, { seed: 7 });
    const b = train(TOY, { seed: 7 });
    const c = train(TOY, { seed: 8 });
    expect([...a.weights]).toEqual([...b.weights]);
    expect(a.bias).toBe(b.bias);
    expect([...a.weights]).not.toEqual([...c.weights]);
  });

  it('shrinks the weights as L2 grows', () => {
    const size = (l2: number) => Math.abs(train(TOY, { l2 }).weights.get('now') ?? 0);
    expect(size(0.1)).toBeLessThan(size(0.001));
  });

  it('counts a feature listed twice in an example once', () => {
    const twice = TOY.map((e) => ({ ...e, features: [...e.features, ...e.features] }));
    expect([...train(twice).weights]).toEqual([...train(TOY).weights]);
  });

  it('rejects options it cannot train with', () => {
    expect(() => train(TOY, { epochs: 0 })).toThrow(RangeError);
    expect(() => train(TOY, { learningRate: -1 })).toThrow(RangeError);
  });
});
