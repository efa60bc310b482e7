import { describe, expect, it } from 'vitest';
import { createLoadFunction } from './load.ts';

describe('createLoadFunction', () => {
  it('reports full at the session cap whatever the CPU says', () => {
    const load = createLoadFunction({ cpu: true, maxJobs: 3 });
    expect(load(3)).toBe(1);
    expect(load(4)).toBe(1);
  });

  it('stays below any threshold under the cap when CPU is not counted', () => {
    const load = createLoadFunction({ cpu: false, maxJobs: 4 });
    expect(load(0)).toBe(0);
    expect(load(3)).toBeLessThan(0.5);
    expect(load(4)).toBe(1);
  });

  it('reports machine CPU as a fraction between 0 and 1', () => {
    const load = createLoadFunction({ cpu: true, maxJobs: 0 });
    const end = Date.now() + 50;
    while (Date.now() < end) Math.sqrt(Math.random());
    const v = load(0);
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(1);
  });
});
