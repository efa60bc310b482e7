import { describe, expect, it } from 'vitest';
import { Containment } from './contain.ts';

describe('Containment', () => {
  it('records a part that throws, with why, and lets the parts after it run', async () => {
    const said: string[] = [];
    let now = 0;
    const c = new Containment(
      () => now,
      (l) => said.push(l),
    );
    const ran: string[] = [];
    const first = await c.run('phase latency', async () => {
      ran.push('latency');
      return 42;
    });
    now = 1500;
    const second = await c.run('density ours N=5', async () => {
      ran.push('density');
      throw new Error('agent speech did not happen within 50000 ms');
    });
    const third = await c.run('phase memory', () => Promise.reject('worker gone'));
    const fourth = await c.run('phase api', async () => {
      ran.push('api');
      return 'done';
    });
    expect([first, second, third, fourth]).toEqual([42, undefined, undefined, 'done']);
    expect(ran).toEqual(['latency', 'density', 'api']);
    expect(c.failures).toEqual([
      {
        what: 'density ours N=5',
        reason: 'agent speech did not happen within 50000 ms',
        atMs: 1500,
      },
      { what: 'phase memory', reason: 'worker gone', atMs: 1500 },
    ]);
    expect(said).toEqual([
      'FAILED density ours N=5: agent speech did not happen within 50000 ms',
      'FAILED phase memory: worker gone',
    ]);
  });
});
