/**
 * Trains the safety context model on the tuning sets and writes agent/safety/context-model.json.
 *
 *   npm run train:safety-context              # cross-validate, choose the policy, write weights
 *   npm run train:safety-context -- --check   # exit 1 unless the shipped file is what it writes
 *
 * Tuning sets only: every eval/safety/*.tsv except heldout*.tsv. The policy thresholds are chosen
 * on leave-one-file-out scores (each file scored by a model that never saw it), then the model is
 * trained on every tuning file. Prints aggregate figures only, never a line.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type ContextPolicy } from '../agent/safety/context-model.ts';
import { compileSafetyRules } from '../agent/safety/matcher.ts';
import {
  crossValidate,
  figures,
  fit,
  fitDefaults,
  isTuningFile,
  modelFile,
  traceLines,
  type FitOptions,
  type PolicyFigures,
  type ScoredLine,
  type TracedLine,
} from '../eval/safety/context-training.ts';
import { readEvalFile } from '../eval/safety/format.ts';
import { unionOfRules } from '../eval/safety/text.ts';
import { formatIssue, listProfileFiles, loadProfileFile } from '../prompts/loader.ts';
import type { SafetyRule } from '../prompts/schema.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = (line: string) => process.stdout.write(`${line}\n`);
const args = parseArgs({ options: { check: { type: 'boolean', default: false } } }).values;

const ruleLists: SafetyRule[][] = [];
for (const path of await listProfileFiles(join(root, 'prompts'))) {
  const result = await loadProfileFile(path, { displayPath: relative(root, path) });
  if (!result.ok) {
    process.stderr.write(`train: ${result.issues.map(formatIssue).join('\n  ')}\n`);
    process.exit(1);
  }
  ruleLists.push([...result.profile.safety]);
}
const compiled = compileSafetyRules(unionOfRules(ruleLists));

const evalDir = join(root, 'eval', 'safety');
const files = (await readdir(evalDir)).filter(isTuningFile).sort();
const lines: TracedLine[] = [];
for (const name of files) {
  lines.push(...traceLines(compiled, name, await readEvalFile(join(evalDir, name))));
}

const pct2 = (x: number) => `${(x * 100).toFixed(2)} %`;
const row = (name: string, f: PolicyFigures) => {
  const c = f.counts;
  out(`  ${name}`);
  out(
    `      recall ${pct2(f.recall)} (${c.redHit}/${f.redFlags})  FA ${pct2(f.falseAlarmRate)} (${c.innHit}/${f.innocent})` +
      `  escalate-only ${pct2(f.escalateRecall)} (${c.redEsc}) / ${pct2(f.escalateFalseAlarmRate)} (${c.innEsc})` +
      `  confirms: ${c.innConf} innocent, ${c.redConf} red`,
  );
};

/**
 * The thresholds, from out-of-fold scores only. Each policy must pay for itself there:
 * - C (rescue): the lowest threshold whose extra false alarms stay within a quarter of a point
 *   and below half the red flags it rescues;
 * - B (drop): the highest threshold that loses no red flag and drops at least one false alarm;
 * - A (demote): the highest threshold that sends at most 1 % of red flags to a question and
 *   more false alarms than red flags.
 */
function choosePolicy(scored: readonly ScoredLine[]): ContextPolicy {
  const base = figures(scored, {});
  const grid = Array.from({ length: 99 }, (_, i) => (i + 1) / 100);
  const policy: ContextPolicy = {};
  for (const t of grid) {
    const f = figures(scored, { rescueAbove: t });
    const rescued = (f.recall - base.recall) * base.redFlags;
    const added = (f.falseAlarmRate - base.falseAlarmRate) * base.innocent;
    if (rescued >= 1 && f.falseAlarmRate - base.falseAlarmRate <= 0.0025 && added < rescued / 2) {
      policy.rescueAbove = t;
      break;
    }
  }
  for (const t of [...grid].reverse().filter((x) => x <= 0.5)) {
    const f = figures(scored, { dropBelow: t });
    if (f.recall >= base.recall && f.falseAlarmRate < base.falseAlarmRate) {
      policy.dropBelow = t;
      break;
    }
  }
  for (const t of [...grid].reverse()) {
    const f = figures(scored, { demoteBelow: t });
    const demotedRed = f.redConfirmRate * base.redFlags;
    const demotedFA = f.confirmRate * base.innocent;
    if (f.redConfirmRate <= 0.01 && demotedFA > demotedRed) {
      policy.demoteBelow = t;
      break;
    }
  }
  return policy;
}

out(
  `tuning files: ${files.length}, lines: ${lines.length}, candidates: ${lines.reduce((n, l) => n + l.trace.candidates.length, 0)}`,
);
const name = (p: ContextPolicy) =>
  Object.entries(p)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || '(none)';
// The options not shipped, each with its own policy chosen the same way, for comparison.
const variants: [string, Partial<FitOptions>][] = [
  ['with the context decision as a feature', { wordsOnly: false }],
  ['words only, l2 1e-4', { l2: 1e-4 }],
  ['words only, l2 1e-2', { l2: 1e-2 }],
];
for (const [label, options] of variants) {
  const s = crossValidate(lines, options);
  const p = choosePolicy(s);
  out(`leave-one-file-out, ${label}:`);
  row('deterministic', figures(s, {}));
  row(`chosen: ${name(p)}`, figures(s, p));
}
const scored = crossValidate(lines);
const chosen = choosePolicy(scored);
out(`leave-one-file-out, shipped options ${JSON.stringify(fitDefaults)}:`);
row('deterministic', figures(scored, {}));
for (const t of [0.5, 0.7, 0.9, 0.95, 0.98])
  row(`C rescue above ${t}`, figures(scored, { rescueAbove: t }));
for (const t of [0.05, 0.1, 0.13, 0.2]) row(`B drop below ${t}`, figures(scored, { dropBelow: t }));
for (const t of [0.1, 0.2, 0.24, 0.3, 0.5])
  row(`A demote below ${t}`, figures(scored, { demoteBelow: t }));
for (const [k, v] of Object.entries(chosen))
  row(`chosen alone: ${k} ${v}`, figures(scored, { [k]: v }));
row(`chosen: ${name(chosen)}`, figures(scored, chosen));

const model = fit(lines, {}, chosen);
const file = `${JSON.stringify(modelFile(model, files, fitDefaults), null, 2)}\n`;
const target = join(root, 'agent', 'safety', 'context-model.json');
if (args.check) {
  const shipped = await readFile(target, 'utf8').catch(() => '');
  if (shipped !== file) {
    process.stderr.write('train: agent/safety/context-model.json is not what the trainer writes\n');
    process.exit(1);
  }
  out('agent/safety/context-model.json is up to date');
} else {
  await writeFile(target, file);
  out(`wrote ${relative(process.cwd(), target)} (${model.weights.size} weights)`);
}
out(
  JSON.stringify({ policy: chosen, cv: figures(scored, chosen), cvBaseline: figures(scored, {}) }),
);
