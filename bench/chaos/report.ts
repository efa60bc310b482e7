/** The chaos table (Markdown, also printed) and the JSON with every figure. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SILENCE_GOAL_MS, type GoalCheck, type ScenarioResult } from './run.ts';

export interface ChaosReport {
  startedAt: string;
  wallMs: number;
  command: string;
  loadAverage: { start: number[]; end: number[] };
  settings: Record<string, string | number>;
  results: ScenarioResult[];
  goals: GoalCheck[];
  notes: string[];
}

const s = (ms: number | null) => (ms === null ? '–' : `${(ms / 1000).toFixed(1)} s`);

export function tableOf(results: readonly ScenarioResult[]): string {
  const head =
    '| fault | sessions | terminal states correct | utterances lost | escalations delivered | stuck after 60 s | longest silence | notes |';
  const rule = '| --- | --- | --- | --- | --- | --- | --- | --- |';
  const rows = results.map((r) => {
    const states = r.states
      .map((x) => `${x.state}${x.endReason ? `/${x.endReason}` : ''}`)
      .join(', ');
    const silenceMiss =
      r.class === 'vendor' && (r.longestSilenceMs === null || r.longestSilenceMs > SILENCE_GOAL_MS);
    const notes = [
      r.error ? `ERROR: ${r.error}` : '',
      r.unansweredTurns ? `${r.unansweredTurns} turn(s) unanswered` : '',
      ...r.notes,
    ]
      .filter(Boolean)
      .join('; ');
    return [
      `${r.id}: ${r.title}`,
      String(r.sessions),
      `${r.terminalCorrect}/${r.sessions}${states ? ` (${states})` : ''}`,
      `${r.utterancesLost}/${r.finalisedBeforeFault}`,
      `${r.escalationsDelivered}/${r.escalationsExpected}`,
      String(r.stuck),
      `${s(r.longestSilenceMs)}${silenceMiss ? ' ✗' : ''}`,
      notes.replace(/\|/g, '/'),
    ].join(' | ');
  });
  return [head, rule, ...rows.map((r) => `| ${r} |`)].join('\n');
}

export function markdownOf(report: ChaosReport): string {
  const goals = report.goals
    .map(
      (g) => `- ${g.met ? 'met' : 'MISSED'}: ${g.goal}${g.met ? '' : ` (${g.misses.join('; ')})`}`,
    )
    .join('\n');
  return [
    `# Chaos run ${report.startedAt}`,
    '',
    `\`${report.command}\`, ${(report.wallMs / 60_000).toFixed(1)} min, load ${report.loadAverage.start.map((x) => x.toFixed(2)).join(' ')} → ${report.loadAverage.end.map((x) => x.toFixed(2)).join(' ')}`,
    '',
    'Utterances lost: lost / finalised before the fault. Escalations: delivered on the events',
    'topic / raised (outbox entries, or red flags the agent answered, whichever is more). Longest',
    `silence: at the simulated patient, end of its speech to the agent's next audio (goal ≤ ${SILENCE_GOAL_MS / 1000} s for vendor faults, ✗ marks a miss).`,
    '',
    tableOf(report.results),
    '',
    '## Goals',
    '',
    goals,
    ...(report.notes.length ? ['', '## Notes', '', ...report.notes.map((n) => `- ${n}`)] : []),
    '',
  ].join('\n');
}

export async function writeReport(
  dir: string,
  report: ChaosReport,
): Promise<{ md: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const md = join(dir, `chaos-${stamp}.md`);
  const json = join(dir, `chaos-${stamp}.json`);
  const text = markdownOf(report);
  const data = `${JSON.stringify(report, null, 2)}\n`;
  await Promise.all([
    writeFile(md, text),
    writeFile(json, data),
    writeFile(join(dir, 'chaos-latest.md'), text),
    writeFile(join(dir, 'chaos-latest.json'), data),
  ]);
  return { md, json };
}
