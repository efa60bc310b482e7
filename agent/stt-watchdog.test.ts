import { describe, expect, it } from 'vitest';
import { SttWatchdog, type SttWatchdogOptions } from './stt-watchdog.ts';

/** A clock and timers the test moves by hand. */
function manualTime() {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 1;
  return {
    now: () => now,
    timers: {
      set: (fn: () => void, ms: number) => {
        const id = next++;
        timers.set(id, { at: now + ms, fn });
        return id;
      },
      clear: (h: unknown) => void timers.delete(h as number),
    },
    advance(ms: number) {
      now += ms;
      for (const [id, t] of [...timers]) {
        if (t.at <= now) {
          timers.delete(id);
          t.fn();
        }
      }
    },
    pending: () => timers.size,
  };
}

function setup(overrides: Partial<SttWatchdogOptions> = {}) {
  const time = manualTime();
  const fired: { speechMs: number; silentForMs: number }[] = [];
  const dog = new SttWatchdog({
    timeoutMs: 1500,
    onDeaf: (info) => fired.push(info),
    now: time.now,
    timers: time.timers,
    ...overrides,
  });
  return { dog, time, fired };
}

describe('SttWatchdog', () => {
  it('fires when speech ended and nothing was recognised for timeoutMs', () => {
    const { dog, time, fired } = setup();
    dog.userState('speaking');
    time.advance(1200);
    dog.userState('listening');
    time.advance(1499);
    expect(fired).toEqual([]);
    time.advance(1);
    expect(fired).toEqual([{ speechMs: 1200, silentForMs: 1500 }]);
    expect(dog.fired).toBe(1);
  });

  it('stays quiet when an interim or final transcript came, during the speech or after it', () => {
    const a = setup();
    a.dog.userState('speaking');
    a.time.advance(500);
    a.dog.transcript();
    a.time.advance(500);
    a.dog.userState('listening');
    a.time.advance(5000);
    expect(a.fired).toEqual([]);

    const b = setup();
    b.dog.userState('speaking');
    b.time.advance(800);
    b.dog.userState('listening');
    b.time.advance(700);
    b.dog.transcript();
    b.time.advance(5000);
    expect(b.fired).toEqual([]);
  });

  it('leaves short noises alone, and a new segment starts afresh', () => {
    const { dog, time, fired } = setup({ minSpeechMs: 300 });
    dog.userState('speaking');
    time.advance(200);
    dog.userState('listening');
    time.advance(5000);
    expect(fired).toEqual([]);

    // A transcript for the first segment does not vouch for the second.
    dog.userState('speaking');
    dog.transcript();
    time.advance(600);
    dog.userState('listening');
    dog.userState('speaking');
    time.advance(600);
    dog.userState('listening');
    time.advance(1500);
    expect(fired).toHaveLength(1);
  });

  it('speaking again before the timeout postpones the verdict to the end of that speech', () => {
    const { dog, time, fired } = setup();
    dog.userState('speaking');
    time.advance(600);
    dog.userState('listening');
    time.advance(1000);
    dog.userState('speaking');
    time.advance(600);
    dog.userState('listening');
    time.advance(1499);
    expect(fired).toEqual([]);
    time.advance(1);
    expect(fired).toHaveLength(1);
  });

  it('does nothing when disabled (0) or stopped', () => {
    const off = setup({ timeoutMs: 0 });
    off.dog.userState('speaking');
    off.time.advance(1000);
    off.dog.userState('listening');
    off.time.advance(10_000);
    expect(off.fired).toEqual([]);
    expect(off.time.pending()).toBe(0);

    const stopped = setup();
    stopped.dog.userState('speaking');
    stopped.time.advance(1000);
    stopped.dog.userState('listening');
    stopped.dog.stop();
    stopped.time.advance(10_000);
    expect(stopped.fired).toEqual([]);
    expect(() => setup({ timeoutMs: -1 })).toThrow(RangeError);
  });
});
