/**
 * Recognition grammars built from what the conversation expects next. A small recogniser is only
 * accurate when it listens for a handful of phrases, so each question gets a JSGF grammar of three
 * alternatives: the expected answers, the profile's safety phrases (so "chest pain" is heard
 * during a yes/no question) and its end phrases. Free speech (`open`, `text`, `date`) has no
 * grammar and falls back to the general language model. Pure.
 */
import type { Capture } from '../../../prompts/schema.ts';
import type { Expectation } from '../../protocol/expectation.ts';
import { numberPhrases, numberToWords, spokenRange } from './numbers.ts';

/** The words a recogniser can hear; {@link PronunciationDictionary} is one. */
export interface WordSet {
  has(word: string): boolean;
}

export type GrammarKind = 'yesno' | 'number' | 'choice';
export type AlternativeRole = 'expected' | 'safety' | 'end';

export interface GrammarAlternative {
  readonly role: AlternativeRole;
  /** Dictionary words in order, as the recogniser reports them. */
  readonly words: readonly string[];
  /** The transcript for this alternative. */
  readonly text: string;
  /**
   * What it means: `true`/`false` for yes/no, the number, the choice as the profile writes it, or
   * the safety or end phrase as the profile writes it.
   */
  readonly value: boolean | number | string;
}

export interface Grammar {
  /** Same key, same grammar: the cache key. */
  readonly key: string;
  readonly kind: GrammarKind;
  readonly alternatives: readonly GrammarAlternative[];
  /** Profile phrases left out because a word in them is not in the dictionary. */
  readonly dropped: readonly string[];
}

/** The fixed phrases every grammar of one session also listens for. */
export interface SessionPhrases {
  /** Red-flag phrases from the profile's safety rules. */
  readonly safety: readonly string[];
  /** The profile's end phrases ("goodbye", "stop calling me"). */
  readonly end: readonly string[];
}

/** Prior weight of each alternative group in the grammar, relative to each other. */
export interface GrammarWeights {
  readonly expected: number;
  readonly safety: number;
  readonly end: number;
}

export type RecognitionPlan =
  | { readonly mode: 'grammar'; readonly grammar: Grammar }
  | {
      readonly mode: 'lm';
      /** Why there is no grammar: free speech, or nothing in the expectation could be heard. */
      readonly reason: 'open' | 'text' | 'date' | 'unspeakable';
      readonly dropped: readonly string[];
    };

/** Yes, as patients say it. Variants missing from the dictionary are skipped. */
export const YES_PHRASES: readonly string[] = Object.freeze([
  'yes',
  'yeah',
  'yep',
  'yup',
  'sure',
  'correct',
  "that's right",
  'I do',
  'I did',
  'I have',
  'yes I do',
  'yes I did',
  'yes I have',
  'of course',
]);

/** No, as patients say it. */
export const NO_PHRASES: readonly string[] = Object.freeze([
  'no',
  'nope',
  'nah',
  'not really',
  'not at all',
  "I don't",
  "I didn't",
  "I haven't",
  "no I don't",
  "no I didn't",
  "no I haven't",
  'never',
]);

const APOSTROPHES = /[\u2018\u2019\u02BC\u0060\u00B4\u2032]/g;
const SYMBOLS: readonly (readonly [RegExp, string])[] = [
  [/&/g, ' and '],
  [/%/g, ' percent '],
  [/\+/g, ' plus '],
];

/**
 * A phrase as dictionary words: lower case, punctuation dropped, numbers spelt out ("2 weeks" →
 * "two weeks"; three or more digits are read digit by digit, "911" → "nine one one"), acronyms
 * the dictionary lacks spelt letter by letter ("ICU" → "i c u"), and hyphenated words split
 * when the dictionary lacks the whole. Any other word the dictionary lacks makes the phrase
 * unhearable: it is reported in `unknown`, and the phrase should be left out rather than cut
 * down to a different phrase.
 */
export function toGrammarWords(
  phrase: string,
  dict: WordSet,
): { words: string[]; unknown: string[] } {
  let text = phrase.normalize('NFKD').replace(/\p{M}/gu, '').replace(APOSTROPHES, "'");
  for (const [re, out] of SYMBOLS) text = text.replace(re, out);
  const words: string[] = [];
  const unknown: string[] = [];

  const add = (token: string): void => {
    const t = token.replace(/^['-]+|['-]+$/g, '');
    if (!t) return;
    if (/^\d+$/.test(t)) {
      if (t.length <= 2) words.push(...numberToWords(Number(t)).split(' '));
      else words.push(...[...t].map((d) => numberToWords(Number(d))));
      return;
    }
    const lower = t.toLowerCase();
    if (dict.has(lower)) {
      words.push(lower);
      return;
    }
    if (/^[A-Z]{2,5}$/.test(t) && [...lower].every((c) => dict.has(c))) {
      words.push(...lower);
      return;
    }
    if (t.includes('-')) {
      for (const part of t.split('-')) add(part);
      return;
    }
    unknown.push(lower);
  };

  for (const token of text.split(/[^\p{L}\p{N}'-]+/u)) add(token);
  return { words, unknown };
}

interface Candidate {
  role: AlternativeRole;
  text: string;
  value: GrammarAlternative['value'];
  /** The phrase as the profile wrote it, for `dropped`; undefined for built-in variants. */
  source?: string;
}

type LmReason = Extract<RecognitionPlan, { mode: 'lm' }>['reason'];

/** What an expectation listens for, before the dictionary has a say. */
type Expected =
  { kind: GrammarKind; key: string; candidates: () => Candidate[] } | { reason: LmReason };

const yesNoCandidates = (): Candidate[] => [
  ...YES_PHRASES.map((text): Candidate => ({ role: 'expected', text, value: true })),
  ...NO_PHRASES.map((text): Candidate => ({ role: 'expected', text, value: false })),
];

function expectedFor(expectation: Expectation): Expected {
  if (expectation.kind === 'open') return { reason: 'open' };
  if (expectation.kind === 'confirm') {
    return { kind: 'yesno', key: 'yesno', candidates: yesNoCandidates };
  }
  const capture: Capture = expectation.capture;
  switch (capture.type) {
    case 'yesno':
      return { kind: 'yesno', key: 'yesno', candidates: yesNoCandidates };
    case 'text':
    case 'date':
      return { reason: capture.type };
    case 'number': {
      const range = spokenRange(capture.min, capture.max);
      if (!range) return { reason: 'unspeakable' };
      return {
        kind: 'number',
        key: `number:${range.lo}-${range.hi}`,
        candidates: () => {
          const out: Candidate[] = [];
          for (let n = range.lo; n <= range.hi; n++) {
            for (const text of numberPhrases(n)) out.push({ role: 'expected', text, value: n });
          }
          return out;
        },
      };
    }
    case 'choice': {
      const choices = capture.choices;
      return {
        kind: 'choice',
        key: `choice:${JSON.stringify(choices)}`,
        candidates: () =>
          choices.map((c): Candidate => ({ role: 'expected', text: c, value: c, source: c })),
      };
    }
  }
}

/**
 * The cache key for what `expectation` listens for (equal keys, equal grammars for one session's
 * phrases), or `undefined` when it has no grammar. Cheap: no grammar is built.
 */
export function grammarKey(expectation: Expectation): string | undefined {
  const expected = expectedFor(expectation);
  return 'key' in expected ? expected.key : undefined;
}

/**
 * What to listen for while `expectation` holds: a grammar, or the general language model.
 * Phrases with words the dictionary lacks are left out (and listed in `dropped`); when no
 * expected answer is left the plan falls back to the language model.
 */
export function planRecognition(
  expectation: Expectation,
  phrases: SessionPhrases,
  dict: WordSet,
): RecognitionPlan {
  const expected = expectedFor(expectation);
  if ('reason' in expected) return { mode: 'lm', reason: expected.reason, dropped: [] };

  // Safety first: when a phrase is both a red flag and an answer, it must be heard as a red flag.
  const candidates: Candidate[] = [
    ...phrases.safety.map((p): Candidate => ({ role: 'safety', text: p, value: p, source: p })),
    ...expected.candidates(),
    ...phrases.end.map((p): Candidate => ({ role: 'end', text: p, value: p, source: p })),
  ];

  const seen = new Set<string>();
  const alternatives: GrammarAlternative[] = [];
  const dropped: string[] = [];
  for (const c of candidates) {
    const { words, unknown } = toGrammarWords(c.text, dict);
    if (unknown.length || words.length === 0) {
      if (c.source !== undefined) dropped.push(c.source);
      continue;
    }
    const joined = words.join(' ');
    if (seen.has(joined)) continue;
    seen.add(joined);
    alternatives.push(Object.freeze({ role: c.role, words, text: c.text.trim(), value: c.value }));
  }

  if (!alternatives.some((a) => a.role === 'expected')) {
    return { mode: 'lm', reason: 'unspeakable', dropped };
  }
  const grammar: Grammar = { key: expected.key, kind: expected.kind, alternatives, dropped };
  return { mode: 'grammar', grammar: Object.freeze(grammar) };
}

/**
 * The grammar as JSGF for pocketsphinx: one public rule whose alternatives are every expected
 * answer, every safety phrase and every end phrase, each weighted by its group's weight.
 *
 * The list is flat on purpose: pocketsphinx 5prealpha drops the weight of an alternative that
 * starts with a rule reference or a group (`/0.1/ <end>`, `/0.1/ (a | b)`), so every weighted
 * alternative starts with a word.
 */
export function toJsgf(grammar: Grammar, weights: GrammarWeights): string {
  const alts = grammar.alternatives.map(
    (a) => `/${formatWeight(weights[a.role])}/ ${a.words.join(' ')}`,
  );
  return `#JSGF V1.0;\ngrammar voicecare;\npublic <utterance> = ${alts.join('\n  | ')};\n`;
}

/** A weight as JSGF writes it: plain decimal, never exponent notation. */
function formatWeight(w: number): string {
  if (!(w > 0) || !Number.isFinite(w))
    throw new RangeError(`grammar weights must be positive, got ${w}`);
  return w >= 1e-6 ? String(Number(w.toPrecision(6))) : w.toFixed(12).replace(/0+$/, '');
}

/** Every dictionary word a grammar uses, for its small dictionary. */
export function grammarWords(grammar: Grammar): string[] {
  return [...new Set(grammar.alternatives.flatMap((a) => a.words))].sort();
}

/**
 * Which alternative the recogniser's hypothesis is; `undefined` for an empty hypothesis or one
 * outside the grammar.
 */
export function matchHypothesis(
  grammar: Grammar,
  hypothesis: readonly string[],
): GrammarAlternative | undefined {
  const heard = hypothesis.map((w) => w.toLowerCase()).join(' ');
  if (!heard) return undefined;
  return grammar.alternatives.find((a) => a.words.join(' ') === heard);
}
