/**
 * One call's view of the care team's knowledge: a lookup over the approved passages of the
 * session's profile, re-read from the store on every lookup (questions are rare, and a document
 * retired mid-call must not be read out a minute later), and re-indexed only when the set of
 * approved versions changed. A lookup that fails or takes longer than `timeoutMs` is no match:
 * the question goes to the care team, never to an improvised answer.
 */
import { withTimeout } from '../infra/time.ts';
import type { Logger } from '../infra/logger.ts';
import type { RefusalRule } from './answerability.ts';
import { KnowledgeIndex, answering, refusedBy, type Hit } from './retrieval.ts';
import type { ApprovedSource, KnowledgeStore } from './store.ts';

export type Lookup =
  | { kind: 'answer'; hits: Hit[] }
  | {
      kind: 'defer';
      reason: 'no_approved_answer' | 'knowledge_unavailable';
      best?: Hit;
      /** Why the best passage was not used (no_approved_answer with a passage found). */
      refusedBy?: RefusalRule[];
    };

export interface SessionKnowledgeOptions {
  store: Pick<KnowledgeStore, 'approvedSources'>;
  profileId: string;
  /**
   * Normalised score (0-1) a passage needs to be used; it must also pass every answerability
   * check (answerability.ts).
   */
  minScore: number;
  timeoutMs: number;
  logger?: Logger;
  /** Most passages returned for an answer. @defaultValue 3 */
  limit?: number;
}

export class SessionKnowledge {
  private readonly opts: SessionKnowledgeOptions;
  private index: KnowledgeIndex | undefined;
  private fingerprint = '';

  constructor(opts: SessionKnowledgeOptions) {
    if (!(opts.minScore >= 0 && opts.minScore <= 1)) {
      throw new RangeError('SessionKnowledge: minScore must be between 0 and 1');
    }
    if (!(opts.timeoutMs > 0)) throw new RangeError('SessionKnowledge: timeoutMs must be > 0');
    this.opts = opts;
  }

  get minScore(): number {
    return this.opts.minScore;
  }

  private async current(): Promise<KnowledgeIndex> {
    const sources: ApprovedSource[] = await this.opts.store.approvedSources(this.opts.profileId);
    const fingerprint = sources.map((s) => `${s.docId}@${s.version}`).join(',');
    if (!this.index || fingerprint !== this.fingerprint) {
      this.index = new KnowledgeIndex(sources.flatMap((s) => s.passages));
      this.fingerprint = fingerprint;
    }
    return this.index;
  }

  /** The passages that answer `question` well enough, or why the care team must. */
  async lookup(question: string): Promise<Lookup> {
    const started = performance.now();
    let hits: Hit[];
    try {
      const index = await withTimeout(this.current(), this.opts.timeoutMs, 'knowledge lookup');
      hits = index.query(question, { limit: this.opts.limit ?? 3 });
    } catch (err) {
      // Never the question: only that the lookup failed and how long it took.
      this.opts.logger?.warn(
        { err, durationMs: Math.round(performance.now() - started) },
        'knowledge lookup failed; deferring to the care team',
      );
      return { kind: 'defer', reason: 'knowledge_unavailable' };
    }
    // The same choice for the LLM's tool and the dialogue engine: no passage at all rather than
    // a weaker one when the best is refused.
    const strong = answering(hits, this.opts.minScore);
    const best = hits[0];
    const refused = best && strong.length === 0 ? refusedBy(best, this.opts.minScore) : undefined;
    this.opts.logger?.debug(
      {
        passages: this.index?.size ?? 0,
        bestScore: best?.score,
        matched: strong.length,
        // Rule names only: the refused terms are the patient's words.
        ...(refused ? { refusedBy: refused } : {}),
        durationMs: Math.round(performance.now() - started),
      },
      'knowledge lookup',
    );
    if (strong.length === 0) {
      return {
        kind: 'defer',
        reason: 'no_approved_answer',
        ...(best ? { best, refusedBy: refused ?? [] } : {}),
      };
    }
    // The index's order (BM25, the heading counting), which eval:knowledge measures: re-sorting
    // by the normalised score put passages sharing "take" or "come" first and read "Who takes my
    // stitches out?" the showering passage (3 of the 4 dev and test questions it changed).
    return { kind: 'answer', hits: strong };
  }
}
