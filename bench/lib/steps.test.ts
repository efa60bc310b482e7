import { describe, expect, it } from 'vitest';
import { StepRecorder, type FailedStep } from './steps.ts';

/**
 * A phase shaped like density: it steps through N values, keeps each step's result, and stops
 * stepping at the first step that fails. `failAt` makes that step throw, as an agent that never
 * speaks would.
 */
async function fakePhase(
  steps: StepRecorder,
  ns: number[],
  failAt: number,
): Promise<{ measured: number[]; ran: number[]; stoppedBecause: string }> {
  const measured: number[] = [];
  const ran: number[] = [];
  let stoppedBecause = 'all steps passed';
  for (const n of ns) {
    const r = await steps.step('fake', `N=${n}`, async () => {
      ran.push(n);
      await Promise.resolve();
      if (n === failAt) throw new Error('agent speech did not happen within 50000 ms');
      return n * 10;
    });
    if (!r.ok) {
      stoppedBecause = `N=${n}: ${r.failure.reason}`;
      break;
    }
    measured.push(r.value);
  }
  return { measured, ran, stoppedBecause };
}

describe('StepRecorder', () => {
  it('records a step that throws with its reason, and the phase keeps what it measured and stops stepping', async () => {
    const told: FailedStep[] = [];
    let now = 1000;
    const steps = new StepRecorder({ onFailure: (f) => told.push(f), clock: () => now });
    now = 1500;
    const r = await fakePhase(steps, [5, 10, 20], 10);

    expect(r.measured).toEqual([50]);
    expect(r.ran).toEqual([5, 10]); // N=20 never started
    expect(r.stoppedBecause).toBe('N=10: agent speech did not happen within 50000 ms');
    const want = {
      phase: 'fake',
      step: 'N=10',
      reason: 'agent speech did not happen within 50000 ms',
      atMs: 500,
    };
    expect(steps.failed).toEqual([want]);
    expect(told).toEqual([want]);
    expect(steps.failuresOf('fake')).toHaveLength(1);
    expect(steps.failuresOf('other')).toEqual([]);
  });

  it('passes a step that succeeds through untouched and records nothing', async () => {
    const steps = new StepRecorder();
    const r = await fakePhase(steps, [5, 10], -1);
    expect(r.measured).toEqual([50, 100]);
    expect(r.stoppedBecause).toBe('all steps passed');
    expect(steps.failed).toEqual([]);
  });

  it('contains a phase that throws outside its steps, so the phases after it still run', async () => {
    const steps = new StepRecorder();
    const first = await steps.phase('latency', async () => {
      await Promise.resolve();
      throw new Error('worker did not register', { cause: new Error('ECONNREFUSED') });
    });
    const second = await steps.phase('density', async () => 'measured');

    expect(first).toBeUndefined();
    expect(second).toBe('measured');
    expect(steps.failed.map((f) => [f.phase, f.step, f.reason])).toEqual([
      ['latency', '(phase)', 'worker did not register (cause: ECONNREFUSED)'],
    ]);
  });

  it('records a thrown non-Error by its text', async () => {
    const steps = new StepRecorder();
    const r = await steps.step('fake', 'N=1', () => Promise.reject('dropped'));
    expect(r.ok).toBe(false);
    expect(steps.failed[0]?.reason).toBe('dropped');
  });
});
