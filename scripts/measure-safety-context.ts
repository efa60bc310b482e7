/**
 * Measures the shipped safety context model (agent/safety/context-model.json) on evaluation
 * files, heldout sets included, printing aggregate figures only: never a line, a label or a
 * word of any file. For the blind sets, where no line may be looked at.
 *
 *   npx tsx scripts/measure-safety-context.ts eval/safety/heldout-7.tsv eval/safety/heldout-8.tsv
 */
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadContextModel, type ContextPolicy } from '../agent/safety/context-model.ts';
import { compileSafetyRules } from '../agent/safety/matcher.ts';
import {
  figures,
  scoreLines,
  traceLine,
  type ScoredLine,
  type TracedLine,
} from '../eval/safety/context-training.ts';
import { readEvalFile } from '../eval/safety/format.ts';
import { unionOfRules } from '../eval/safety/text.ts';
import { listProfileFiles, loadProfileFile } from '../prompts/loader.ts';
import type { SafetyRule } from '../prompts/schema.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = (line: string) => process.stdout.write(`${line}\n`);
const lists: SafetyRule[][] = [];
for (const path of await listProfileFiles(join(root, 'prompts'))) {
  const r = await loadProfileFile(path);
  if (!r.ok) throw new Error(`${path} does not validate`);
  lists.push([...r.profile.safety]);
}
const compiled = compileSafetyRules(unionOfRules(lists));
const model = loadContextModel();
const p = model.policy;
const policies: [string, ContextPolicy][] = [
  ['deterministic', {}],
  [`C rescue above ${p.rescueAbove}`, { rescueAbove: p.rescueAbove }],
  [`B drop below ${p.dropBelow}`, { dropBelow: p.dropBelow }],
  [`A demote below ${p.demoteBelow}`, { demoteBelow: p.demoteBelow }],
  ['B + C', { rescueAbove: p.rescueAbove, dropBelow: p.dropBelow }],
  ['shipped (A + B + C)', p],
];
const all: ScoredLine[] = [];
const report = (name: string, scored: readonly ScoredLine[]) => {
  out(`== ${name}`);
  for (const [label, policy] of policies)
    out(`  ${label.padEnd(24)} ${JSON.stringify(figures(scored, policy))}`);
};
for (const file of process.argv.slice(2)) {
  const lines: TracedLine[] = (await readEvalFile(file)).map((l) => traceLine(compiled, file, l));
  const scored = scoreLines(model, lines);
  all.push(...scored);
  report(basename(file), scored);
}
report('all files', all);
