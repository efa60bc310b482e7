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
 */
import MiniSearch from 'minisearch';
import type { Passage } from './schema.ts';
import { searchTerm, searchTerms, words } from './text.ts';

export interface Hit {
  passageId: string;
  text: string;
  heading?: string;
  /** 0-1, see above. */
  score: number;
  /** MiniSearch's BM25+ score, which ranks the hits. */
  bm25: number;
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
  readonly size: number;

  constructor(passages: readonly Passage[]) {
    this.search = new MiniSearch<Stored>({
      fields: ['text', 'heading'],
      storeFields: ['text', 'heading'],
      tokenize: (text) => words(text),
      processTerm: (term) => searchTerm(term) ?? null,
      searchOptions: {
        boost: { heading: 0.5 },
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
      for (const t of searchTerms(`${p.heading ?? ''} ${p.text}`)) {
        this.df.set(t, (this.df.get(t) ?? 0) + 1);
      }
    }
    this.size = passages.length;
  }

  private idf(term: string): number {
    const n = this.df.get(term) ?? 0;
    return Math.log(1 + (this.size - n + 0.5) / (n + 0.5));
  }

  /** The best passages for a question, best first; none when it has no informative words. */
  query(question: string, opts: SearchOptions = {}): Hit[] {
    const terms = searchTerms(question);
    if (terms.length === 0 || this.size === 0) return [];
    const total = terms.reduce((sum, t) => sum + this.idf(t), 0);
    const results = this.search.search(terms.join(' '));
    return results.slice(0, opts.limit ?? 3).map((r) => {
      const matched = new Set(r.queryTerms);
      const held = terms.filter((t) => matched.has(t)).reduce((sum, t) => sum + this.idf(t), 0);
      const heading = r['heading'] as string | undefined;
      return {
        passageId: String(r.id),
        text: r['text'] as string,
        ...(heading ? { heading } : {}),
        score: total > 0 ? Math.min(1, held / total) : 0,
        bm25: r.score,
      };
    });
  }
}
