/**
 * Runs scenarios one after another on one stack, like the benchmarks: a scenario that throws or
 * runs out of time is recorded with why, its calls are still measured, and the run goes on.
 */
import type { CallOutcome } from './call.ts';
import { ScenarioContext, type Scenario, type SettledCall } from './scenarios.ts';
import type { ChaosStack } from './stack.ts';

/** Goal for vendor faults: the longest silence the patient hears. */
export const SILENCE_GOAL_MS = 3000;

export interface ScenarioResult {
  id: string;
  title: string;
  class: Scenario['class'];
  durationMs: number;
  sessions: number;
  terminalCorrect: number;
  /** Per call: the state it ended in (and why) against what was expected. */
  states: { state: string; endReason: string | undefined; expected: string[] }[];
  finalisedBeforeFault: number;
  utterancesLost: number;
  /** What was lost: roles and lengths only, never the words. */
  lostRoles: string[];
  escalationsExpected: number;
  escalationsDelivered: number;
  stuck: number;
  longestSilenceMs: number | null;
  unansweredTurns: number;
  /** Per call: the red flag's safety response was heard; escalations on record / in the outbox. */
  escalationDetail: { safetyResponseHeard: boolean; onRecord: number; recorded: number }[];
  turns: { label: string; answered: boolean; silenceMs: number }[];
  error: string | undefined;
  notes: string[];
}

export interface GoalCheck {
  goal: string;
  met: boolean;
  misses: string[];
}

function summarise(
  s: Scenario,
  ctx: ScenarioContext,
  durationMs: number,
  error: string | undefined,
): ScenarioResult {
  const calls: SettledCall[] = ctx.settled;
  const o = (c: SettledCall): CallOutcome => c.outcome;
  const turns = calls.flatMap((c) => c.turns);
  const silences = turns.map((t) => t.silenceMs);
  return {
    id: s.id,
    title: s.title,
    class: s.class,
    durationMs,
    sessions: calls.length,
    terminalCorrect: calls.filter((c) => c.expected.includes(o(c).state)).length,
    states: calls.map((c) => ({
      state: o(c).state,
      endReason: o(c).endReason,
      expected: c.expected,
    })),
    finalisedBeforeFault: calls.reduce((n, c) => n + o(c).finalisedBeforeFault, 0),
    utterancesLost: calls.reduce((n, c) => n + o(c).lost.length, 0),
    lostRoles: calls.flatMap((c) => o(c).lost.map((l) => `${l.role} (${l.text.length} chars)`)),
    // A red flag said once its fault was over must escalate, heard or not: one the agent never
    // heard (its STT still down, say) is a missed escalation, not one nobody expected.
    escalationsExpected: calls.reduce(
      (n, c) =>
        n +
        Math.max(
          o(c).escalationsRecorded,
          o(c).safetyResponseHeard ? 1 : 0,
          c.turns.filter((t) => t.redFlag && t.speechEndedAtMs >= c.faultEndedAtMs).length,
        ),
      0,
    ),
    escalationsDelivered: calls.reduce((n, c) => n + o(c).escalationsDelivered, 0),
    stuck: calls.filter((c) => !o(c).terminal).length,
    longestSilenceMs: silences.length ? Math.max(...silences) : null,
    unansweredTurns: turns.filter((t) => !t.answered).length,
    escalationDetail: calls.map((c) => ({
      safetyResponseHeard: o(c).safetyResponseHeard,
      onRecord: o(c).escalationsOnRecord,
      recorded: o(c).escalationsRecorded,
    })),
    turns: turns.map((t) => ({ label: t.label, answered: t.answered, silenceMs: t.silenceMs })),
    error,
    notes: ctx.notes,
  };
}

export async function runScenario(
  stack: ChaosStack,
  s: Scenario,
  timeoutMs: number,
): Promise<ScenarioResult> {
  const t0 = Date.now();
  stack.h.standins.reset();
  const ctx = new ScenarioContext(stack);
  let error: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      s.run(ctx),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`scenario timed out after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    error = err instanceof Error ? err.message.split('\n')[0] : String(err);
  } finally {
    clearTimeout(timer);
  }
  // Whatever the scenario left open is still measured: a call that broke it counts.
  for (const call of [...ctx.open.keys()]) {
    await call.hangUp().catch(() => undefined);
    await ctx.settle(call, 5_000).catch((err: unknown) => {
      ctx.note(`could not settle a call: ${String(err)}`);
    });
  }
  // A fault must not leak into the next scenario.
  stack.ferret.resume();
  return summarise(s, ctx, Date.now() - t0, error);
}

export function goalsOf(results: readonly ScenarioResult[]): GoalCheck[] {
  const misses = (f: (r: ScenarioResult) => string | null) =>
    results.map(f).filter((x): x is string => x !== null);
  return [
    {
      goal: '0 utterances lost that were finalised before the fault',
      misses: misses((r) =>
        r.utterancesLost > 0 ? `${r.id}: ${r.utterancesLost}/${r.finalisedBeforeFault}` : null,
      ),
    },
    {
      goal: '0 sessions stuck 60 s after the fault ended',
      misses: misses((r) => (r.stuck > 0 ? `${r.id}: ${r.stuck}` : null)),
    },
    {
      goal: 'every escalation delivered',
      misses: misses((r) =>
        r.escalationsDelivered < r.escalationsExpected
          ? `${r.id}: ${r.escalationsDelivered}/${r.escalationsExpected}`
          : null,
      ),
    },
    {
      goal: `longest silence <= ${SILENCE_GOAL_MS / 1000} s for vendor faults`,
      misses: misses((r) =>
        r.class === 'vendor' &&
        (r.longestSilenceMs === null || r.longestSilenceMs > SILENCE_GOAL_MS)
          ? `${r.id}: ${r.longestSilenceMs === null ? 'no turn measured' : `${(r.longestSilenceMs / 1000).toFixed(1)} s`}`
          : null,
      ),
    },
    {
      goal: 'every session ends in the state its fault should lead to',
      misses: misses((r) =>
        r.terminalCorrect < r.sessions || r.sessions === 0
          ? `${r.id}: ${r.terminalCorrect}/${r.sessions} (${r.states.map((s) => `${s.state}${s.endReason ? `/${s.endReason}` : ''}`).join(', ')})`
          : null,
      ),
    },
  ].map((g) => ({ ...g, met: g.misses.length === 0 }));
}
