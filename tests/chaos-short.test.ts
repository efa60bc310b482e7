/**
 * The short version of `npm run chaos` (issue 15, item 6): every scenario of the full run, each
 * in one call against the chaos run's own LiveKit, Pub/Sub emulator, FerretDB and dispatcher,
 * measured from outside exactly as the full run measures them (bench/chaos/). A vendor fault's
 * short version skips the red flag after the fault and waits 8 s per answer; the others run as
 * they are.
 *
 * Asserted: every goal our code meets today. A goal it does not meet yet is printed with its
 * figure, not asserted (see SILENCE_NOT_MET_TODAY), so this file neither passes falsely nor
 * hides the gap; the full run's table is where the figures are compared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario, SILENCE_GOAL_MS, type ScenarioResult } from '../bench/chaos/run.ts';
import { SCENARIOS, shortScenario } from '../bench/chaos/scenarios.ts';
import { ChaosStack } from '../bench/chaos/stack.ts';
import { shutdownRtc } from './support/patient.ts';

const SCENARIO_TIMEOUT_MS = 150_000;

/**
 * Vendor faults after which the patient hears more than 3 s of silence today, with why; the
 * rest are asserted within 3 s. (With the STT watchdog a dropped Deepgram socket costs ~2.5 s, a
 * reprompt; two LLM 503s ~1.5 s, the holding line then the failure line.)
 */
const SILENCE_NOT_MET_TODAY: ReadonlyMap<string, string> = new Map([]);

/** What each non-vendor scenario must end in, beyond the goals every scenario shares. */
const SPECIFIC: Record<string, (r: ScenarioResult) => void> = {
  'worker-sigkill': (r) => {
    // Killed during the safety response: the reaper ends the call, or the next worker resumes
    // it and the patient ends it (either way the expected state was checked above).
    expect(['interrupted', 'completed']).toContain(r.states[0]?.state);
    expect(r.escalationsExpected).toBeGreaterThan(0);
  },
  'worker-sigterm': (r) => {
    expect(r.states[0]?.state).toBe('completed');
    expect(r.escalationsExpected).toBeGreaterThan(0);
  },
  'worker-sigterm-short-drain': (r) => {
    expect(r.states[0]?.state).toBe('completed');
    expect(r.escalationsExpected).toBeGreaterThan(0);
  },
  'ferretdb-pause': (r) => expect(r.escalationsExpected).toBeGreaterThan(0),
  'pubsub-restart': (r) => expect(r.escalationsExpected).toBeGreaterThan(0),
  'livekit-restart': (r) => {
    expect(r.sessions).toBe(2);
    // The call after the restart is placed and completed.
    expect(r.states[1]?.state).toBe('completed');
  },
};

describe('chaos, short', () => {
  let stack: ChaosStack;
  const results: ScenarioResult[] = [];

  beforeAll(async () => {
    stack = await ChaosStack.start();
    await stack.startWorker();
  }, 120_000);

  afterAll(async () => {
    for (const r of results) {
      console.log(
        `chaos-short ${r.id}: states ${r.states.map((s) => `${s.state}/${s.endReason ?? '-'}`).join(',')}, lost ${r.utterancesLost}/${r.finalisedBeforeFault}, escalations ${r.escalationsDelivered}/${r.escalationsExpected}, stuck ${r.stuck}, longest silence ${r.longestSilenceMs ?? '-'} ms`,
      );
    }
    await stack?.close();
    await shutdownRtc();
  }, 60_000);

  function checkCommonGoals(r: ScenarioResult): void {
    expect(r.error).toBeUndefined();
    expect(r.sessions).toBeGreaterThan(0);
    for (const s of r.states) expect(s.expected).toContain(s.state);
    expect(r.finalisedBeforeFault).toBeGreaterThan(0);
    expect(r.utterancesLost).toBe(0);
    expect(r.stuck).toBe(0);
    expect(r.escalationsDelivered).toBe(r.escalationsExpected);
  }

  for (const scenario of SCENARIOS) {
    const { id } = scenario;
    const vendor = scenario.class === 'vendor';
    const silenceAsserted = vendor && !SILENCE_NOT_MET_TODAY.has(id);
    it(
      `${id}: ${scenario.title}; states right, nothing lost, nothing stuck, escalations delivered${silenceAsserted ? ', silence within 3 s' : ''}`,
      async () => {
        const r = await runScenario(stack, shortScenario(id), SCENARIO_TIMEOUT_MS);
        results.push(r);
        checkCommonGoals(r);
        if (vendor) {
          expect(r.longestSilenceMs).not.toBeNull();
          if (silenceAsserted) {
            expect(r.longestSilenceMs!).toBeLessThanOrEqual(SILENCE_GOAL_MS);
          } else {
            console.log(
              `chaos-short ${id}: silence goal not asserted yet (${SILENCE_NOT_MET_TODAY.get(id)}): longest ${r.longestSilenceMs} ms (goal ≤ ${SILENCE_GOAL_MS} ms)`,
            );
          }
        }
        SPECIFIC[id]?.(r);
      },
      SCENARIO_TIMEOUT_MS + 10_000,
    );
  }
});
