/**
 * Confirm before acting on a red flag the recogniser was unsure of. Pure: no clock, no I/O.
 *
 * An embedded recogniser listening through a closed grammar maps any speech to its nearest
 * phrase ("I take metformin twice a day" was heard as "weak on one side"), and a low-confidence
 * cloud transcript may be wrong too. Ending a call on such a hit harms the patient who is fine;
 * ignoring it harms the one who is not. So an unsure hit:
 * 1. tells the care team at once (`suspected`), and asks ONE short confirming question;
 * 2. the reply decides: yes, any red flag, or nothing usable (including silence) → the rule's
 *    full response (`confirmed`); only a clear no → `denied`, on record for review, and the
 *    protocol goes on where it was.
 * A sure hit (typed text, a confident cloud transcript) acts at once, as before.
 */
import type { SafetyMatch, SafetyRuleSpec } from './matcher.ts';

export type Certainty = 'sure' | 'unsure';

/** What this module reads of a profile's safety rule (prompts/schema.ts `SafetyRule`). */
export interface ConfirmableRule extends SafetyRuleSpec {
  /** The confirming question, in plain words, as the profile writes it. */
  readonly confirm?: string | undefined;
}

export type SafetyDecision<R extends SafetyRuleSpec> =
  /** Speak the rule's response now (and end the call if the rule says so). */
  | { kind: 'act'; match: SafetyMatch<R>; status: 'confirmed' }
  /** Tell the care team it is suspected, and ask `question`. */
  | { kind: 'ask'; match: SafetyMatch<R>; status: 'suspected'; question: string }
  /** The patient said no: record it and go on with the protocol. */
  | { kind: 'deny'; match: SafetyMatch<R>; status: 'denied' };

export type ConfirmEvent<R extends SafetyRuleSpec> =
  | {
      type: 'turn';
      /** The matcher's result on this turn. */
      match: SafetyMatch<R> | null;
      /** How sure the transcript is; only read for a match outside a confirmation. */
      certainty: Certainty;
      /** The turn read as yes or no (`undefined`: neither, or both). */
      answer: boolean | undefined;
    }
  /** The confirming question went unanswered for too long. */
  | { type: 'timeout' };

export interface ConfirmState<R extends SafetyRuleSpec> {
  /** The suspicion waiting for its answer. */
  readonly pending: SafetyMatch<R> | undefined;
}

export const IDLE: ConfirmState<never> = Object.freeze({ pending: undefined });

const LEAD = 'I want to be sure I heard you.';

/**
 * The rule's confirming question: its own `confirm` text, or one made from its id
 * ("chest-pain" → "… Are you having chest pain right now?").
 */
export function confirmQuestion(rule: ConfirmableRule): string {
  if (rule.confirm?.trim()) return rule.confirm.trim();
  const words = rule.id.replace(/[-_]+/g, ' ').trim();
  return `${LEAD} Are you having ${words} right now? Please say yes or no.`;
}

/**
 * One step of the confirmation: the next state and what to do. Outside a confirmation, a turn
 * without a match decides nothing (an ordinary turn); inside one, every turn is the answer.
 */
export function stepConfirmation<R extends ConfirmableRule>(
  state: ConfirmState<R>,
  event: ConfirmEvent<R>,
): { state: ConfirmState<R>; decisions: SafetyDecision<R>[] } {
  const pending = state.pending;
  if (!pending) {
    if (event.type === 'timeout' || !event.match) return { state, decisions: [] };
    const match = event.match;
    if (event.certainty === 'sure') {
      return { state, decisions: [{ kind: 'act', match, status: 'confirmed' }] };
    }
    return {
      state: { pending: match },
      decisions: [
        { kind: 'ask', match, status: 'suspected', question: confirmQuestion(match.rule) },
      ],
    };
  }

  const done: ConfirmState<R> = IDLE;
  const confirm: SafetyDecision<R> = { kind: 'act', match: pending, status: 'confirmed' };
  if (event.type === 'timeout') return { state: done, decisions: [confirm] };
  // Any red flag in the answer confirms, negated or not: the matcher does not read negation, and
  // "no, it's my chest" must not clear the suspicion.
  if (event.match) {
    const other = event.match.rule.id === pending.rule.id ? [] : [event.match];
    return {
      state: done,
      decisions: [
        confirm,
        ...other.map((m): SafetyDecision<R> => ({ kind: 'act', match: m, status: 'confirmed' })),
      ],
    };
  }
  if (event.answer === false) {
    return { state: done, decisions: [{ kind: 'deny', match: pending, status: 'denied' }] };
  }
  return { state: done, decisions: [confirm] };
}

/** One recognised piece of a patient turn, as the embedded recogniser reports it. */
export interface RecognitionNote {
  /** The transcript piece, as the STT emitted it. */
  readonly text: string;
  /** `grammar`: a closed grammar that maps any speech to its nearest phrase. */
  readonly mode: 'grammar' | 'lm';
  /** In [0, 1]. */
  readonly confidence: number;
}

export interface CertaintyThresholds {
  /** A language-model transcript below this is unsure. @defaultValue 0.5 */
  localMinConfidence: number;
  /** A cloud transcript below this is unsure. @defaultValue 0.5 */
  cloudMinConfidence: number;
}

export const certaintyDefaults: Readonly<CertaintyThresholds> = Object.freeze({
  localMinConfidence: 0.5,
  cloudMinConfidence: 0.5,
});

/**
 * How sure a turn's transcript is. With notes from the embedded recogniser: unsure when any piece
 * came through a closed grammar or scored low. Without (a cloud STT, typed text): unsure only
 * when the framework's transcript confidence is low; typed text carries none and is sure.
 */
export function certaintyOf(
  notes: readonly RecognitionNote[],
  transcriptConfidence: number | undefined,
  thresholds: CertaintyThresholds = certaintyDefaults,
): Certainty {
  if (notes.length > 0) {
    const unsure = notes.some(
      (n) => n.mode === 'grammar' || n.confidence < thresholds.localMinConfidence,
    );
    return unsure ? 'unsure' : 'sure';
  }
  if (transcriptConfidence !== undefined && transcriptConfidence < thresholds.cloudMinConfidence) {
    return 'unsure';
  }
  return 'sure';
}

const squash = (s: string): string => s.toLowerCase().replace(/\s+/g, ' ').trim();

/**
 * The side channel from the embedded recogniser to the agent. The framework hands the agent a
 * turn's text and averaged confidence, not the STT's metadata, so the recogniser notes each
 * final transcript here and the agent takes the notes that make up its turn, matched by text.
 * Bounded: notes nobody takes (a turn the framework dropped) are pushed out by newer ones.
 */
export class RecognitionJournal {
  readonly #notes: RecognitionNote[] = [];
  constructor(private readonly maxNotes = 32) {}

  note(n: RecognitionNote): void {
    if (!n.text.trim()) return;
    this.#notes.push(n);
    if (this.#notes.length > this.maxNotes)
      this.#notes.splice(0, this.#notes.length - this.maxNotes);
  }

  /**
   * The newest run of notes whose texts, joined, are `turnText`; they and everything older are
   * removed. Empty when no run matches (the turn did not come from this recogniser).
   */
  take(turnText: string): RecognitionNote[] {
    const want = squash(turnText);
    if (!want) return [];
    for (let end = this.#notes.length; end > 0; end--) {
      for (let start = end - 1; start >= 0; start--) {
        const joined = squash(
          this.#notes
            .slice(start, end)
            .map((n) => n.text)
            .join(' '),
        );
        if (joined === want) {
          const run = this.#notes.slice(start, end);
          this.#notes.splice(0, end);
          return run;
        }
        if (joined.length > want.length) break;
      }
    }
    return [];
  }
}
