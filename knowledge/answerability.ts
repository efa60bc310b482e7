/**
 * Whether a passage may be used as the answer to a question, beyond its score: the checks a
 * passage must pass before it is read to a patient or given to the LLM, each with the reason it
 * refuses, so a deferral can say why.
 *
 * Word-level retrieval cannot tell "can they do my other knee at the same time" from a passage
 * about the knee, or "what if I take a 5 milligram tablet" from the passage giving the 2.5
 * milligram dose: the words it shares are the words that make it look like an answer. So:
 *
 * - **qualifier_missing**: words that narrow a question to a case a passage answers only if it
 *   says so: someone else (a child, a partner, a friend), the other or both sides, the same time,
 *   an alternative ("instead"), alcohol, and quantities. A question naming one must get a passage
 *   naming it too. The documents speak to the patient about their own care at the doses they
 *   give; anything narrower is for the care team.
 * - **term_elsewhere**: a question word that only one passage holds (it is that specific in
 *   these documents) while this passage lacks it: the question joins two things the documents
 *   keep apart ("my preventer during an asthma attack"), and no one passage answers it.
 * - **term_unknown**: a question word no approved passage holds: the question asks about
 *   something the documents do not cover ("in the dishwasher", "do they itch"). The score
 *   already weighs such a word as the rarest, but a question with two words the passage holds
 *   and one it cannot ("dissolving stitches", "itch") still scored 0.58. This refuses rewordings
 *   too ("a manual car", "in bed"): the lay vocabulary is where a clinic teaches the agent a
 *   patient's word for a passage's.
 * - **topic_missing**: a topic word (vocabulary.ts) the passage lacks, as before.
 * - **low_score**: the share of the question's information the passage holds, as before.
 *
 * These are lists of everyday words and one collection statistic, not of the evaluation's
 * questions; they are checked on dev, test and dev-2 only (eval/knowledge).
 */

export const REFUSAL_RULES = [
  'low_score',
  'topic_missing',
  'qualifier_missing',
  'term_elsewhere',
  'term_unknown',
] as const;
export type RefusalRule = (typeof REFUSAL_RULES)[number];

/** Why a passage cannot answer; `terms` are search terms or qualifier keys, never logged. */
export interface Refusal {
  rule: Exclude<RefusalRule, 'low_score'>;
  terms: string[];
}

/**
 * Qualifier groups: any word of a group in a question needs any word of the same group in the
 * passage. Single words, matched after lower-casing and dropping a possessive "'s".
 */
const QUALIFIER_WORDS: Readonly<Record<string, readonly string[]>> = {
  child: [
    'child',
    'children',
    'kid',
    'kids',
    'baby',
    'babies',
    'toddler',
    'infant',
    'son',
    'daughter',
    'grandchild',
    'grandchildren',
    'grandson',
    'granddaughter',
    'grandkids',
    'teenager',
  ],
  someone_else: [
    'husband',
    'wife',
    'partner',
    'friend',
    'friends',
    'brother',
    'sister',
    'mum',
    'mom',
    'dad',
    'mother',
    'father',
    'family',
    'neighbour',
    'neighbor',
    'relative',
  ],
  other: ['other', 'another', 'others'],
  both: ['both'],
  instead: ['instead', 'alternative', 'alternatives', 'swap', 'switch'],
  alcohol: [
    'alcohol',
    'alcoholic',
    'booze',
    'beer',
    'beers',
    'wine',
    'wines',
    'spirits',
    'lager',
    'pint',
    'pints',
    'whisky',
    'whiskey',
    'vodka',
    'gin',
    'rum',
    'cider',
    'drunk',
    'drinking',
  ],
};

/** Phrases that are a qualifier only together. */
const QUALIFIER_PHRASES: readonly { key: string; pattern: RegExp }[] = [
  { key: 'same_time', pattern: /\b(?:same time|at once|simultaneous(?:ly)?)\b/ },
  { key: 'instead', pattern: /\brather than\b/ },
];

/** Qualifier words that are idioms in a question, not a narrower case: "the other day" is when. */
const IDIOMS = /\b(?:the other (?:day|night|week|month)|each other|other than that)\b/g;
/** Only in questions: "drinking" in "drinking water" is no alcohol; a passage may say either. */
const PASSAGE_ONLY = new Set(['drinking']);

const WORD_GROUP = new Map<string, string>();
for (const [key, ws] of Object.entries(QUALIFIER_WORDS)) for (const w of ws) WORD_GROUP.set(w, key);

const NUMBER_WORDS: Readonly<Record<string, number>> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  seventeen: 17,
  eighteen: 18,
  nineteen: 19,
  twenty: 20,
  thirty: 30,
  forty: 40,
  fifty: 50,
  sixty: 60,
  seventy: 70,
  eighty: 80,
  ninety: 90,
  hundred: 100,
  half: 0.5,
  twice: 2,
  double: 2,
};

/** Units a number may count, each spelling to one name. */
const UNITS: ReadonlyMap<string, string> = new Map(
  Object.entries({
    second: ['second', 'seconds', 'sec', 'secs'],
    minute: ['minute', 'minutes', 'min', 'mins'],
    hour: ['hour', 'hours', 'hr', 'hrs'],
    day: ['day', 'days'],
    night: ['night', 'nights'],
    week: ['week', 'weeks'],
    month: ['month', 'months'],
    year: ['year', 'years'],
    time: ['time', 'times'],
    puff: ['puff', 'puffs'],
    tablet: ['tablet', 'tablets', 'pill', 'pills', 'capsule', 'capsules'],
    dose: ['dose', 'doses'],
    gram: ['gram', 'grams', 'g'],
    milligram: ['milligram', 'milligrams', 'mg'],
    drink: ['drink', 'drinks', 'glass', 'glasses', 'unit', 'units', 'pint', 'pints'],
    degree: ['degree', 'degrees'],
  }).flatMap(([unit, ws]) => ws.map((w) => [w, unit] as const)),
);

/** Words joining a range, whose unit is given once: "10 to 14 days", "four or six weeks". */
const RANGE = new Set(['to', 'or', 'and', '-']);

interface Quantity {
  value: string;
  unit?: string;
}

/**
 * Numbers (decimals whole: "2.5" is one number, not 2 and 5; number words as digits) and the
 * unit after each, carried back across a range. "one" is a number in a question only before a
 * unit ("one day", "one puff"): otherwise it is a pronoun ("a new one", "one of my tablets").
 */
function quantitiesOf(text: string, side: 'question' | 'passage'): Quantity[] {
  const toks = text.match(/\d+(?:\.\d+)?|[a-z]+|-/g) ?? [];
  const out: Quantity[] = [];
  let pending: Quantity[] = [];
  toks.forEach((tok, i) => {
    const n = /^\d/.test(tok) ? Number(tok) : NUMBER_WORDS[tok];
    if (n !== undefined) {
      if (side === 'question' && tok === 'one' && !UNITS.has(toks[i + 1] ?? '')) return;
      const q: Quantity = { value: String(n) };
      out.push(q);
      pending = RANGE.has(toks[i - 1] ?? '') ? [...pending, q] : [q];
      return;
    }
    const unit = UNITS.get(tok);
    if (unit && pending.length) for (const q of pending) q.unit = unit;
    if (!RANGE.has(tok)) pending = [];
  });
  return out;
}

/**
 * A quantity's keys. A question's: `number:<n>:<unit>`, or `number:<n>` with no unit. A
 * passage's: `number:<n>` for any mention, with `:<unit>`, or `:?` when it gives none, so "one
 * puff" does not answer "one day" but "up to 10" answers "10 puffs" (see satisfied()).
 */
function numberKeys(text: string, side: 'question' | 'passage'): string[] {
  return quantitiesOf(text, side).flatMap((q) => {
    const base = `number:${q.value}`;
    if (side === 'question') return [q.unit ? `${base}:${q.unit}` : base];
    return [base, `${base}:${q.unit ?? '?'}`];
  });
}

/** Whether a passage's qualifiers hold a question's qualifier. */
function satisfied(qualifier: string, passage: ReadonlySet<string>): boolean {
  if (passage.has(qualifier)) return true;
  const unitless = /^(number:[^:]+):[a-z]+$/.exec(qualifier)?.[1];
  return unitless !== undefined && passage.has(`${unitless}:?`);
}

/**
 * The qualifiers a text names. `question` applies the question-side readings (idioms dropped,
 * "one" only before a unit, "drinking" not alone); a passage's are read generously, so that a
 * passage saying "one" or "drinking" may satisfy a question.
 */
export function qualifiersOf(text: string, side: 'question' | 'passage'): string[] {
  let lower = text.toLowerCase().replace(/[\u2018\u2019]/g, "'");
  if (side === 'question') lower = lower.replace(IDIOMS, ' ');
  const out = new Set<string>();
  for (const { key, pattern } of QUALIFIER_PHRASES) if (pattern.test(lower)) out.add(key);
  for (const raw of lower.match(/[a-z]+(?:'[a-z]+)?/g) ?? []) {
    const w = raw.replace(/'s$/, '');
    const key = WORD_GROUP.get(w);
    if (key && (side === 'passage' || !PASSAGE_ONLY.has(w))) out.add(key);
  }
  for (const n of numberKeys(lower, side)) out.add(n);
  return [...out];
}

/**
 * A term is specific when at most this share of the passages hold it (and at least one, so in a
 * small collection a term one passage holds): over the three sample leaflets (38 passages) that
 * is one passage. dev, test and dev-2 chose it: at two passages (0.06) three rewordings that
 * answer were refused for "tablet" or "four" ("4 grams"), and no more unanswerable ones.
 */
export const SPECIFIC_SHARE = 0.03;

export function specificDf(passages: number): number {
  return Math.max(1, Math.floor(passages * SPECIFIC_SHARE));
}

export interface AnswerabilityInput {
  /** The question's search terms (text.ts searchTerms). */
  terms: readonly string[];
  /** The terms the passage holds (of `terms`). */
  held: ReadonlySet<string>;
  /** The question's topic words. */
  topics: readonly string[];
  /** The question's qualifiers (qualifiersOf, question side). */
  qualifiers: readonly string[];
  /** The passage's qualifiers (qualifiersOf, passage side). */
  passageQualifiers: ReadonlySet<string>;
  /** How many passages hold a term. */
  df: (term: string) => number;
  /** The most passages a specific term is held by (specificDf). */
  specificMax: number;
}

/** Every reason the passage cannot answer the question, whatever its score; none: it may. */
export function refusalsOf(a: AnswerabilityInput): Refusal[] {
  const out: Refusal[] = [];
  const topics = a.topics.filter((t) => !a.held.has(t));
  if (topics.length) out.push({ rule: 'topic_missing', terms: topics });
  const qualifiers = a.qualifiers.filter((q) => !satisfied(q, a.passageQualifiers));
  if (qualifiers.length) out.push({ rule: 'qualifier_missing', terms: qualifiers });
  const elsewhere = a.terms.filter((t) => {
    if (a.held.has(t) || topics.includes(t)) return false;
    const n = a.df(t);
    return n > 0 && n <= a.specificMax;
  });
  if (elsewhere.length) out.push({ rule: 'term_elsewhere', terms: elsewhere });
  const unknown = a.terms.filter((t) => a.df(t) === 0 && !topics.includes(t));
  if (unknown.length) out.push({ rule: 'term_unknown', terms: unknown });
  return out;
}
