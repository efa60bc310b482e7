/**
 * Measures knowledge retrieval on eval/knowledge/questions.tsv over knowledge/samples/*.md:
 * tunes the threshold on the dev split, reports the test split at it, and compares with the
 * configured default (KNOWLEDGE_MIN_SCORE).
 *
 *   npm run eval:knowledge
 *   npm run eval:knowledge -- --threshold 0.6     # report both splits at a given threshold
 *   npm run eval:knowledge -- --verbose           # every question with its top passage and score
 *
 * The last line is a one-line JSON summary. Exit 0 whatever the figures, 1 for bad input.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  EvalFileError,
  figuresAt,
  indexSamples,
  parseQuestions,
  scoreQuestions,
  tuneThreshold,
  type Figures,
} from '../eval/knowledge/evaluate.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = (line: string) => process.stdout.write(`${line}\n`);

const { values: args } = parseArgs({
  options: {
    threshold: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const line = (name: string, f: Figures) =>
  `${name.padEnd(5)} threshold ${f.threshold.toFixed(2)}  questions ${f.questions} (${f.answerable} answerable, ${f.unanswerable} not)  precision ${pct(f.precision)}  recall ${pct(f.recall)}  wrongly answered ${f.wronglyAnswered}/${f.unanswerable}  wrong passage ${f.wrongPassage}`;

async function main(): Promise<number> {
  const samplesDir = join(root, 'knowledge', 'samples');
  const files = (await readdir(samplesDir)).filter((f) => f.endsWith('.md')).sort();
  const docs = await Promise.all(
    files.map(async (f) => ({
      docId: f.replace(/\.md$/, ''),
      markdown: await readFile(join(samplesDir, f), 'utf8'),
    })),
  );
  let questions;
  try {
    questions = parseQuestions(
      await readFile(join(root, 'eval', 'knowledge', 'questions.tsv'), 'utf8'),
    );
  } catch (err) {
    if (err instanceof EvalFileError) {
      process.stderr.write(`eval:knowledge: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const index = indexSamples(docs);
  const dev = scoreQuestions(
    index,
    questions.filter((q) => q.split === 'dev'),
  );
  const test = scoreQuestions(
    index,
    questions.filter((q) => q.split === 'test'),
  );
  if (args.verbose) {
    for (const s of [...dev, ...test]) {
      out(
        `${s.q.split}\t${s.top ? s.top.score.toFixed(2) : '-'}\t${s.top?.label ?? '-'}\t${s.q.relevant.join(',') || 'none'}\t${s.q.question}`,
      );
    }
  }
  out(`documents: ${files.join(', ')} (${index.size} passages)`);
  const given = args.threshold !== undefined ? Number(args.threshold) : undefined;
  if (given !== undefined && !(given >= 0 && given <= 1)) {
    process.stderr.write('eval:knowledge: --threshold must be between 0 and 1\n');
    return 1;
  }
  const tuned = given === undefined ? tuneThreshold(dev) : figuresAt(dev, given);
  const report = figuresAt(test, tuned.threshold);
  out(line('dev', tuned));
  out(line('test', report));
  out(
    JSON.stringify({
      threshold: tuned.threshold,
      test: {
        precision: Number(report.precision.toFixed(3)),
        recall: Number(report.recall.toFixed(3)),
        wronglyAnswered: report.wronglyAnswered,
        unanswerable: report.unanswerable,
        wrongPassage: report.wrongPassage,
      },
    }),
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`eval:knowledge: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
