/**
 * The language the safety rules and the patient's words meet in: normalisation, tokens with
 * clause breaks, and a light stemmer. Neutral ground shared by the profile schema (prompts/) and
 * the matcher (agent/safety/), so neither imports the other's internals.
 *
 * Everything here is pure and deterministic: the same text always gives the same tokens.
 */

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
  // "I'd taken", "she'd been": had before a past participle, would otherwise.
  [/'d(?= (?:been|had|taken|gone|done|got|given|seen|eaten|fallen|[a-z]+ed)\b)/g, ' had'],
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
  // Regional reflexives: "killing meself".
  meself: 'myself',
  mesel: 'myself',
  mysel: 'myself',
  // Spoken American and Scottish forms, as recognisers and people write them.
  wanna: 'want to',
  gonna: 'going to',
  gotta: 'got to',
  tryna: 'trying to',
  outta: 'out of',
  kinda: 'kind of',
  sorta: 'sort of',
  dunno: 'do not know',
  aint: 'is not',
  // Caribbean: "mi cyaan lift mi arm".
  cyaan: 'cannot',
  kyaan: 'cannot',
  caan: 'cannot',
  cannae: 'cannot',
  canna: 'cannot',
  couldnae: 'could not',
  wouldnae: 'would not',
  didnae: 'did not',
  dinnae: 'do not',
  disnae: 'does not',
  isnae: 'is not',
  wasnae: 'was not',
  willnae: 'will not',
  hasnae: 'has not',
  havnae: 'have not',
  havenae: 'have not',
  winnae: 'will not',
  wullnae: 'will not',
  // v9: dialect spellings of everyday words, so every phrase meets them without a form of its
  // own. Only spellings that are not English words themselves.
  // Scots: "his mooth's gone doon at wan side", "keeled ower", "cannae get ma words oot".
  doon: 'down',
  oot: 'out',
  ower: 'over',
  roond: 'round',
  airm: 'arm',
  airms: 'arms',
  mooth: 'mouth',
  heid: 'head',
  richt: 'right',
  swelt: 'swelled',
  hingin: 'hanging',
  // "wan side" is one side; "wan" (pale) is not a word patients use on the phone.
  wan: 'one',
  // Jamaican: "mi tek nuff a di tablet dem", "mi jus waan dead".
  tek: 'take',
  tuk: 'took',
  waan: 'want',
  jus: 'just',
};

/**
 * Lower case, accents and punctuation removed, contractions spelled out, single spaces:
 * "I can't BREATHE!!" → "i cannot breathe". Phrases and utterances both pass through this, so
 * they meet on the same ground.
 */
export function normalizeUtterance(text: string): string {
  return expandWords(text);
}

function expandWords(text: string): string {
  let s = text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(APOSTROPHES, "'");
  // "38.5" is a reading, said "thirty eight point five": keep the point as that word.
  s = s.replace(/(\d)\.(?=\d)/g, '$1 point ');
  for (const [re, out] of CONTRACTIONS) s = s.replace(re, out);
  return s
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .split(' ')
    .map((w) => BARE_CONTRACTIONS[w] ?? w)
    .join(' ');
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

/** How strongly two neighbouring words are separated. */
export const NO_BREAK = 0;
/** A comma, dash or bracket: ends a negation's reach, not a symptom description. */
export const PAUSE = 1;
/** A full stop, question or exclamation mark, semicolon or colon: a new sentence. */
export const STOP = 2;

/** The patient's words as the matcher reads them. All arrays have one entry per word. */
export interface Tokens {
  /** Exactly the words of {@link normalizeUtterance}, in order. */
  readonly words: readonly string[];
  /** Each word reduced by {@link stemWord}, so "hurting", "hurts" and "hurt" meet. */
  readonly stems: readonly string[];
  /** `breaks[i]` is the punctuation between word i-1 and word i: NO_BREAK, PAUSE or STOP. */
  readonly breaks: readonly number[];
}

// Letters only, so normalisation keeps them as words; nobody says these.
const STOP_MARK = 'qqstopqq';
const PAUSE_MARK = 'qqpauseqq';
// A dot or comma between digits is part of a number ("38.5", "1,000"), not a clause break.
const STOP_PUNCT = /(?<!\d)\.(?!\d)|[!?;:…\n]+/g;
const PAUSE_PUNCT = /(?<!\d),(?!\d)|[—–()[\]"“”]|\s-+\s/g;

/** Words, stems and the clause breaks between them. Same words as normalizeUtterance. */
export function tokenizeUtterance(text: string): Tokens {
  const marked = text.replace(STOP_PUNCT, ` ${STOP_MARK} `).replace(PAUSE_PUNCT, ` ${PAUSE_MARK} `);
  const all = expandWords(marked).split(' ');
  const words: string[] = [];
  const stems: string[] = [];
  const breaks: number[] = [];
  let pending = NO_BREAK;
  for (const w of all) {
    if (!w) continue;
    if (w === STOP_MARK) pending = STOP;
    else if (w === PAUSE_MARK) pending = Math.max(pending, PAUSE);
    else {
      words.push(w);
      stems.push(stemWord(w));
      breaks.push(words.length === 1 ? NO_BREAK : pending);
      pending = NO_BREAK;
    }
  }
  return { words, stems, breaks };
}

// Forms a suffix rule would get wrong or leave apart. Both the profile's terms and the patient's
// words go through the same function, so consistency matters more than linguistics.
/** Each word and its inflections, stemmed to the word itself. */
function keepFinalE(words: Readonly<Record<string, readonly string[]>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(words).flatMap(([w, forms]) => [w, ...forms].map((f) => [f, w] as const)),
  );
}

const IRREGULAR: Readonly<Record<string, string>> = {
  breath: 'breath',
  breathe: 'breath',
  breathes: 'breath',
  breathing: 'breath',
  breathed: 'breath',
  breathin: 'breath',
  blew: 'blow',
  blown: 'blow',
  shook: 'shake',
  shaken: 'shake',
  swole: 'swell',
  breaths: 'breath',
  bled: 'bleed',
  died: 'die',
  dying: 'die',
  dies: 'die',
  lying: 'lie',
  felt: 'feel',
  fell: 'fall',
  fallen: 'fall',
  swollen: 'swell',
  heavier: 'heavy',
  heaviest: 'heavy',
  tighter: 'tight',
  // "getting shorter of breath": the comparative is still short of breath.
  shorter: 'short',
  tightest: 'tight',
  tightening: 'tight',
  tightened: 'tight',
  tightens: 'tight',
  // Words whose silent e is all that tells them from another word the rules use: "the plane"
  // is not "a plan", "a note" is not "not", "quite" is not "quit", "care" is not "car", "a
  // scare" is not "a scar", "the site" is not "sit", "a bite" is not "a bit", "hope" is not
  // "hop". Their inflections keep the e too, so "hoping" still meets "hope".
  ...keepFinalE({
    plane: ['planes'],
    note: ['notes', 'noted', 'noting'],
    quite: [],
    care: ['cares', 'cared', 'caring'],
    scare: ['scares', 'scared', 'scaring'],
    site: ['sites'],
    bite: ['bites', 'biting'],
    hope: ['hopes', 'hoped', 'hoping'],
  }),
  tingly: 'tingl',
  worse: 'worse',
  took: 'took',
  taken: 'took',
  threw: 'throw',
  thrown: 'throw',
  vomited: 'vomit',
  vomiting: 'vomit',
  vomits: 'vomit',
  coughed: 'cough',
  coughing: 'cough',
  coughs: 'cough',
  this: 'this',
  his: 'his',
  is: 'is',
  was: 'was',
  has: 'has',
  does: 'does',
  yes: 'yes',
  us: 'us',
  bus: 'bus',
  pus: 'pus',
  less: 'less',
  news: 'news',
  always: 'always',
  lips: 'lip',
  eyes: 'eye',
};

const VOWEL = /[aeiouy]/;

// Real words ending in a consonant + "in" that are not a dropped "-ing".
const G_DROP_WORDS = new Set([
  'within',
  'begin',
  'cousin',
  'muffin',
  'dolphin',
  'goblin',
  'napkin',
  'pumpkin',
  'bulletin',
  'vermin',
  'martin',
  'austin',
  'justin',
  'dustin',
  'kevin',
  'calvin',
  'latin',
  'satin',
  'tintin',
  'penguin',
]);

/**
 * A deliberately light stemmer: "hurting" → "hurt", "squeezes" → "squeez", "tightness" →
 * "tight", "dizziness" → "dizzy". It only has to send a word and its inflections to the same
 * stem; it never needs to produce a real word.
 */
export function stemWord(word: string): string {
  const irregular = IRREGULAR[word];
  if (irregular) return irregular;
  let w = word;
  if (w.length <= 3 || /\d/.test(w)) return w;
  const strip = (suffix: string, minStem: number): boolean => {
    if (w.endsWith(suffix) && w.length - suffix.length >= minStem) {
      const stem = w.slice(0, -suffix.length);
      if (!VOWEL.test(stem)) return false;
      w = stem;
      return true;
    }
    return false;
  };
  if (strip('nesses', 3) || strip('ness', 3)) {
    // tightness → tight, dizziness → dizzi (→ dizzy below)
  } else if (strip('ies', 2) || strip('ied', 2)) {
    w += 'y';
  } else if (strip('ing', 3) || strip('ed', 3)) {
    // Doubled final consonant: stopped → stopp → stop; but swell, pass, fizz stay.
    if (/([^aeiouylsz])\1$/.test(w)) w = w.slice(0, -1);
  } else if (/[^aeiouy]in$/.test(w) && !G_DROP_WORDS.has(w) && strip('in', 3)) {
    // Dropped g: "squeezin", "swellin", "bleedin" meet "squeezing" and "swelling".
    if (/([^aeiouylsz])\1$/.test(w)) w = w.slice(0, -1);
  } else if (strip('ily', 3)) {
    w += 'y';
  } else if (strip('ly', 3)) {
    // tightly → tight
  } else if (w.endsWith('ss') || w.endsWith('us') || w.endsWith('is')) {
    // loss, virus, this: not plurals
  } else if (strip('es', 3) && /(?:ch|sh|x|z|ss)$/.test(w)) {
    // aches → ach (ache → ach below), crushes → crush
  } else if (w.endsWith('s') && !w.endsWith('ss')) {
    if (w.length > 3) w = w.slice(0, -1);
  }
  if (w.endsWith('i')) w = `${w.slice(0, -1)}y`;
  if (w.length > 3 && w.endsWith('e') && !w.endsWith('ee')) w = w.slice(0, -1);
  return w;
}

/** A symptom concept as the profile stores it (prompts/schema.ts `SafetyConcept`). */
export interface SafetyConceptSpec {
  readonly id: string;
  /**
   * Term classes, every one of which must be heard within `window` words of the others in one
   * sentence, in any order: `{ site: [chest, breastbone], sensation: [pain, pressure] }`.
   */
  readonly all?: Readonly<Record<string, readonly string[]>> | undefined;
  /** Most words allowed between the first and the last class term. @defaultValue 8 */
  readonly window?: number | undefined;
  /** Whole phrases that are this concept on their own ("heart attack"). */
  readonly phrases?: readonly string[] | undefined;
  /** Speech-recognition confusions: heard → meant ("chess" → "chest"). */
  readonly heardAs?: Readonly<Record<string, string>> | undefined;
  /** Other ways of saying words in the terms: meant → forms ("my" → "me", "his", "her"). */
  readonly sayAlso?: Readonly<Record<string, readonly string[]>> | undefined;
  /** Phrases whose words never count towards this concept ("chest of drawers"). */
  readonly except?: readonly string[] | undefined;
  /**
   * Phrases that, said anywhere in the same sentence, mean this concept's words are used in
   * another sense, so none of its matches in that sentence count ("slept" for "went out like a
   * light"). Stronger than `except`, which only hides the phrase's own words: keep these few.
   */
  readonly exceptWith?: readonly string[] | undefined;
  /** Measured values said as numbers that are this concept (see {@link SafetyReadingSpec}). */
  readonly readings?: readonly SafetyReadingSpec[] | undefined;
}

/**
 * A measurement said as a number: "my sugar is fifty two", "temperature's a hundred and two".
 * Fires when a number inside one of `ranges` is said within `window` words of a `near` term in
 * the same sentence.
 */
export interface SafetyReadingSpec {
  /** What is measured, as the patient names it: sugar, glucose, meter, temperature. */
  readonly near: readonly string[];
  /** A number n fires when `from <= n < below` for one range (`from` 0, `below` unbounded). */
  readonly ranges: readonly SafetyReadingRange[];
  /** Most words between the term and the number. @defaultValue 6 */
  readonly window?: number | undefined;
  /**
   * Words that may follow the number as this reading's unit even where they would otherwise say
   * it counts something else: `percent` for oxygen saturation.
   */
  readonly units?: readonly string[] | undefined;
  /**
   * A number with a decimal part may fire with no `near` term, when nothing else in its sentence
   * is measured ("thirty eight point two this morning" for a temperature).
   */
  readonly decimalAlone?: boolean | undefined;
  /**
   * A number that is the whole utterance apart from filler and time words ("a hundred and two",
   * "it said a hundred and three this morning") may fire with no `near` term: the answer is a
   * bare reading.
   */
  readonly numberAlone?: boolean | undefined;
  /**
   * The `near` terms do not name the measurement (signs such as "sweating"), so the number must
   * stand bare: followed by nothing, a time or a new clause, never by a noun it counts.
   */
  readonly bareNumber?: boolean | undefined;
}

export interface SafetyReadingRange {
  readonly from?: number | undefined;
  readonly below?: number | undefined;
}

const stemsOf = (text: string): string[] =>
  normalizeUtterance(text).split(' ').filter(Boolean).map(stemWord);

/** Why a concept can never match, or undefined when it can. Used by the profile schema too. */
export function conceptProblem(c: SafetyConceptSpec): string | undefined {
  if (typeof c !== 'object' || c === null) {
    return `'${String(c)}' names a library concept that was not copied in; load the profile through prompts/loader.ts`;
  }
  const classes = Object.entries(c.all ?? {});
  if (!classes.length && !c.phrases?.length && !c.readings?.length) {
    return 'needs term classes under all, phrases or readings';
  }
  if (classes.length === 1) {
    return `has only one term class ('${classes[0]?.[0] ?? ''}'); a single class would fire on any one of its words, so list those under phrases instead`;
  }
  for (const [name, terms] of classes) {
    if (!terms.length) return `term class '${name}' has no terms`;
    const empty = terms.find((t) => !stemsOf(t).length);
    if (empty !== undefined) return `term '${empty}' in class '${name}' has no words`;
  }
  for (const r of c.readings ?? []) {
    const empty = r.near.find((t) => !stemsOf(t).length);
    if (empty !== undefined) return `reading term '${empty}' has no words`;
    const bad = r.ranges.find(
      (x) =>
        (x.from === undefined && x.below === undefined) || (x.from ?? 0) >= (x.below ?? Infinity),
    );
    if (bad) {
      return `reading range ${JSON.stringify(bad)} is empty: give from (lowest that fires) and/or below (first that does not), from < below`;
    }
  }
  const emptyWith = c.exceptWith?.find((p) => !stemsOf(p).length);
  if (emptyWith !== undefined) return `exceptWith phrase '${emptyWith}' has no words`;
  const emptyPhrase = c.phrases?.find((p) => !stemsOf(p).length);
  if (emptyPhrase !== undefined) return `phrase '${emptyPhrase}' has no words`;
  return undefined;
}
