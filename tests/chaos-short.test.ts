/**
 * The short version of `npm run chaos` (issue 15, item 6): one fault of each vendor and a
 * worker SIGKILL, each in one call against the chaos run's own LiveKit, Pub/Sub emulator and
 * FerretDB, measured from outside exactly as the full run measures them (bench/chaos/).
 *
 * Asserted: every goal our code meets today. A goal it does not meet yet is printed with its
 * figure, not asserted (see SILENCE_MET_TODAY), so this file neither passes falsely nor hides
 * the gap; the full run's table is where the figures are compared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario, SILENCE_GOAL_MS, type ScenarioResult } from '../bench/chaos/run.ts';
import { shortScenario } from '../bench/chaos/scenarios.ts';
import { ChaosStack } from '../bench/chaos/stack.ts';
import { shutdownRtc } from './support/patient.ts';

const SCENARIO_TIMEOUT_MS = 100_000;

/**
 * Whether the patient hears at most 3 s of silence under this fault today. With the STT
 * watchdog a dropped Deepgram socket costs ~2.4 s (a reprompt); before it, 15.4 s (the turn was
 * never answered). Two LLM 503s cost ~1.5 s now (the holding line, then the failure line when
 * the chain gives up); before the failure line, 3.4–15.4 s (a failed generation said nothing).
 */
const SILENCE_MET_TODAY: Record<string, boolean> = {
  'stt-drop': true,
  'llm-5xx': true,
  'tts-drop': true,
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
    expect(r.states.map((s) => s.state)).toEqual(r.states.map((s) => s.expected[0]));
    expect(r.finalisedBeforeFault).toBeGreaterThan(0);
    expect(r.utterancesLost).toBe(0);
    expect(r.stuck).toBe(0);
    expect(r.escalationsDelivered).toBe(r.escalationsExpected);
  }

  for (const [id, metToday] of Object.entries(SILENCE_MET_TODAY)) {
    it(
      `${id}: the call ends completed with nothing lost${metToday ? ', and the silence stays within 3 s' : ''}`,
      async () => {
        const r = await runScenario(stack, shortScenario(id), SCENARIO_TIMEOUT_MS);
        results.push(r);
        checkCommonGoals(r);
        expect(r.longestSilenceMs).not.toBeNull();
        if (metToday) {
          expect(r.longestSilenceMs!).toBeLessThanOrEqual(SILENCE_GOAL_MS);
        } else {
          console.log(
            `chaos-short ${id}: silence goal not asserted yet: longest ${r.longestSilenceMs} ms (goal ≤ ${SILENCE_GOAL_MS} ms)`,
          );
        }
      },
      SCENARIO_TIMEOUT_MS + 10_000,
    );
  }

  it(
    'worker SIGKILL during a safety response: the reaper ends the call interrupted, the escalation is delivered by the next worker',
    async () => {
      const r = await runScenario(stack, shortScenario('worker-sigkill'), SCENARIO_TIMEOUT_MS);
      results.push(r);
      checkCommonGoals(r);
      expect(r.states[0]).toMatchObject({ state: 'interrupted', endReason: 'agent_lost' });
      expect(r.escalationsExpected).toBeGreaterThan(0);
    },
    SCENARIO_TIMEOUT_MS + 10_000,
  );
});
