/**
 * Measures the safety rules on evaluation files (`<rule id or none><TAB><utterance>`).
 *
 *   npm run eval:safety                               # every eval/safety/*.tsv, each reported
 *   npm run eval:safety -- --file lines.tsv           # just that file (repeatable)
 *   npm run eval:safety -- --profile intake           # only that profile's rules
 *   npm run eval:safety -- --speech --voices a,b      # through the embedded speech path
 *   npm run eval:safety -- --deterministic            # without the context model
 *   npm run eval:safety -- --quiet                    # figures only, no line of any file
 *
 * Text level: the union of all profiles' rules (first definition of an id wins), read through
 * the context model as the agent reads them (agent/safety/context-model.ts), unless
 * --deterministic. A confirm (one question asked first, the care team told) counts as caught for
 * recall and as a false alarm for the false-alarm rate; the escalate-only figures are beside
 * them. The last line is always a one-line JSON summary, {"recall":…,"falseAlarmRate":…,
 * "lines":…,"escalateRecall":…,"escalateFalseAlarmRate":…,"confirmRate":…}. Exit 0 whatever
 * the figures (this is a measuring tool), 1 for bad input, 2 when the speech run is unavailable.
 */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadContextModel } from '../agent/safety/context-model.ts';
import { EvalFormatError, readEvalFile } from '../eval/safety/format.ts';
import {
  EvalLabelError,
  combine,
  createTextEvaluator,
  formatReport,
  unionOfRules,
  type TextEvalReport,
} from '../eval/safety/text.ts';
import { formatIssue, listProfileFiles, loadProfileFile } from '../prompts/loader.ts';
import type { SafetyRule } from '../prompts/schema.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = (line: string) => process.stdout.write(`${line}\n`);
const fail = (line: string, code = 1): never => {
  process.stderr.write(`eval:safety: ${line}\n`);
  process.exit(code);
};

let args: {
  file?: string[];
  profile?: string;
  speech?: boolean;
  voices?: string;
  deterministic?: boolean;
  quiet?: boolean;
  help?: boolean;
};
try {
  args = parseArgs({
    options: {
      file: { type: 'string', multiple: true },
      profile: { type: 'string' },
      speech: { type: 'boolean', default: false },
      voices: { type: 'string' },
      deterministic: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
  throw err;
}

if (args.help) {
  out(
    'usage: npm run eval:safety -- [--file LINES.tsv]... [--profile ID] [--deterministic] [--quiet] [--speech [--voices a,b]]',
  );
  process.exit(0);
}

const evalDir = join(root, 'eval', 'safety');
const files =
  args.file && args.file.length
    ? args.file
    : (await readdir(evalDir))
        .filter((f) => f.endsWith('.tsv'))
        .sort()
        .map((f) => relative(process.cwd(), join(evalDir, f)));
if (!files.length) fail(`no evaluation files (*.tsv) in ${relative(process.cwd(), evalDir)}`);

if (args.speech) {
  const voices = args.voices
    ?.split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  let speech: { runSpeechEval: (o: unknown) => Promise<unknown> };
  try {
    // Written by the speech engineer; absent from checkouts that only have the text level. A
    // variable specifier keeps the type checker from requiring the module to exist.
    const speechModule = '../eval/safety/speech.ts';
    speech = (await import(speechModule)) as typeof speech;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND') {
      fail('the speech-level run (eval/safety/speech.ts) is not part of this checkout', 2);
    }
    throw err;
  }
  await speech.runSpeechEval({ files, voices, profileId: args.profile });
  process.exit(0);
}

const profileFiles = await listProfileFiles(join(root, 'prompts'));
const ruleLists: SafetyRule[][] = [];
for (const path of profileFiles) {
  const result = await loadProfileFile(path, { displayPath: relative(process.cwd(), path) });
  if (!result.ok)
    fail(`a profile does not validate:\n  ${result.issues.map(formatIssue).join('\n  ')}`);
  else if (!args.profile || result.profile.id === args.profile)
    ruleLists.push([...result.profile.safety]);
}
if (!ruleLists.length) fail(`no profile with id '${args.profile ?? ''}' in prompts/`);

const evaluator = createTextEvaluator(unionOfRules(ruleLists), {
  contextModel: args.deterministic ? undefined : loadContextModel(),
});
const reports: TextEvalReport[] = [];
for (const file of files) {
  try {
    const report = evaluator.evaluate(file, await readEvalFile(file));
    reports.push(report);
    if (!args.quiet) {
      for (const line of formatReport(report)) out(line);
      out('');
    }
  } catch (err) {
    if (err instanceof EvalFormatError || err instanceof EvalLabelError) fail(err.message);
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') fail(`${file}: file not found`);
    throw err;
  }
}
if (reports.length > 1 || args.quiet) {
  for (const r of reports) out(`${r.file}: ${JSON.stringify(r.summary)}`);
}
out(JSON.stringify(combine(reports)));
