/**
 * Retrieval measured on patient questions (questions.tsv): for a threshold, which questions the
 * agent would answer from a passage, and whether that passage answers them.
 *
 * - precision: of the questions answered, the share answered with a right passage;
 * - recall: of the answerable questions, the share answered with a right passage;
 * - wrongly answered: unanswerable questions answered anyway (the goal is none).
 */
import { chunkDocument } from '../../knowledge/chunk.ts';
import { KnowledgeIndex, answers, type Hit } from '../../knowledge/retrieval.ts';
import type { Passage } from '../../knowledge/schema.ts';

/**
 * dev, test and dev-2 (on-topic unanswerable questions, which dev and test barely hold) tune the
 * threshold and the answerability check; heldout and heldout-2 are only reported at them.
 */
export const SPLITS = ['dev', 'test', 'dev-2', 'heldout', 'heldout-2'] as const;
export type Split = (typeof SPLITS)[number];
export const TUNING: readonly Split[] = ['dev', 'test', 'dev-2'];

export interface EvalQuestion {
  line: number;
  split: Split;
  question: string;
  /** `docId#n` of passages that answer it; empty: unanswerable. */
  relevant: string[];
}

export class EvalFileError extends Error {
  override readonly name = 'EvalFileError';
}

export function parseQuestions(text: string): EvalQuestion[] {
  const out: EvalQuestion[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!line || line.startsWith('#') || line.startsWith('split\t')) return;
    const [split, question, relevant, ...rest] = line.split('\t');
    if (rest.length || !question || !relevant || !SPLITS.includes(split as Split)) {
      throw new EvalFileError(
        `line ${i + 1}: expected <${SPLITS.join('|')}>\\t<question>\\t<ids|none>`,
      );
    }
    out.push({
      line: i + 1,
      split: split as Split,
      question,
      relevant: relevant === 'none' ? [] : relevant.split(',').map((s) => s.trim()),
    });
  });
  return out;
}

/** The sample documents as version 1, each passage also known by its short `docId#n` label. */
export function indexSamples(docs: readonly { docId: string; markdown: string }[]): KnowledgeIndex {
  const passages: Passage[] = docs.flatMap((d) =>
    chunkDocument(d.markdown, { docId: d.docId, version: 1, format: 'markdown' }),
  );
  return new KnowledgeIndex(passages);
}

const label = (passageId: string) => passageId.replace(/@v\d+#/, '#');

export interface Scored {
  q: EvalQuestion;
  /** The top passage and its short label, if any. */
  top?: Hit & { label: string };
}

export function scoreQuestions(index: KnowledgeIndex, qs: readonly EvalQuestion[]): Scored[] {
  return qs.map((q) => {
    const hit = index.query(q.question, { limit: 1 })[0];
    return { q, ...(hit ? { top: { ...hit, label: label(hit.passageId) } } : {}) };
  });
}

export interface Figures {
  threshold: number;
  questions: number;
  answerable: number;
  unanswerable: number;
  answered: number;
  answeredRight: number;
  precision: number;
  recall: number;
  wronglyAnswered: number;
  /** Answerable questions answered with a passage that does not answer them. */
  wrongPassage: number;
}

export function figuresAt(scored: readonly Scored[], threshold: number): Figures {
  let answered = 0;
  let right = 0;
  let wronglyAnswered = 0;
  let wrongPassage = 0;
  for (const { q, top } of scored) {
    if (!top || !answers(top, threshold)) continue;
    answered += 1;
    if (q.relevant.length === 0) wronglyAnswered += 1;
    else if (q.relevant.includes(top.label)) right += 1;
    else wrongPassage += 1;
  }
  const answerable = scored.filter((s) => s.q.relevant.length > 0).length;
  return {
    threshold,
    questions: scored.length,
    answerable,
    unanswerable: scored.length - answerable,
    answered,
    answeredRight: right,
    precision: answered ? right / answered : 1,
    recall: answerable ? right / answerable : 1,
    wronglyAnswered,
    wrongPassage,
  };
}

/**
 * The threshold for the tuning questions (dev and test): no unanswerable question answered and no wrong passage
 * read, then the best recall; of equal thresholds the middle one, away from both edges.
 */
export function tuneThreshold(scored: readonly Scored[], step = 0.01): Figures {
  const grid: Figures[] = [];
  for (let t = step; t <= 1 + 1e-9; t += step) grid.push(figuresAt(scored, Number(t.toFixed(4))));
  const safe = grid.filter((f) => f.wronglyAnswered === 0 && f.wrongPassage === 0);
  const pool = safe.length ? safe : grid.filter((f) => f.wronglyAnswered === 0);
  const candidates = pool.length ? pool : grid;
  const best = Math.max(...candidates.map((f) => f.recall));
  const top = candidates.filter((f) => f.recall === best);
  return top[Math.floor((top.length - 1) / 2)] as Figures;
}
