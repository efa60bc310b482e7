/**
 * The deterministic safety matcher: a clinician's red-flag rules checked against every final
 * patient utterance before the LLM sees it.
 *
 * A rule fires on any of its triggers, tried in this order:
 * - `phrases`: whole words in order ("passed out"), any inflection ("hurting" meets "hurt");
 * - `concepts`: symptom concepts. Each concept is a set of term classes that must all be heard
 *   within a few words of each other in the same sentence, in any order ("a squeezing weight in
 *   the middle of my chest": sensation + site), and/or whole phrases. `heardAs` lists the
 *   speech-recognition confusions of its terms ("chess" → "chest"), expanded when compiled.
 * - `patterns`: regular expressions over the normalised words (kept for older profiles).
 *
 * Every candidate is then read in its context (context.ts), so a denial ("no chest pain"), an
 * information-seeking question ("what are the signs of a stroke?"), remote history ("I had a
 * stroke ten years ago") or someone else's past ("my dad died of a heart attack") does not fire.
 * Those checks are tight by design: they look only a few words back and stop at a clause break,
 * so when in doubt the rule fires.
 *
 * Pure and stateless. Rules are compiled once and frozen; the patient's words are only ever the
 * haystack, never read as instructions, so nothing a patient says can switch a rule off.
 */
import {
  NO_BREAK,
  PAUSE,
  STOP,
  compilePattern,
  conceptProblem,
  normalizeUtterance,
  stemWord,
  tokenizeUtterance,
  type SafetyConceptSpec,
  type SafetyReadingRange,
  type Tokens,
} from '../../prompts/safety-language.ts';
import type { ModelContribution } from './context-model.ts';
import { suppressedBy, type Span, type Suppression } from './context.ts';
import { readReadings, type Reading } from './readings.ts';
import { buildVocabulary, rejoinSplitWords, type Vocabulary } from './rejoin.ts';

export { compilePattern, conceptProblem, normalizeUtterance };
export type { SafetyConceptSpec };

/** The parts of a profile's safety rule the matcher reads (prompts/schema.ts `SafetyRule`). */
export interface SafetyRuleSpec {
  readonly id: string;
  /** Whole words in order after normalisation, in any inflection. */
  readonly phrases?: readonly string[] | undefined;
  /** Symptom concepts (see {@link SafetyConceptSpec}). */
  readonly concepts?: readonly SafetyConceptSpec[] | undefined;
  /** Regular expressions tested, case-insensitively, against the normalised utterance. */
  readonly patterns?: readonly string[] | undefined;
}

/**
 * Why a rule fired, in the profile's words only (never the patient's), for the escalation
 * record and the clinical-safety review.
 */
export interface SafetyExplanation {
  /** The concept id. */
  concept: string;
  /** For each term class that matched, the class's term as the profile writes it. */
  terms?: Record<string, string>;
  /** The concept's phrase that matched, as the profile writes it. */
  phrase?: string;
  /** The `heardAs` corrections the match relied on, as `heard → meant`. */
  heardAs?: string[];
}

export interface SafetyTrigger {
  kind: 'phrase' | 'pattern' | 'concept';
  /** The phrase or pattern as written in the profile, or the concept id. */
  value: string;
  /** Present for concepts: which of its term classes or phrases matched. */
  explain?: SafetyExplanation;
  /** Present when the context model (context-model.ts) was consulted on this match. */
  model?: ModelContribution;
}

export interface SafetyMatch<R extends SafetyRuleSpec = SafetyRuleSpec> {
  rule: R;
  trigger: SafetyTrigger;
}

/** One term (a word or a few) compiled to stems; `label` is the profile's own wording. */
interface Term {
  readonly stems: readonly string[];
  readonly label: string;
  readonly heard?: string;
}

interface TermIndex {
  /** Terms by their first stem. */
  readonly byFirst: ReadonlyMap<string, readonly Term[]>;
}

interface CompiledConcept {
  readonly id: string;
  readonly classes: readonly { readonly name: string; readonly terms: TermIndex }[];
  readonly window: number;
  readonly phrases: TermIndex;
  readonly except: TermIndex;
  /** Phrases that, in the same sentence, cancel any match of this concept. */
  readonly exceptWith: TermIndex;
  readonly readings: readonly CompiledReading[];
}

interface CompiledReading {
  readonly near: TermIndex;
  /** Words that may follow the number as its unit ("percent"), whatever else they count. */
  readonly units: ReadonlySet<string>;
  readonly ranges: readonly SafetyReadingRange[];
  readonly window: number;
  readonly decimalAlone: boolean;
  readonly numberAlone: boolean;
  readonly bareNumber: boolean;
}

// A rule's own phrases and patterns honour its concepts' `except` lists too: "I can't breathe
// through my nose" is not the breathing rule's "can't breathe".
type Test =
  | {
      readonly kind: 'phrase';
      readonly value: string;
      readonly terms: TermIndex;
      /** Each phrase's place in the profile, so the first listed wins when several match. */
      readonly order: ReadonlyMap<string, number>;
      readonly except: TermIndex;
    }
  | { readonly kind: 'concept'; readonly value: string; readonly concept: CompiledConcept }
  | {
      readonly kind: 'pattern';
      readonly value: string;
      readonly re: RegExp;
      readonly except: TermIndex;
    };

interface CompiledRule<R extends SafetyRuleSpec> {
  readonly rule: R;
  readonly tests: readonly Test[];
}

/** Rules ready to match. Build once per profile with {@link compileSafetyRules}. */
export interface CompiledSafetyRules<R extends SafetyRuleSpec = SafetyRuleSpec> {
  readonly rules: readonly CompiledRule<R>[];
  /** The rules' own words, for putting back words the recogniser split (rejoin.ts). */
  readonly vocabulary: Vocabulary;
}

/** Thrown by {@link compileSafetyRules} for a rule that can never work as written. */
export class SafetyRuleError extends Error {
  constructor(
    readonly ruleId: string,
    /** `phrases`, `patterns` or `concepts`, and the index of the offending entry. */
    readonly location: { list: 'phrases' | 'patterns' | 'concepts'; index: number },
    message: string,
  ) {
    super(message);
    this.name = 'SafetyRuleError';
  }
}

export const DEFAULT_WINDOW = 8;
export const DEFAULT_READING_WINDOW = 6;

const stemsOf = (text: string): string[] =>
  normalizeUtterance(text).split(' ').filter(Boolean).map(stemWord);

/**
 * Every term with its `heardAs` variants: "chest pain" with `chess: chest` also gives
 * "chess pain". Variants are made once here, so matching costs nothing extra.
 */
function buildIndex(
  labels: readonly string[],
  heardAs: readonly (readonly [string[], string[], string])[],
): TermIndex {
  const byFirst = new Map<string, Term[]>();
  const add = (term: Term) => {
    const first = term.stems[0];
    if (first === undefined) return;
    const list = byFirst.get(first) ?? [];
    if (!list.some((t) => t.stems.join(' ') === term.stems.join(' '))) list.push(term);
    byFirst.set(first, list);
  };
  for (const label of labels) {
    const stems = stemsOf(label);
    if (!stems.length) continue;
    // Variants chain ("cannot get my words out" → "could not get his words out"), each
    // correction once per term, and a term never grows past MAX_VARIANTS forms.
    let forms: { stems: string[]; notes: string[] }[] = [{ stems, notes: [] }];
    for (const [heard, meant, note] of heardAs) {
      const more: typeof forms = [];
      for (const f of forms) {
        const at = indexOfSeq(f.stems, meant);
        if (at < 0) continue;
        more.push({
          stems: [...f.stems.slice(0, at), ...heard, ...f.stems.slice(at + meant.length)],
          notes: [...f.notes, note],
        });
      }
      forms = [...forms, ...more].slice(0, MAX_VARIANTS);
    }
    for (const f of forms) {
      add(f.notes.length ? { stems: f.stems, label, heard: f.notes.join(', ') } : { stems, label });
    }
  }
  for (const [k, v] of byFirst) byFirst.set(k, Object.freeze(v) as Term[]);
  return Object.freeze({ byFirst });
}

// Enough for a term's person, dialect and recogniser forms together; bounds the index size.
const MAX_VARIANTS = 48;

function indexOfSeq(hay: readonly string[], needle: readonly string[]): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function compileConcept(c: SafetyConceptSpec): CompiledConcept {
  const heardAs = [
    ...Object.entries(c.heardAs ?? {}).map(
      ([heard, meant]) => [stemsOf(heard), stemsOf(meant), `${heard} → ${meant}`] as const,
    ),
    ...Object.entries(c.sayAlso ?? {}).flatMap(([meant, forms]) =>
      forms.map((f) => [stemsOf(f), stemsOf(meant), `${f} → ${meant}`] as const),
    ),
  ];
  const classes = Object.entries(c.all ?? {}).map(([name, terms]) =>
    Object.freeze({ name, terms: buildIndex(terms, heardAs) }),
  );
  return Object.freeze({
    id: c.id,
    classes: Object.freeze(classes),
    window: c.window ?? DEFAULT_WINDOW,
    phrases: buildIndex(c.phrases ?? [], heardAs),
    except: buildIndex(c.except ?? [], heardAs),
    exceptWith: buildIndex(c.exceptWith ?? [], []),
    readings: Object.freeze(
      (c.readings ?? []).map((r) =>
        Object.freeze({
          near: buildIndex(r.near, heardAs),
          units: new Set((r.units ?? []).flatMap((u) => normalizeUtterance(u).split(' '))),
          ranges: r.ranges,
          window: r.window ?? DEFAULT_READING_WINDOW,
          decimalAlone: r.decimalAlone ?? false,
          numberAlone: r.numberAlone ?? false,
          bareNumber: r.bareNumber ?? false,
        }),
      ),
    ),
  });
}

/** Validates and precompiles rules, in priority order (the profile's order). */
export function compileSafetyRules<R extends SafetyRuleSpec>(
  rules: readonly R[],
): CompiledSafetyRules<R> {
  const compiled = rules.map((rule): CompiledRule<R> => {
    const tests: Test[] = [];
    const except = buildIndex(
      (rule.concepts ?? []).flatMap((c) => c.except ?? []),
      [],
    );
    (rule.phrases ?? []).forEach((phrase, index) => {
      if (!normalizeUtterance(phrase)) {
        throw new SafetyRuleError(
          rule.id,
          { list: 'phrases', index },
          'has no words left once punctuation is removed',
        );
      }
    });
    // One index for all of a rule's phrases: one pass over the words finds any of them, and the
    // first in the profile's order wins.
    if (rule.phrases?.length) {
      tests.push({
        kind: 'phrase',
        value: '',
        terms: buildIndex(rule.phrases, []),
        order: new Map(rule.phrases.map((p, i) => [p, i])),
        except,
      });
    }
    (rule.concepts ?? []).forEach((concept, index) => {
      const problem = conceptProblem(concept);
      if (problem) throw new SafetyRuleError(rule.id, { list: 'concepts', index }, problem);
      tests.push({ kind: 'concept', value: concept.id, concept: compileConcept(concept) });
    });
    (rule.patterns ?? []).forEach((pattern, index) => {
      try {
        tests.push({ kind: 'pattern', value: pattern, re: compilePattern(pattern), except });
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new SafetyRuleError(rule.id, { list: 'patterns', index }, why);
      }
    });
    return Object.freeze({ rule, tests: Object.freeze(tests.map((t) => Object.freeze(t))) });
  });
  return Object.freeze({ rules: Object.freeze(compiled), vocabulary: vocabularyOf(rules) });
}

/** Every word of the rules' phrases and concept terms (not `except`: those are never meant). */
function vocabularyOf(rules: readonly SafetyRuleSpec[]): Vocabulary {
  const labels = rules.flatMap((rule) => [
    ...(rule.phrases ?? []),
    ...(rule.concepts ?? []).flatMap((c) => [
      ...(c.phrases ?? []),
      ...Object.values(c.all ?? {}).flat(),
      ...(c.readings ?? []).flatMap((r) => r.near),
    ]),
  ]);
  return buildVocabulary(labels.map(normalizeUtterance));
}

function isCompiled<R extends SafetyRuleSpec>(
  rules: readonly R[] | CompiledSafetyRules<R>,
): rules is CompiledSafetyRules<R> {
  return !Array.isArray(rules);
}

interface Hit {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  readonly term: Term;
}

/** Every place a term of `index` occurs, never across a sentence break. */
function findTerms(tokens: Tokens, index: TermIndex, masked?: Uint8Array): Hit[] {
  const hits: Hit[] = [];
  const { stems, breaks } = tokens;
  for (let i = 0; i < stems.length; i++) {
    const candidates = index.byFirst.get(stems[i] ?? '');
    if (!candidates) continue;
    next: for (const term of candidates) {
      const end = i + term.stems.length;
      if (end > stems.length) continue;
      for (let k = 1; k < term.stems.length; k++) {
        if (stems[i + k] !== term.stems[k] || (breaks[i + k] ?? NO_BREAK) >= STOP) continue next;
      }
      if (masked) {
        for (let k = i; k < end; k++) if (masked[k]) continue next;
      }
      hits.push({ start: i, end, term });
    }
  }
  return hits;
}

function maskOf(tokens: Tokens, except: TermIndex): Uint8Array | undefined {
  if (!except.byFirst.size) return undefined;
  const hits = findTerms(tokens, except);
  if (!hits.length) return undefined;
  const mask = new Uint8Array(tokens.stems.length);
  for (const h of hits) mask.fill(1, h.start, h.end);
  return mask;
}

/** Sentence number of each word: full stops (not commas or contrasts) separate sentences. */
function sentenceNumbers(tokens: Tokens): Uint16Array {
  const out = new Uint16Array(tokens.words.length);
  let n = 0;
  for (let i = 0; i < out.length; i++) {
    if (i > 0 && (tokens.breaks[i] ?? NO_BREAK) >= STOP) n++;
    out[i] = n;
  }
  return out;
}

/**
 * A concept's `exceptWith`: whether a match at a word shares its sentence with one of those
 * phrases ("went out like a light … slept a good eight hours"). Undefined when none is said.
 */
function cancelledBy(tokens: Tokens, index: TermIndex): ((at: number) => boolean) | undefined {
  if (!index.byFirst.size) return undefined;
  const hits = findTerms(tokens, index);
  if (!hits.length) return undefined;
  const sentence = sentenceNumbers(tokens);
  const marked = new Set(hits.map((h) => sentence[h.start]));
  return (at) => marked.has(sentence[at]);
}

const spanOf = (hits: readonly Hit[]): Span => {
  const own = new Set<number>();
  let start = Infinity;
  let end = -1;
  for (const h of hits) {
    start = Math.min(start, h.start);
    end = Math.max(end, h.end);
    for (let k = h.start; k < h.end; k++) own.add(k);
  }
  return { start, end, own };
};

const heardOf = (hits: readonly Hit[]): string[] | undefined => {
  const notes = hits.flatMap((h) => (h.term.heard ? [h.term.heard] : []));
  return notes.length ? notes : undefined;
};

/** Whether any term of the index could start somewhere in the utterance. */
const mayOccur = (index: TermIndex, present: ReadonlySet<string>): boolean => {
  for (const first of index.byFirst.keys()) if (present.has(first)) return true;
  return false;
};

function matchConcept(
  tokens: Tokens,
  c: CompiledConcept,
  present: ReadonlySet<string>,
): SafetyExplanation | null {
  // Most concepts share no word with most utterances: rule them out before any real work.
  const phrasesMay = mayOccur(c.phrases, present);
  const classesMay =
    c.classes.length >= 2 && c.classes.every((cls) => mayOccur(cls.terms, present));
  const readingsMay = c.readings.some(
    (r) => mayOccur(r.near, present) || r.numberAlone || r.decimalAlone,
  );
  if (!phrasesMay && !classesMay && !readingsMay) return null;
  const mask = maskOf(tokens, c.except);
  const cancelled = cancelledBy(tokens, c.exceptWith);
  if (readingsMay) {
    const reading = matchReadings(tokens, c, mask, cancelled);
    if (reading) return reading;
  }
  for (const hit of findTerms(tokens, c.phrases, mask)) {
    if (cancelled?.(hit.start)) {
      note(spanOf([hit]), 'cancelled');
      continue;
    }
    if (judged(tokens, spanOf([hit]))) continue;
    const heardAs = heardOf([hit]);
    return { concept: c.id, phrase: hit.term.label, ...(heardAs ? { heardAs } : {}) };
  }
  if (c.classes.length < 2) return null;
  const perClass: Hit[][] = [];
  for (const cls of c.classes) {
    const hits = findTerms(tokens, cls.terms, mask);
    if (!hits.length) return null;
    perClass.push(hits);
  }
  const chosen: Hit[] = [];
  const found = search(0);
  if (!found) return null;
  const terms: Record<string, string> = {};
  c.classes.forEach((cls, i) => {
    const hit = found[i];
    if (hit) terms[cls.name] = hit.term.label;
  });
  const heardAs = heardOf(found);
  return { concept: c.id, terms, ...(heardAs ? { heardAs } : {}) };

  // Depth-first over one hit per class; classes are few and hits per utterance fewer.
  function search(depth: number): Hit[] | null {
    if (depth === perClass.length) {
      const span = spanOf(chosen);
      const words = chosen.reduce((n, h) => n + (h.end - h.start), 0);
      const aside = asideWords(tokens, chosen, span);
      if (span.end - span.start - words - aside > c.window) return null;
      if (!sameSentence(tokens, span.start, span.end, chosen)) return null;
      if (cancelled?.(span.start)) return note(span, 'cancelled');
      if (normalReadingAfter(tokens, c, span)) return note(span, 'normal-reading');
      return judged(tokens, span) ? null : [...chosen];
    }
    for (const hit of perClass[depth] ?? []) {
      if (chosen.some((h) => h.start < hit.end && hit.start < h.end)) continue;
      chosen.push(hit);
      const done = search(depth + 1);
      chosen.pop();
      if (done) return done;
    }
    return null;
  }
}

// A number followed by one of these counts something else: "seventy units", "sixty years old".
const NOT_A_READING_AFTER = new Set(
  (
    'unit units mg milligram milligrams mcg microgram micrograms ml mls millilitre millilitres ' +
    'year years yr yrs old month months week weeks day days hour hours hr hrs minute minutes ' +
    'min mins second seconds time times percent per pound pounds lb lbs kilo kilos kg stone ' +
    'mile miles pm am oclock clock tablet tablets pill pills puff puffs bpm beat beats over ' +
    'calorie calories carbs gram grams g step steps daily nightly weekly ' +
    // Things counted: "three cups of coffee", "two flights of stairs".
    'cup cups coffees teas glass glasses pint pints drink drinks can cans bottle bottles ' +
    'biscuit biscuits sweets people kids children grandchildren floors flights nights ' +
    'sprays spray doses dose injections jabs packets boxes'
  ).split(' '),
);
// "one a day", "two per night": a dose schedule, not a reading.
const PERIODS = new Set(['day', 'week', 'night', 'morning', 'evening', 'month', 'fortnight']);
// "I take one", "she took two": a count of doses.
const DOSE_VERBS = new Set(['take', 'takes', 'taking', 'took', 'give', 'gave', 'inject']);
const rangeLabel = (r: SafetyReadingRange): string =>
  [r.from === undefined ? '' : `from ${r.from}`, r.below === undefined ? '' : `below ${r.below}`]
    .filter(Boolean)
    .join(' ');

const READING_UNITS = new Set(['degrees', 'degree', 'mmol', 'mg']);
// A term that says where the number was read, not what it counts: "sixty eight it says", "two
// point eight on the machine".
const readOut = (label: string): boolean =>
  /^(?:it |on |says|said|saying|reads|read |showing|shows)/.test(label);
// A meter says a number; a person who says one is giving a score or a guess: "pain out of ten,
// I'd say a three".
const PERSON_SAYING = new Set(['i', 'would', 'we', 'you', 'they', 'should', 'could']);
// Another measurement between the term and the number owns the number: "blood pressure reading
// sixty", "my sugar is fine but my pulse is fifty".
const OTHER_MEASURE = new Set(
  (
    'pressure bp pulse rate oxygen sats saturation weight weigh age aged cholesterol a1c hba1c ' +
    'potassium sodium inr dose dosage insulin units unit thinner thinners sugar sugars glucose ' +
    'temperature temp thermometer scales scale'
  ).split(' '),
);

// "one a day", "two per night", "one in the morning", "one at night", "one with meals".
const SCHEDULE_AT = new Set([
  'night',
  'bedtime',
  'breakfast',
  'lunch',
  'lunchtime',
  'tea',
  'teatime',
]);
const SCHEDULE_WITH = new Set(['meals', 'food', 'breakfast', 'lunch', 'dinner', 'supper', 'tea']);

// Before a number these make it a reading whatever follows: "my sugar was two at night".
const READING_BEFORE = new Set(
  'is was were been be reads reading read says said showed shows showing to of down only just'.split(
    ' ',
  ),
);

function doseSchedule(words: readonly string[], n: Reading): boolean {
  const at = n.end;
  const [a, b, c] = [words[at] ?? '', words[at + 1] ?? '', words[at + 2] ?? ''];
  // "three a day", "one twice a day": never a reading.
  if ((a === 'a' || a === 'an' || a === 'per' || a === 'every') && PERIODS.has(b)) return true;
  if ((a === 'twice' || b === 'times') && (words.includes('day') || words.includes('daily')))
    return true;
  // "one in the morning", "one at night", "one with meals": a dose, unless said as a reading.
  if (!Number.isInteger(n.value) || READING_BEFORE.has(words[n.start - 1] ?? '')) return false;
  if (a === 'in' && b === 'the' && PERIODS.has(c)) return true;
  if (a === 'at' && SCHEDULE_AT.has(b)) return true;
  return a === 'with' && (SCHEDULE_WITH.has(b) || SCHEDULE_WITH.has(c));
}

// "sugar tablets", "blood pills": the term names a medicine, not a measurement.
const MEDICINE_AFTER = new Set([
  'tablet',
  'tablets',
  'pill',
  'pills',
  'medicine',
  'medication',
  'meds',
]);

function matchReadings(
  tokens: Tokens,
  c: CompiledConcept,
  mask: Uint8Array | undefined,
  cancelled: ((at: number) => boolean) | undefined,
): SafetyExplanation | null {
  let numbers: Reading[] | undefined;
  for (const r of c.readings) {
    const near = findTerms(tokens, r.near, mask).filter(
      (h) =>
        !MEDICINE_AFTER.has(tokens.words[h.end] ?? '') &&
        !(readOut(h.term.label) && PERSON_SAYING.has(tokens.words[h.start - 1] ?? '')),
    );
    if (r.numberAlone) {
      numbers ??= readReadings(tokens.words);
      const alone = numberAlone(tokens, r, numbers, cancelled);
      if (alone) return { concept: c.id, terms: alone };
    }
    if (!near.length) {
      if (!r.decimalAlone) continue;
      numbers ??= readReadings(tokens.words);
      const alone = decimalAlone(tokens, r, numbers, cancelled);
      if (alone) return { concept: c.id, terms: alone };
      continue;
    }
    // Words of any of this reading's own terms are not another measurement: "oxygen sats".
    const ownAt = new Set<number>();
    for (const h of near) for (let k = h.start; k < h.end; k++) ownAt.add(k);
    numbers ??= readReadings(tokens.words);
    for (const n of numbers) {
      const range = r.ranges.find(
        (x) => n.value >= (x.from ?? 0) && n.value < (x.below ?? Infinity),
      );
      if (!range) continue;
      const after = tokens.words[n.end] ?? '';
      const unit = r.units.has(after);
      if (!unit && NOT_A_READING_AFTER.has(after)) continue;
      if (tokens.words[n.start - 1] === 'over' || DOSE_VERBS.has(tokens.words[n.start - 1] ?? ''))
        continue;
      if (doseSchedule(tokens.words, n)) continue;
      if (saidAsAge(tokens.words, n)) continue;
      if (r.bareNumber && !BARE_AFTER.has(after) && n.end < tokens.words.length) continue;
      if (recoveredAfter(tokens, numbers, n, r.ranges)) continue;
      // "the tuesday one", "only had the one": a pronoun, not a reading of one.
      if (
        n.end - n.start === 1 &&
        tokens.words[n.start] === 'one' &&
        !READING_BEFORE.has(tokens.words[n.start - 1] ?? '')
      )
        continue;
      for (const hit of near) {
        // A number right before the term counts it ("two sugars in my tea"), unless the term
        // is the reading's unit ("thirty nine degrees").
        if (hit.start === n.end && !READING_UNITS.has(hit.term.label) && !readOut(hit.term.label))
          continue;
        const start = Math.min(hit.start, n.start);
        const end = Math.max(hit.end, n.end);
        const gap = hit.end <= n.start ? n.start - hit.end : hit.start - n.end;
        if (gap < 0) continue;
        if (gap > r.window || !sameSentence(tokens, start, end)) {
          // A trend: "sats were ninety one yesterday and now it says eighty seven". A number
          // the term reaches carries the term on to a later number of the same kind nearby,
          // across "but now" too, never across a full stop.
          if (
            hit.end > n.start ||
            (!trendReaches(tokens, numbers, hit.end, n, r.window, TREND_STEP) &&
              !pronounReaches(tokens, hit, n, r.window))
          )
            continue;
        }
        let other = false;
        for (let k = Math.max(0, start - 2); k < end && !other; k++) {
          if (k >= n.start && k < n.end) continue;
          if (k >= hit.start && k < hit.end) continue;
          other = OTHER_MEASURE.has(tokens.words[k] ?? '') && !ownAt.has(k);
        }
        if (other) continue;
        const own = new Set<number>();
        for (let k = hit.start; k < hit.end; k++) own.add(k);
        for (let k = n.start; k < n.end; k++) own.add(k);
        if (cancelled?.(start)) {
          note({ start, end, own }, 'cancelled');
          continue;
        }
        if (judged(tokens, { start, end, own })) continue;
        const heardAs = heardOf([hit]);
        return {
          concept: c.id,
          // The range, never the patient's own number: explanations use the profile's words.
          terms: { reading: hit.term.label, range: rangeLabel(range) },
          ...(heardAs ? { heardAs } : {}),
        };
      }
    }
  }
  return null;
}

// After a reading given without its measurement's name (`bareNumber`), only these may follow
// the number: "forty nine this morning and I'm sweating", not "forty nine stitches".
const BARE_AFTER = new Set(
  (
    'and but so then now this last earlier today tonight yesterday at i im it its is was and ' +
    'on when after before or my mmol something odd ish'
  ).split(' '),
);
// Before or after a later number, these say the reading has come back: "sixty before, and
// after the juice it is a hundred and ten now".
const RECOVERY = new Set(['now', 'back', 'after', 'since']);

/**
 * Whether a later number in the same sentence, out of every range and said as where the reading
 * is now ("… it is a hundred and ten now", "back up to six"), shows it has recovered.
 */
function recoveredAfter(
  tokens: Tokens,
  numbers: readonly Reading[],
  n: Reading,
  ranges: readonly SafetyReadingRange[],
): boolean {
  for (const m of numbers) {
    if (m.start < n.end) continue;
    if (m.start - n.end > TREND_STEP) return false;
    for (let k = n.end; k <= m.start; k++) if ((tokens.breaks[k] ?? NO_BREAK) >= STOP) return false;
    if (ranges.some((x) => m.value >= (x.from ?? 0) && m.value < (x.below ?? Infinity))) continue;
    if (NOT_A_READING_AFTER.has(tokens.words[m.end] ?? '')) continue;
    for (let k = Math.max(n.end, m.start - 4); k < Math.min(tokens.words.length, m.end + 2); k++) {
      if (RECOVERY.has(tokens.words[k] ?? '')) return true;
    }
  }
  return false;
}

// "I'm sixty five and my hands shake": after these a whole number from sixteen up is an age.
const AGE_BEFORE = [
  ['i', 'am'],
  ['im'],
  ['he', 'is'],
  ['she', 'is'],
  ['aged'],
  ['age'],
  ['turned'],
];

function saidAsAge(words: readonly string[], n: Reading): boolean {
  if (!Number.isInteger(n.value) || n.value < 16) return false;
  return AGE_BEFORE.some((p) => p.every((w, j) => words[n.start - p.length + j] === w));
}

// Most words between one number of a trend and the next ("ninety two this morning and it has
// gone to eighty five").
const TREND_STEP = 10;

/**
 * Whether a chain of numbers leads from a term (ending at `from`) to `n`: each number at most
 * `window` words after the one before, all in one sentence (a contrast word does not end it).
 */
function trendReaches(
  tokens: Tokens,
  numbers: readonly Reading[],
  from: number,
  n: Reading,
  window: number,
  step: number,
): boolean {
  for (let k = from + 1; k <= n.start; k++)
    if ((tokens.breaks[k] ?? NO_BREAK) >= STOP) return false;
  let reach = from;
  for (const m of numbers) {
    if (m.start < from) continue;
    if (m.start > n.start || m.start - reach > (reach === from ? window : step)) return false;
    if (m.start === n.start) return true;
    reach = m.end;
  }
  return false;
}

// Before a number these say it is the reading, whatever the number is.
const NORMAL_BEFORE = new Set([
  ...READING_BEFORE,
  'around',
  'about',
  'roughly',
  'lowest',
  'highest',
]);

/**
 * "my sugars have been lower, the lowest was five point three", "my temp was up yesterday and
 * it has come down to thirty seven": a concept told in words (sugar + lower, temperature + up)
 * is answered by the number said after it in the same sentence when that number is in none of
 * the concept's alarm ranges. Only numbers said as a reading ("was", "is", "around"), never a
 * time ("at six"), a dose or an age, and never one that another measurement owns.
 */
function normalReadingAfter(tokens: Tokens, c: CompiledConcept, span: Span): boolean {
  if (!c.readings.length) return false;
  const { words } = tokens;
  let last: Reading | undefined;
  for (const n of readReadings(words)) {
    if (n.start < span.end || n.start - span.end > PRONOUN_REACH) continue;
    let stop = false;
    for (let k = span.end; k <= n.start; k++)
      if ((tokens.breaks[k] ?? NO_BREAK) >= STOP) stop = true;
    if (stop) continue;
    last = n;
  }
  if (!last) return false;
  const n = last;
  const before = words[n.start - 1] ?? '';
  if (!NORMAL_BEFORE.has(before) || words[n.start - 2] === 'at') return false;
  const after = words[n.end] ?? '';
  if (NOT_A_READING_AFTER.has(after) || doseSchedule(words, n) || saidAsAge(words, n)) return false;
  for (let k = span.end; k < n.start; k++) if (OTHER_MEASURE.has(words[k] ?? '')) return false;
  return c.readings.every((r) =>
    r.ranges.every((x) => n.value < (x.from ?? 0) || n.value >= (x.below ?? Infinity)),
  );
}

// How far back an "it" may carry a reading's term: a clause or two, never a new sentence.
const PRONOUN_REACH = 16;

/**
 * "my temp came down then this evening it's back at thirty nine": an "it" within the reading's
 * window before the number stands for the term said earlier in the same sentence.
 */
function pronounReaches(tokens: Tokens, hit: Hit, n: Reading, window: number): boolean {
  const from = hit.end;
  if (n.start - from > PRONOUN_REACH) return false;
  // Only a term that names the measurement ("temp", "sugar"): "checked it" names nothing an
  // "it" could stand for.
  if (!hit.term.label.split(' ').some((w) => OTHER_MEASURE.has(w))) return false;
  for (let k = from + 1; k <= n.start; k++)
    if ((tokens.breaks[k] ?? NO_BREAK) >= STOP) return false;
  // "it" stands for the one measurement named in the sentence: with another one named ("no
  // temperature, I've been checking it … it's thirty six point eight") it may be that one.
  let k = from;
  while (k > 0 && (tokens.breaks[k] ?? NO_BREAK) < STOP) k--;
  for (; k < n.start; k++) {
    if (k >= hit.start && k < hit.end) continue;
    if (OTHER_MEASURE.has(tokens.words[k] ?? '')) return false;
  }
  for (let k = Math.max(from, n.start - window); k < n.start; k++) {
    if (tokens.words[k] === 'it' || tokens.words[k] === 'its') return true;
  }
  return false;
}

// Words that may stand around a bare reading: fillers, "it said", times of day.
const ALONE_FILLER = new Set(
  (
    'um umm uh er erm ah oh well so like about around roughly nearly almost just it its is was ' +
    'were said says say read reads reading showed shows showing went up to now still again ' +
    'this that morning afternoon evening night last tonight today earlier yesterday and yeah ' +
    'yes the a at of been has have i think maybe'
  ).split(' '),
);

/**
 * A number that is the whole answer ("a hundred and two", "it said a hundred and three this
 * morning"): one number in range and nothing but filler and time words around it.
 */
function numberAlone(
  tokens: Tokens,
  r: CompiledReading,
  numbers: readonly Reading[],
  cancelled: ((at: number) => boolean) | undefined,
): Record<string, string> | null {
  if (numbers.length !== 1) return null;
  const n = numbers[0];
  if (!n) return null;
  const range = r.ranges.find((x) => n.value >= (x.from ?? 0) && n.value < (x.below ?? Infinity));
  if (!range) return null;
  for (let k = 0; k < tokens.words.length; k++) {
    if (k >= n.start && k < n.end) continue;
    if (!ALONE_FILLER.has(tokens.words[k] ?? '')) return null;
  }
  const own = new Set<number>();
  for (let k = n.start; k < n.end; k++) own.add(k);
  if (cancelled?.(n.start)) return note({ start: n.start, end: n.end, own }, 'cancelled');
  if (judged(tokens, { start: n.start, end: n.end, own })) return null;
  return { reading: 'a number said alone', range: rangeLabel(range) };
}

// Other things said with a decimal: "thirty nine point five weeks", "ninety eight point two kilos".
const BODY_MEASURE = new Set(
  'weigh weighs weighed weight kilos kilo kg stone pounds lbs weeks pregnant percent bmi ph years'.split(
    ' ',
  ),
);

/**
 * A number with a decimal part and nothing else measured in its sentence ("thirty eight point two
 * this morning and I'm on the chemo"): the reading's terms, or null.
 */
function decimalAlone(
  tokens: Tokens,
  r: CompiledReading,
  numbers: readonly Reading[],
  cancelled: ((at: number) => boolean) | undefined,
): Record<string, string> | null {
  const sentence = sentenceNumbers(tokens);
  for (const n of numbers) {
    if (Number.isInteger(n.value)) continue;
    const range = r.ranges.find((x) => n.value >= (x.from ?? 0) && n.value < (x.below ?? Infinity));
    if (!range) continue;
    const after = tokens.words[n.end] ?? '';
    if (!r.units.has(after) && NOT_A_READING_AFTER.has(after)) continue;
    if (DOSE_VERBS.has(tokens.words[n.start - 1] ?? '') || doseSchedule(tokens.words, n)) continue;
    let other = false;
    for (let k = 0; k < tokens.words.length && !other; k++) {
      if (sentence[k] !== sentence[n.start] || (k >= n.start && k < n.end)) continue;
      other = OTHER_MEASURE.has(tokens.words[k] ?? '') || BODY_MEASURE.has(tokens.words[k] ?? '');
    }
    if (other) continue;
    const own = new Set<number>();
    for (let k = n.start; k < n.end; k++) own.add(k);
    if (cancelled?.(n.start)) {
      note({ start: n.start, end: n.end, own }, 'cancelled');
      continue;
    }
    if (judged(tokens, { start: n.start, end: n.end, own })) continue;
    return { reading: 'a number with a decimal', range: rangeLabel(range) };
  }
  return null;
}

// A contrast word starts a new thought: "my chest x-ray was clear but my knee hurts".
const CONTRAST = new Set(['but', 'however', 'although', 'though', 'whereas', 'except']);

function sameSentence(
  tokens: Tokens,
  start: number,
  end: number,
  hits: readonly Hit[] = [],
): boolean {
  for (let k = start + 1; k < end; k++) {
    // "chest. tight. real tight.": a sentence that is only the topic goes on into the next.
    if ((tokens.breaks[k] ?? NO_BREAK) >= STOP && !topicAlone(tokens, k, hits)) return false;
    if (
      CONTRAST.has(tokens.words[k] ?? '') &&
      !afterTopic(tokens, k, hits) &&
      !afterPlayingDown(tokens, k)
    ) {
      return false;
    }
  }
  return true;
}

// Words a fronted topic may carry besides its own term: "it's my chest but …", "oh his face, …".
const TOPIC_LEAD = new Set(
  'my me his her their our your the this that it is its oh um er erm well so and right'.split(' '),
);

/**
 * Whether the contrast word at `k` follows a topic said on its own, with no verb: "my chest but
 * it's not sore exactly, it's more of a crushing". Nothing was said of the chest yet, so the
 * "but" turns to what it is like rather than away from it, as it does after "my chest x-ray was
 * clear but". Only a term of the match itself may be the topic.
 */
function afterTopic(tokens: Tokens, k: number, hits: readonly Hit[]): boolean {
  // Or after the topic and an aside set off by commas: "my chest, and i know it sounds daft,
  // but it's like a fist".
  const topic = hits.find((h) => h.end === k || asideUntil(tokens, h) === k);
  if (!topic) return false;
  for (let j = topic.start - 1; j >= 0; j--) {
    if ((tokens.breaks[j + 1] ?? NO_BREAK) >= PAUSE) return true;
    if (!TOPIC_LEAD.has(tokens.words[j] ?? '')) return false;
  }
  return true;
}

// "It's probably just indigestion but …": the patient plays the symptom down, and the "but"
// goes on to what worries them about it, so it does not turn away from it.
const PLAYING_DOWN = new Set(['probably', 'just', 'only', 'maybe', 'like', 'thought']);
// Unless the first part says it is all right: "it's probably just fine but my knee is sore".
const ALL_RIGHT = new Set(
  'not no never fine clear ok okay normal nothing better good healed settled gone'.split(' '),
);

/** Whether the clause before the contrast at `k` plays the symptom down and does not deny it. */
function afterPlayingDown(tokens: Tokens, k: number): boolean {
  let down = false;
  for (let j = k - 1; j >= 0; j--) {
    const w = tokens.words[j] ?? '';
    if (ALL_RIGHT.has(w) || CONTRAST.has(w)) return false;
    if (PLAYING_DOWN.has(w)) down = true;
    if ((tokens.breaks[j] ?? NO_BREAK) >= PAUSE) break;
  }
  return down;
}

/** Whether the sentence ending before `k` is a term of the match and nothing else of note. */
function topicAlone(tokens: Tokens, k: number, hits: readonly Hit[]): boolean {
  const topic = hits.find((h) => h.end === k);
  if (!topic) return false;
  for (let j = topic.start - 1; j >= 0; j--) {
    if ((tokens.breaks[j + 1] ?? NO_BREAK) >= STOP) return true;
    if (!TOPIC_LEAD.has(tokens.words[j] ?? '')) return false;
  }
  return true;
}

// Said while looking for words, they carry nothing: "my chest, i don't know, it's like …".
const FILLERS: readonly (readonly string[])[] = [
  'i do not know',
  'i dunno',
  'i mean',
  'you know',
  'sort of',
  'kind of',
  'how can i put it',
  'how do i put it',
  'how do i say',
  'what is the word',
].map((f) => f.split(' '));

const MAX_ASIDE = 8;

/** Where an aside set off by commas right after the hit ends (its closing comma), or -1. */
function asideUntil(tokens: Tokens, h: Hit): number {
  if ((tokens.breaks[h.end] ?? NO_BREAK) !== PAUSE) return -1;
  let close = h.end + 1;
  while (close < tokens.words.length && (tokens.breaks[close] ?? NO_BREAK) === NO_BREAK) close++;
  if (close >= tokens.words.length || (tokens.breaks[close] ?? NO_BREAK) !== PAUSE) return -1;
  return close - h.end > MAX_ASIDE ? -1 : close;
}

/**
 * Words between the match's terms that are an aside, not distance: a clause set off by commas
 * right after one of its terms ("my calf, the one on the right, it's gone all swollen") and
 * fillers ("i mean", "you know"). A listener hears the site carried over the aside to the sign.
 */
function asideWords(tokens: Tokens, hits: readonly Hit[], span: Span): number {
  const skipped = new Uint8Array(span.end - span.start);
  for (const h of hits) {
    const close = asideUntil(tokens, h);
    if (close < 0 || close >= span.end) continue;
    if ([...span.own].some((o) => o >= h.end && o < close)) continue;
    skipped.fill(1, h.end - span.start, close - span.start);
  }
  for (let i = span.start; i < span.end; i++) {
    for (const f of FILLERS) {
      if (f.every((w, j) => tokens.words[i + j] === w && !span.own.has(i + j))) {
        skipped.fill(1, i - span.start, Math.min(i + f.length, span.end) - span.start);
      }
    }
  }
  // A hedge right before a counted term is not distance: "took like eight of my mum's pills".
  for (let i = span.start; i < span.end; i++) {
    if (HEDGES.has(tokens.words[i] ?? '') && !span.own.has(i) && span.own.has(i + 1)) {
      if (COUNT_WORD.test(tokens.words[i + 1] ?? '')) skipped[i - span.start] = 1;
    }
  }
  return skipped.reduce((n, x) => n + x, 0);
}

const HEDGES = new Set(['like', 'about', 'around', 'roughly', 'maybe', 'probably', 'nearly']);
const COUNT_WORD =
  /^(?:\d+|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty)$/;

function matchPattern(tokens: Tokens, re: RegExp, mask: Uint8Array | undefined): boolean {
  const text = tokens.words.join(' ');
  // Character offset → word index, so the match can be read in context like any other.
  const wordAt = (offset: number) => text.slice(0, offset).split(' ').length - 1;
  const global = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
  for (const m of text.matchAll(global)) {
    if (!m[0]) continue;
    const start = wordAt(m.index);
    const end = wordAt(m.index + m[0].length - 1) + 1;
    const own = new Set<number>();
    for (let k = start; k < end; k++) own.add(k);
    if (mask && [...own].some((k) => mask[k])) continue;
    if (!judged(tokens, { start, end, own })) return true;
  }
  return false;
}

function runTest(tokens: Tokens, test: Test, present: ReadonlySet<string>): SafetyTrigger | null {
  switch (test.kind) {
    case 'phrase': {
      if (!mayOccur(test.terms, present)) return null;
      let best: Hit | undefined;
      for (const hit of findTerms(tokens, test.terms, maskOf(tokens, test.except))) {
        if (best && (test.order.get(hit.term.label) ?? 0) >= (test.order.get(best.term.label) ?? 0))
          continue;
        if (!judged(tokens, spanOf([hit]))) best = hit;
      }
      return best ? { kind: 'phrase', value: best.term.label } : null;
    }
    case 'concept': {
      const explain = matchConcept(tokens, test.concept, present);
      return explain ? { kind: 'concept', value: test.value, explain } : null;
    }
    case 'pattern':
      return matchPattern(tokens, test.re, maskOf(tokens, test.except))
        ? { kind: 'pattern', value: test.value }
        : null;
  }
}

/**
 * The first rule (in profile order) that the utterance triggers, or null. Pass compiled rules on
 * the hot path; a plain rule list is compiled on each call.
 */
export function matchSafety<R extends SafetyRuleSpec>(
  rules: readonly R[] | CompiledSafetyRules<R>,
  utteranceText: string,
): SafetyMatch<R> | null {
  return read(isCompiled(rules) ? rules : compileSafetyRules(rules), utteranceText, false).match;
}

/** What the context layer decided for one candidate: it stands (`fired`), or why not. */
export type ContextDecision =
  | 'fired'
  | Suppression
  /** A concept's `exceptWith` phrase in the same sentence. */
  | 'cancelled'
  /** A normal number said after the concept answers it (`normalReadingAfter`). */
  | 'normal-reading';

/** One place a rule's terms were heard, and what the context layer made of it. */
export interface SafetyCandidate {
  readonly ruleId: string;
  readonly kind: SafetyTrigger['kind'];
  /** The concept id or the pattern; empty for a rule's own phrases. */
  readonly value: string;
  /** Word indices into the trace's `tokens`, end exclusive. */
  readonly start: number;
  readonly end: number;
  readonly decision: ContextDecision;
}

export interface SafetyTrace<R extends SafetyRuleSpec = SafetyRuleSpec> {
  /** Exactly what {@link matchSafety} returns for the utterance. */
  readonly match: SafetyMatch<R> | null;
  /** The reading the candidates index: the words as heard, or with split words rejoined. */
  readonly tokens: Tokens;
  /** Every candidate of every rule, in rule order; each test stops at its first that fires. */
  readonly candidates: readonly SafetyCandidate[];
}

/**
 * {@link matchSafety} with its working shown: every candidate match of every rule (not only the
 * first rule's) and the context layer's decision on each, for the learned second stage
 * (context-model.ts) and the evaluation. Slower than matchSafety: it runs every rule.
 */
export function traceSafety<R extends SafetyRuleSpec>(
  rules: readonly R[] | CompiledSafetyRules<R>,
  utteranceText: string,
): SafetyTrace<R> {
  return read(isCompiled(rules) ? rules : compileSafetyRules(rules), utteranceText, true);
}

interface Tracing {
  ruleId: string;
  kind: SafetyTrigger['kind'];
  value: string;
  readonly out: SafetyCandidate[];
}

// Set only inside one synchronous read() with tracing on; every path that reads a candidate in
// context goes through judged() or note(), so none needs the sink passed down to it.
let tracing: Tracing | undefined;

function note(span: Span, decision: ContextDecision): null {
  if (tracing) {
    const { ruleId, kind, value, out } = tracing;
    out.push({ ruleId, kind, value, start: span.start, end: span.end, decision });
  }
  return null;
}

/** The context layer's reading of a candidate (context.ts), noted when tracing. */
function judged(tokens: Tokens, span: Span): Suppression | null {
  const why = suppressedBy(tokens, span);
  note(span, why ?? 'fired');
  return why;
}

function read<R extends SafetyRuleSpec>(
  compiled: CompiledSafetyRules<R>,
  utteranceText: string,
  trace: boolean,
): SafetyTrace<R> {
  const tokens = tokenizeUtterance(utteranceText);
  if (!tokens.words.length) return { match: null, tokens, candidates: [] };
  const heard = firstMatch(compiled, tokens, trace);
  if (heard.match) return { ...heard, tokens };
  // Only when the words as heard say nothing: a rejoined pair may add an escalation, never hide
  // one, and the record names the pair it put back.
  const rejoined = rejoinSplitWords(tokens, compiled.vocabulary);
  if (!rejoined) return { ...heard, tokens };
  const again = firstMatch(compiled, rejoined.tokens, trace);
  const match = again.match;
  const explain = match?.trigger.explain;
  if (!match || !explain) return { ...again, tokens: rejoined.tokens };
  const heardAs = [...(explain.heardAs ?? []), ...rejoined.notes];
  return {
    match: { ...match, trigger: { ...match.trigger, explain: { ...explain, heardAs } } },
    tokens: rejoined.tokens,
    candidates: again.candidates,
  };
}

function firstMatch<R extends SafetyRuleSpec>(
  compiled: CompiledSafetyRules<R>,
  tokens: Tokens,
  trace: boolean,
): { match: SafetyMatch<R> | null; candidates: SafetyCandidate[] } {
  const present = new Set(tokens.stems);
  const candidates: SafetyCandidate[] = [];
  let match: SafetyMatch<R> | null = null;
  for (const { rule, tests } of compiled.rules) {
    for (const test of tests) {
      if (trace) tracing = { ruleId: rule.id, kind: test.kind, value: test.value, out: candidates };
      try {
        const trigger = runTest(tokens, test, present);
        if (trigger && !match) match = { rule, trigger };
      } finally {
        tracing = undefined;
      }
      if (match && !trace) return { match, candidates };
    }
  }
  return { match, candidates };
}

/**
 * The first of `phrases` that occurs in the utterance (used for a profile's `endPhrases`), or
 * null. Exact words with an optional plural ending; no context reading, since saying "goodbye"
 * means goodbye whatever comes before it.
 */
export function containsPhrase(phrases: readonly string[], utteranceText: string): string | null {
  const text = normalizeUtterance(utteranceText);
  for (const phrase of phrases) {
    const normalized = normalizeUtterance(phrase);
    if (normalized && phraseRegExp(normalized).test(text)) return phrase;
  }
  return null;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A phrase's regex: whole words in order, each allowed a plural ending. */
function phraseRegExp(normalized: string): RegExp {
  const words = normalized.split(' ').map((w) => `${escapeRegExp(w)}(?:e?s)?`);
  return new RegExp(`(?:^| )${words.join(' ')}(?= |$)`, 'u');
}
