import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileSafetyRules } from '../../agent/safety/matcher.ts';
import { listProfileFiles, loadProfileFile } from '../../prompts/loader.ts';
import type { SafetyRule } from '../../prompts/schema.ts';
import {
  examplesOf,
  figures,
  fit,
  fitDefaults,
  isTuningFile,
  modelFile,
  outcomeOf,
  traceLines,
  type ScoredLine,
  type TracedLine,
} from './context-training.ts';
import { readEvalFile } from './format.ts';
import { unionOfRules } from './text.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const toy = compileSafetyRules([
  { id: 'chest-pain', phrases: ['chest pain'] },
  { id: 'fever', phrases: ['fever'] },
]);

describe('traceLines', () => {
  it('refuses a heldout set before reading a line of it', () => {
    expect(isTuningFile('eval/safety/heldout-7.tsv')).toBe(false);
    expect(isTuningFile('eval/safety/train-a.tsv')).toBe(true);
    expect(() => traceLines(toy, 'heldout-7.tsv', [])).toThrow(/measuring only/);
  });
});

describe('examplesOf', () => {
  it('counts a red line’s other-rule candidate as innocent when its own rule was heard too', () => {
    const lines = traceLines(toy, 'train-x.tsv', [
      { label: 'chest-pain', text: 'no fever but real chest pain', line: 1 },
      { label: 'none', text: 'no chest pain', line: 2 },
    ]);
    const ex = examplesOf(lines);
    expect(ex.map((e) => [e.features[0], e.y, e.weight])).toEqual([
      ['rule:chest-pain', 1, 0.5],
      ['rule:fever', 0, 0.5],
      ['rule:chest-pain', 0, 1],
    ]);
  });
});

describe('figures', () => {
  const line = (
    red: boolean,
    fired: boolean,
    pFired?: number,
    pSuppressed?: number,
  ): ScoredLine => ({
    file: 'f',
    red,
    fired,
    pFired,
    pSuppressed,
  });

  it('counts a confirm as a hit for recall and false alarms, and reports escalations beside it', () => {
    const scored = [
      line(true, true, 0.9),
      line(true, false, undefined, 0.95),
      line(false, true, 0.2),
      line(false, false),
    ];
    const policy = { rescueAbove: 0.9, demoteBelow: 0.3 };
    expect(scored.map((s) => outcomeOf(s, policy))).toEqual([
      'escalate',
      'confirm',
      'confirm',
      'pass',
    ]);
    expect(figures(scored, policy)).toMatchObject({
      recall: 1,
      falseAlarmRate: 0.5,
      escalateRecall: 0.5,
      escalateFalseAlarmRate: 0,
      confirmRate: 0.5,
      redConfirmRate: 0.5,
    });
  });
});

describe('the shipped weights', () => {
  it('are exactly what the trainer makes from the tuning sets', async () => {
    const lists: SafetyRule[][] = [];
    for (const path of await listProfileFiles(join(root, 'prompts'))) {
      const r = await loadProfileFile(path);
      if (r.ok) lists.push([...r.profile.safety]);
    }
    const compiled = compileSafetyRules(unionOfRules(lists));
    const dir = join(root, 'eval', 'safety');
    const files = (await readdir(dir)).filter(isTuningFile).sort();
    const lines: TracedLine[] = [];
    for (const f of files) lines.push(...traceLines(compiled, f, await readEvalFile(join(dir, f))));
    const shipped = JSON.parse(
      await readFile(join(root, 'agent', 'safety', 'context-model.json'), 'utf8'),
    ) as ReturnType<typeof modelFile>;
    const made = modelFile(fit(lines, {}, shipped.policy), files, fitDefaults);
    expect(made.trainedOn).toEqual(shipped.trainedOn);
    expect(made).toEqual(shipped);
  }, 60_000);
});
