import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../sessions/schema.ts';
import { SessionReadCache } from './read-cache.ts';

const record = (state: SessionRecord['state']) => ({ sessionId: 's', state }) as SessionRecord;

describe('session reads', () => {
  it('share one store read among concurrent callers', async () => {
    let reads = 0;
    let release: (r: SessionRecord) => void = () => undefined;
    const cache = new SessionReadCache(() => {
      reads++;
      return new Promise((r) => (release = r));
    }, 0);
    const all = Promise.all([cache.get('s', 0), cache.get('s', 10), cache.get('s', 20)]);
    release(record('active'));
    expect((await all).map((r) => r?.state)).toEqual(['active', 'active', 'active']);
    expect(reads).toBe(1);
  });

  it('serve a result only while it is young enough, and never cache a failure', async () => {
    let n = 0;
    const states = ['requested', 'active'] as const;
    let fail = true;
    const cache = new SessionReadCache(async () => {
      if (fail) {
        fail = false;
        throw new Error('down');
      }
      return record(states[n++] ?? 'completed');
    }, 100);
    await expect(cache.get('s', 0)).rejects.toThrow('down');
    expect((await cache.get('s', 1))?.state).toBe('requested');
    expect((await cache.get('s', 100))?.state).toBe('requested');
    expect((await cache.get('s', 102))?.state).toBe('active');
  });
});
