import { describe, expect, it } from 'vitest';
import { parseRange } from './range.ts';

describe('HTTP Range for clip audio', () => {
  it('reads the three single-range forms, clamping an end past the file', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual({ kind: 'range', start: 0, end: 99 });
    expect(parseRange('bytes=900-', 1000)).toEqual({ kind: 'range', start: 900, end: 999 });
    expect(parseRange('bytes=-100', 1000)).toEqual({ kind: 'range', start: 900, end: 999 });
    expect(parseRange('bytes=-5000', 1000)).toEqual({ kind: 'range', start: 0, end: 999 });
    expect(parseRange('bytes=990-2000', 1000)).toEqual({ kind: 'range', start: 990, end: 999 });
    expect(parseRange(undefined, 1000)).toEqual({ kind: 'whole' });
  });

  it('refuses ranges past the end, reversed, several at once, or in another unit', () => {
    for (const bad of [
      'bytes=1000-',
      'bytes=5-2',
      'bytes=0-1,5-6',
      'items=0-1',
      'bytes=-0',
      'bytes=-',
      'bytes=x-1',
    ]) {
      expect(parseRange(bad, 1000), bad).toEqual({ kind: 'unsatisfiable' });
    }
  });
});
