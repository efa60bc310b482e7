/**
 * Full-text retrieval over approved passages: BM25+ ranking by MiniSearch, and a normalised
 * score beside it so one threshold means the same thing for every question and document set.
 *
 * BM25 scores grow with the question's length and the collection's statistics, so a fixed BM25
 * cut-off would mean something different for "shower?" and for a long question. The normalised
 * score is the share of the question's informative terms the passage holds, each weighted by its
 * inverse document frequency, with a term no passage contains weighted as the rarest. 0.6 means
 * the passage holds the words carrying 60% of the question's information; a question about
 * something the documents never mention ("ibuprofen" in a knee leaflet) scores low however
 * many common words it shares.
 *
 * Coverage alone is not enough: "Can I take my blood pressure pills in the morning?" shares
 * "take", "pills" and "morning" with the apixaban leaflet and scores well. So a question's
 * topic words (the medicines, body parts, conditions and activities it names, from the lay
 * vocabulary in vocabulary.ts) must each be held by a passage for that passage to answer it,
 * whatever its score: a topic the documents never mention ("blood pressure", "sleeping tablets",
 * "warfarin", "hair") means the answer is not in the documents. Passages holding every topic
 * word rank first. The vocabulary reaches MiniSearch through its tokenizer and term processing,
 * so passages and questions are turned into the same terms, and MiniSearch keeps the ranking.
 *
 * Topic words are one of the answerability checks (answerability.ts) a passage must pass,
 * whatever its score: qualifiers the question narrows itself with ("my other knee", "a 5
 * milligram tablet", "my child") must be in the passage too, and a word only one other passage
 * holds must not be missing. Each refusal says which rule refused the passage.
 */
import MiniSearch from 'minisearch';
import {
  qualifiersOf,
  refusalsOf,
  specificDf,
  type Refusal,
  type RefusalRule,
} from './answerability.ts';
import type { Passage } from './schema.ts';
import { indexTerms, passageTerms, searchTerms, tokens, topicOf } from './text.ts';

export interface Hit {
  passageId: string;
  text: string;
  heading?: string;
  /** 0-1, see above. */
  score: number;
  /** MiniSearch's BM25+ score, which ranks the hits. */
  bm25: number;
  /** The question's topic words this passage does not hold; any one means it cannot answer. */
  topicsMissing: string[];
  /**
   * Why this passage cannot answer the question whatever the threshold (answerability.ts);
   * empty: it may, if its score is high enough. The terms are the patient's: never log them.
   */
  refusals: Refusal[];
}

/** Whether a hit may be used to answer: strong enough and refused by no answerability check. */
export function answers(hit: Hit, minScore: number): boolean {
  return hit.score >= minScore && hit.refusals.length === 0;
}

/** The rules that refuse a hit at `minScore`, for the record of a deferral; empty if it answers. */
export function refusedBy(hit: Hit, minScore: number): RefusalRule[] {
  return [
    ...(hit.score < minScore ? ['low_score' as const] : []),
    ...hit.refusals.map((r) => r.rule),
  ];
}

/**
 * The passages a lookup may use: none unless the best-ranked one answers, then those of the rest
 * that answer too. A weaker passage is never read because the best was refused: the best one
 * failing a check says the question is not what the documents answer.
 */
export function answering(hits: readonly Hit[], minScore: number): Hit[] {
  const [best] = hits;
  return best && answers(best, minScore) ? hits.filter((h) => answers(h, minScore)) : [];
}

export interface SearchOptions {
  /** @defaultValue 3 */
  limit?: number;
}

interface Stored {
  id: string;
  text: string;
  heading?: string;
}

export class KnowledgeIndex {
  private readonly search: MiniSearch<Stored>;
  /** Passages holding each term (for the inverse document frequency). */
  private readonly df = new Map<string, number>();
  /** Each passage's qualifiers (answerability.ts), by passage id. */
  private readonly qualifiers = new Map<string, ReadonlySet<string>>();
  readonly size: number;

  constructor(passages: readonly Passage[]) {
    this.search = new MiniSearch<Stored>({
      fields: ['text', 'heading'],
      storeFields: ['text', 'heading'],
      tokenize: (text) => tokens(text),
      processTerm: (token) => passageTerms(token),
      searchOptions: {
        boost: { heading: 1 },
        combineWith: 'OR',
        prefix: false,
        fuzzy: false,
        // Questions are turned into terms once, by query() below.
        tokenize: (text) => text.split(' '),
        processTerm: (term) => term,
      },
    });
    const docs = passages.map((p) => ({
      id: p.id,
      text: p.text,
      ...(p.heading ? { heading: p.heading } : {}),
    }));
    this.search.addAll(docs);
    for (const p of passages) {
      for (const t of indexTerms(`${p.heading ?? ''} ${p.text}`)) {
        this.df.set(t, (this.df.get(t) ?? 0) + 1);
      }
      this.qualifiers.set(p.id, new Set(qualifiersOf(`${p.heading ?? ''} ${p.text}`, 'passage')));
    }
    this.size = passages.length;
  }

  private idf(term: string): number {
    const n = this.df.get(term) ?? 0;
    return Math.log(1 + (this.size - n + 0.5) / (n + 0.5));
  }

  /**
   * The best passages for a question, best first (those holding every topic word, then by
   * BM25), each with the checks it fails; none when it has no informative words.
   */
  query(question: string, opts: SearchOptions = {}): Hit[] {
    const terms = searchTerms(question);
    if (terms.length === 0 || this.size === 0) return [];
    const topics = terms.filter((t) => topicOf(t) !== undefined);
    const qualifiers = qualifiersOf(question, 'question');
    const specificMax = specificDf(this.size);
    const df = (t: string) => this.df.get(t) ?? 0;
    const total = terms.reduce((sum, t) => sum + this.idf(t), 0);
    const hits = this.search.search(terms.join(' ')).map((r): Hit => {
      const matched = new Set(r.queryTerms);
      const held = terms.filter((t) => matched.has(t)).reduce((sum, t) => sum + this.idf(t), 0);
      const heading = r['heading'] as string | undefined;
      const id = String(r.id);
      return {
        passageId: id,
        text: r['text'] as string,
        ...(heading ? { heading } : {}),
        score: total > 0 ? Math.min(1, held / total) : 0,
        bm25: r.score,
        topicsMissing: topics.filter((t) => !matched.has(t)),
        refusals: refusalsOf({
          terms,
          held: matched,
          topics,
          qualifiers,
          passageQualifiers: this.qualifiers.get(id) ?? new Set(),
          df,
          specificMax,
        }),
      };
    });
    // Stable: BM25 order is kept within each group.
    hits.sort((a, b) => Number(a.topicsMissing.length > 0) - Number(b.topicsMissing.length > 0));
    return hits.slice(0, opts.limit ?? 3);
  }
}
