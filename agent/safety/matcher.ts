/**
 * The deterministic safety matcher: red-flag phrases and patterns from a clinician's profile,
 * checked against every final patient utterance before the LLM sees it.
 *
 * Pure and stateless. Rules are compiled once and frozen; the patient's words are only ever the
 * haystack, never read as instructions, so nothing a patient says can switch a rule off or change
 * what it matches.
 *
 * Negation is deliberately NOT detected: "no chest pain" and "I don't have chest pain" match the
 * chest-pain rule. Negation detection on speech transcripts is unreliable ("no, I have chest pain",
 * "not that I don't have chest pain"), and a missed emergency costs far more than a fixed safety
 * message spoken to someone who is fine. Profiles should word their questions so that patients
 * rarely need to name a red-flag symptom to deny it.
 */

/** The parts of a profile's safety rule the matcher reads (prompts/schema.ts `SafetyRule`). */
export interface SafetyRuleSpec {
  readonly id: string;
  /** Matched as whole words after normalisation; each word may take a plural "s"/"es". */
  readonly phrases?: readonly string[] | undefined;
  /** Regular expressions tested, case-insensitively, against the normalised utterance. */
  readonly patterns?: readonly string[] | undefined;
}

export interface SafetyTrigger {
  kind: 'phrase' | 'pattern';
  /** The phrase or pattern as written in the profile (never the patient's words). */
  value: string;
}

export interface SafetyMatch<R extends SafetyRuleSpec = SafetyRuleSpec> {
  rule: R;
  trigger: SafetyTrigger;
}

interface CompiledRule<R extends SafetyRuleSpec> {
  readonly rule: R;
  readonly tests: readonly { readonly trigger: SafetyTrigger; readonly re: RegExp }[];
}

/** Rules ready to match. Build once per profile with {@link compileSafetyRules}. */
export interface CompiledSafetyRules<R extends SafetyRuleSpec = SafetyRuleSpec> {
  readonly rules: readonly CompiledRule<R>[];
}

/** Thrown by {@link compileSafetyRules} for a rule that can never work as written. */
export class SafetyRuleError extends Error {
  constructor(
    readonly ruleId: string,
    /** `phrases` or `patterns`, and the index of the offending entry. */
    readonly location: { list: 'phrases' | 'patterns'; index: number },
    message: string,
  ) {
    super(message);
    this.name = 'SafetyRuleError';
  }
}

const APOSTROPHES = /[\u2018\u2019\u02BC\u0060\u00B4\u2032]/g;

// Order matters: irregular forms before the generic "n't".
const CONTRACTIONS: readonly (readonly [RegExp, string])[] = [
  [/\bcan't\b/g, 'cannot'],
  [/\bwon't\b/g, 'will not'],
  [/\bshan't\b/g, 'shall not'],
  [/\bain't\b/g, 'is not'],
  [/\blet's\b/g, 'let us'],
  [/n't\b/g, ' not'],
  [/'m\b/g, ' am'],
  [/'re\b/g, ' are'],
  [/'ve\b/g, ' have'],
  [/'ll\b/g, ' will'],
  [/'d\b/g, ' would'],
  // Possessive or "is": either way the noun survives as its own word ("my chest's tight").
  [/'s\b/g, ' is'],
];

// Contractions as speech-to-text sometimes writes them, without the apostrophe. Only forms that
// are not ordinary words themselves: "ill", "id", "its", "were" and "hell" are left alone.
const BARE_CONTRACTIONS: Readonly<Record<string, string>> = {
  cant: 'cannot',
  dont: 'do not',
  doesnt: 'does not',
  didnt: 'did not',
  isnt: 'is not',
  wasnt: 'was not',
  arent: 'are not',
  werent: 'were not',
  couldnt: 'could not',
  wouldnt: 'would not',
  shouldnt: 'should not',
  havent: 'have not',
  hasnt: 'has not',
  hadnt: 'had not',
  wont: 'will not',
  im: 'i am',
  ive: 'i have',
  youre: 'you are',
  theyre: 'they are',
};

/**
 * Lower case, accents and punctuation removed, contractions spelled out, single spaces:
 * "I can't BREATHE!!" → "i cannot breathe". Phrases and utterances both pass through this, so
 * they meet on the same ground.
 */
export function normalizeUtterance(text: string): string {
  let s = text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(APOSTROPHES, "'");
  for (const [re, out] of CONTRACTIONS) s = s.replace(re, out);
  return s
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .split(' ')
    .map((w) => BARE_CONTRACTIONS[w] ?? w)
    .join(' ');
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A phrase's regex: whole words in order, each allowed a plural ending. */
function phraseRegExp(normalized: string): RegExp {
  const words = normalized.split(' ').map((w) => `${escapeRegExp(w)}(?:e?s)?`);
  return new RegExp(`(?:^| )${words.join(' ')}(?= |$)`, 'u');
}

/**
 * Compiles one pattern as the matcher will use it. Throws a SyntaxError for a pattern that does
 * not compile, and an Error for one that could never match or that matches everything.
 */
export function compilePattern(pattern: string): RegExp {
  const re = new RegExp(pattern, 'iu');
  if (re.test('')) {
    throw new Error('matches an empty utterance, so it would fire on every turn');
  }
  if (/['\u2019]/.test(pattern)) {
    throw new Error(
      "contains an apostrophe, but patterns are checked against the patient's words with " +
        "contractions spelled out (can't → cannot) and punctuation removed",
    );
  }
  return re;
}

/** Validates and precompiles rules, in priority order (the profile's order). */
export function compileSafetyRules<R extends SafetyRuleSpec>(
  rules: readonly R[],
): CompiledSafetyRules<R> {
  const compiled = rules.map((rule): CompiledRule<R> => {
    const tests: { trigger: SafetyTrigger; re: RegExp }[] = [];
    (rule.phrases ?? []).forEach((phrase, index) => {
      const normalized = normalizeUtterance(phrase);
      if (!normalized) {
        throw new SafetyRuleError(
          rule.id,
          { list: 'phrases', index },
          'has no words left once punctuation is removed',
        );
      }
      tests.push({ trigger: { kind: 'phrase', value: phrase }, re: phraseRegExp(normalized) });
    });
    (rule.patterns ?? []).forEach((pattern, index) => {
      try {
        tests.push({ trigger: { kind: 'pattern', value: pattern }, re: compilePattern(pattern) });
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new SafetyRuleError(rule.id, { list: 'patterns', index }, why);
      }
    });
    return Object.freeze({
      rule,
      tests: Object.freeze(tests.map((t) => Object.freeze({ ...t }))),
    });
  });
  return Object.freeze({ rules: Object.freeze(compiled) });
}

function isCompiled<R extends SafetyRuleSpec>(
  rules: readonly R[] | CompiledSafetyRules<R>,
): rules is CompiledSafetyRules<R> {
  return !Array.isArray(rules);
}

/**
 * The first rule (in profile order) that the utterance triggers, or null. Pass compiled rules on
 * the hot path; a plain rule list is compiled on each call.
 */
export function matchSafety<R extends SafetyRuleSpec>(
  rules: readonly R[] | CompiledSafetyRules<R>,
  utteranceText: string,
): SafetyMatch<R> | null {
  const compiled = isCompiled(rules) ? rules : compileSafetyRules(rules);
  const text = normalizeUtterance(utteranceText);
  if (!text) return null;
  for (const { rule, tests } of compiled.rules) {
    for (const { trigger, re } of tests) {
      // No /g flag anywhere, so test() keeps no lastIndex state between calls.
      if (re.test(text)) return { rule, trigger: { ...trigger } };
    }
  }
  return null;
}

/**
 * The first of `phrases` that occurs in the utterance, matched exactly as safety phrases are
 * (used for a profile's `endPhrases`), or null.
 */
export function containsPhrase(phrases: readonly string[], utteranceText: string): string | null {
  const text = normalizeUtterance(utteranceText);
  for (const phrase of phrases) {
    const normalized = normalizeUtterance(phrase);
    if (normalized && phraseRegExp(normalized).test(text)) return phrase;
  }
  return null;
}
