import { describe, expect, it } from 'vitest';
import { parseSmapsRollup, pssMb } from './procs.ts';

// As Linux 6.x prints it (from a job process here), trimmed.
const ROLLUP = `55f1896c3000-7fffc77ae000 ---p 00000000 00:00 0                          [rollup]
Rss:              331776 kB
Pss:              152340 kB
Pss_Dirty:        120112 kB
Pss_Anon:         118000 kB
Pss_File:          34340 kB
Pss_Shmem:             0 kB
Shared_Clean:     190000 kB
Private_Dirty:    120112 kB
SwapPss:               0 kB
`;

describe('parseSmapsRollup', () => {
  it('reads every kB field by name, Pss apart from Pss_Anon, Pss_File and SwapPss', () => {
    const f = parseSmapsRollup(ROLLUP);
    expect(f.Rss).toBe(331776);
    expect(f.Pss).toBe(152340);
    expect(f.Pss_Anon).toBe(118000);
    expect(f.Pss_File).toBe(34340);
    expect(f.SwapPss).toBe(0);
    expect(Object.keys(f)).toHaveLength(9); // the [rollup] header line is not a field
  });

  it('gives no fields for text that is not a rollup', () => {
    expect(parseSmapsRollup('')).toEqual({});
    expect(parseSmapsRollup('Pss: lots\nRss 12 kB\n')).toEqual({});
  });
});

describe('pssMb', () => {
  it('reads this process’s own PSS, below its RSS', () => {
    const pss = pssMb(process.pid);
    expect(pss).toBeGreaterThan(1);
    expect(pss).toBeLessThanOrEqual(process.memoryUsage().rss / 1024 / 1024);
  });

  it('is undefined for a process that does not exist', () => {
    expect(pssMb(2 ** 22 + 1)).toBeUndefined();
  });
});
