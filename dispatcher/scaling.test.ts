import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { desiredWorkers, registerScalingGauges, type ScalingPolicy } from './scaling.ts';

const policy: ScalingPolicy = { sessionsPerWorker: 2, spareWorkers: 1 };

describe('the desired worker count', () => {
  it('covers running, placing and waiting sessions, plus the spare', () => {
    expect(desiredWorkers({ backlog: 0, inFlight: 0, activeSessions: 0 }, policy)).toBe(1);
    expect(desiredWorkers({ backlog: 1, inFlight: 0, activeSessions: 0 }, policy)).toBe(2);
    expect(desiredWorkers({ backlog: 3, inFlight: 2, activeSessions: 4 }, policy)).toBe(6);
  });

  it('never asks for fewer workers than have calls on them', () => {
    expect(
      desiredWorkers({ backlog: 0, inFlight: 0, activeSessions: 5, busyWorkers: 5 }, policy),
    ).toBe(5);
  });

  it('reaches zero at night only when no spare is kept, and respects the bounds', () => {
    const night = { backlog: 0, inFlight: 0, activeSessions: 0 };
    expect(desiredWorkers(night, { sessionsPerWorker: 2, spareWorkers: 0 })).toBe(0);
    expect(desiredWorkers(night, { ...policy, spareWorkers: 0, minWorkers: 1 })).toBe(1);
    expect(desiredWorkers({ ...night, backlog: 100 }, { ...policy, maxWorkers: 10 })).toBe(10);
  });

  it('refuses a per-worker capacity that is not a positive whole number', () => {
    expect(() =>
      desiredWorkers(
        { backlog: 0, inFlight: 0, activeSessions: 0 },
        { sessionsPerWorker: 0, spareWorkers: 0 },
      ),
    ).toThrow(RangeError);
  });

  it('exports backlog, active sessions and desired workers from one read per scrape', async () => {
    const registry = new Registry();
    let reads = 0;
    registerScalingGauges({
      registry,
      policy,
      demand: async () => (reads++, { backlog: 3, inFlight: 1, activeSessions: 4 }),
    });
    const text = await registry.metrics();
    expect(text).toMatch(/^voicecare_dispatcher_backlog 3$/m);
    expect(text).toMatch(/^voicecare_dispatcher_active_sessions 4$/m);
    expect(text).toMatch(/^voicecare_dispatcher_desired_workers 5$/m);
    expect(reads).toBe(1);
  });

  it('keeps the last demand when a read fails', async () => {
    const registry = new Registry();
    let fail = false;
    const errors: unknown[] = [];
    registerScalingGauges({
      registry,
      policy,
      demand: async () => {
        if (fail) throw new Error('livekit down');
        return { backlog: 0, inFlight: 0, activeSessions: 6 };
      },
      onError: (e) => errors.push(e),
    });
    await registry.metrics();
    fail = true;
    await new Promise((r) => setTimeout(r, 1100));
    expect(await registry.metrics()).toMatch(/^voicecare_dispatcher_desired_workers 4$/m);
    expect(errors).toHaveLength(1);
  });
});

// A day of calls against a simulated pool, in 5 s steps (the scaler's polling interval).
interface Worker {
  readyAtS: number;
  /** End times of its calls. */
  calls: number[];
  /** Told to stop: takes no new call; cut off drainS later. */
  stoppingAtS?: number;
}

interface DayResult {
  longestShortS: number;
  cutCalls: number;
  placed: number;
  workersAt: (hour: number) => number;
}

const STEP_S = 5;
const START_S = 20; // one worker's cold start (image pull + prewarm), measured as ~15 s in bench/
const DRAIN_S = 6.5; // AGENT_DRAIN_TIMEOUT_MS
// The scaler lowers the count only to the highest it wanted over this window (deploy/ sets the
// same scale-down stabilisation), so a call ending mid-burst does not stop a starting worker.
const STABILISE_S = 120;
const CALL_S = (i: number) => 240 + ((i * 7919) % 360); // 4–10 min, deterministic

/** Requests per step: night, a morning ramp to a plateau, a burst of 30 at 14:00, evening fall. */
function arrivals(tS: number): number {
  const h = tS / 3600;
  const perMinute =
    h < 6
      ? 0.02
      : h < 9
        ? 0.02 + ((h - 6) / 3) * 3
        : h < 17
          ? 3
          : h < 21
            ? 3 * ((21 - h) / 4)
            : 0.02;
  const expected = (perMinute * STEP_S) / 60;
  // Deterministic "Poisson": carry the fraction over.
  const before = Math.floor(expectedSum);
  expectedSum += expected;
  const burst = tS === 14 * 3600 ? 30 : 0;
  return Math.floor(expectedSum) - before + burst;
}
let expectedSum = 0;

function simulateDay(
  rule: (d: { backlog: number; activeSessions: number; busyWorkers: number }) => number,
): DayResult {
  expectedSum = 0;
  const workers: Worker[] = [];
  const queue: number[] = [];
  let shortSince: number | undefined;
  let longestShortS = 0;
  let cutCalls = 0;
  let placed = 0;
  const hourly: number[] = [];
  const wanted: number[] = [];
  for (let t = 0; t < 24 * 3600; t += STEP_S) {
    for (const w of workers) w.calls = w.calls.filter((end) => end > t);
    // Stopped workers: calls still running after the drain budget are cut.
    for (const w of workers.filter(
      (x) => x.stoppingAtS !== undefined && t >= x.stoppingAtS + DRAIN_S,
    )) {
      cutCalls += w.calls.length;
      workers.splice(workers.indexOf(w), 1);
    }
    for (let i = arrivals(t); i > 0; i--) queue.push(t);
    // LiveKit: least-loaded ready worker below its cap (it spreads, it does not pack).
    const open = () =>
      workers
        .filter((w) => w.readyAtS <= t && w.stoppingAtS === undefined && w.calls.length < 2)
        .sort((a, b) => a.calls.length - b.calls.length)[0];
    for (let w = open(); queue.length && w; w = open()) {
      queue.shift();
      w.calls.push(t + CALL_S(placed++));
    }
    // Short: someone is waiting for a worker.
    if (queue.length) {
      shortSince ??= t;
      longestShortS = Math.max(longestShortS, t - shortSince + STEP_S);
    } else shortSince = undefined;

    const live = workers.filter((w) => w.stoppingAtS === undefined);
    const desired = rule({
      backlog: queue.length,
      activeSessions: live.reduce((n, w) => n + w.calls.length, 0),
      busyWorkers: live.filter((w) => w.calls.length > 0).length,
    });
    wanted.push(desired);
    if (wanted.length > STABILISE_S / STEP_S) wanted.shift();
    const target = Math.max(...wanted);
    for (let n = live.length; n < desired; n++) workers.push({ readyAtS: t + START_S, calls: [] });
    // The platform stops instances it no longer needs; idle ones first, then the least busy.
    const byIdle = [...live].sort((a, b) => a.calls.length - b.calls.length);
    for (let n = live.length; n > target; n--) byIdle.shift()!.stoppingAtS = t;
    if (t % 3600 === 0) hourly.push(workers.filter((w) => w.stoppingAtS === undefined).length);
  }
  return { longestShortS, cutCalls, placed, workersAt: (h) => hourly[h]! };
}

describe('the scaling rule over a simulated day', () => {
  it('is never short for longer than one worker start, and scales down without cutting calls', () => {
    const day = simulateDay((d) => desiredWorkers({ ...d, inFlight: 0 }, policy));
    expect(day.placed).toBeGreaterThan(1000);
    expect(day.longestShortS).toBeLessThanOrEqual(START_S);
    expect(day.cutCalls).toBe(0);
    expect(day.workersAt(3)).toBeLessThanOrEqual(2);
    expect(day.workersAt(12)).toBeGreaterThan(10);
    expect(day.workersAt(23)).toBeLessThanOrEqual(2);
  });

  it('reaches zero workers at night with no spare, and still serves the first call of the day', () => {
    const day = simulateDay((d) =>
      desiredWorkers({ ...d, inFlight: 0 }, { sessionsPerWorker: 2, spareWorkers: 0 }),
    );
    expect(day.workersAt(4)).toBe(0);
    expect(day.cutCalls).toBe(0);
    // Without a warm spare every call after an idle spell waits one cold start, no more.
    expect(day.longestShortS).toBeLessThanOrEqual(START_S);
  });

  it('would cut calls if it sized the pool on sessions alone (what the busy-worker term prevents)', () => {
    const naive = simulateDay((d) =>
      desiredWorkers({ backlog: d.backlog, activeSessions: d.activeSessions, inFlight: 0 }, policy),
    );
    expect(naive.cutCalls).toBeGreaterThan(0);
  });
});
