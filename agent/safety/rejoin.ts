/**
 * Words the recogniser split in two ("breath less", "with out", "suffer cating", "high po"),
 * put back together when the pair spells, or sounds like, a word of the rules themselves.
 *
 * Listing every split under `heardAs` never ends, so this reads them for every concept alike.
 * It is only ever a second reading: the matcher tries the words as heard first, and reads the
 * rejoined words only when that found nothing, so a rejoin can add an escalation but never hide
 * one. Pairs are joined only across no punctuation, and only into a word of the rules, so an
 * innocent pair has to spell a symptom word to matter.
 */
import { NO_BREAK, stemWord, type Tokens } from '../../prompts/safety-language.ts';

/** The rules' own words, for rejoining. Build once with {@link buildVocabulary}. */
export interface Vocabulary {
  /** Each word of the rules' terms, by its stem, so "breathlessness" is found as "breathless". */
  readonly byStem: ReadonlyMap<string, string>;
  /** Words long enough to be matched by sound, by the first letter of their sound key. */
  readonly bySound: ReadonlyMap<string, readonly { readonly word: string; readonly key: string }[]>;
}

/** One pair put back together, for the escalation's `heardAs` (`breath less → breathless`). */
export interface Rejoined {
  readonly tokens: Tokens;
  readonly notes: readonly string[];
}

// A joined pair shorter than this is too often two real words ("a way", "in to", "my self").
const MIN_JOINED = 6;
// Below this a word is matched by its sound key exactly ("high po" is "hypo"); from it, one slip
// is allowed ("in fection"); from LONG_WORD, two ("suffer cating"). Seven letters let "am ready"
// be "already" and "week and" "weekend".
const MIN_FUZZY = 8;
const LONG_WORD = 10;
// Words never joined: they make real compounds that are not what the patient said ("no one",
// "now her" is not "nowhere").
const NEVER_JOIN = new Set(
  'no not a an the i is it he she her his him me my you your our them they we'.split(' '),
);
// A rejoined word shorter than this is too often an accident of the stemmer ("so ring" → "sore").
const MIN_WORD = 5;
// A number said as words is a number ("for ten minutes" is not "fourteen").
const NUMBER_WORD =
  /^(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred)$/;

/**
 * A rough key for how a word sounds, so spellings of one sound meet: "high po" and "hypo" both
 * give "hipo", "suffer" and "suffo" differ by one letter. Doubled letters are one sound.
 */
export function soundKey(word: string): string {
  return word
    .replace(/igh/g, 'i')
    .replace(/ph/g, 'f')
    .replace(/ck/g, 'k')
    .replace(/wh/g, 'w')
    .replace(/c(?=[eiy])/g, 's')
    .replace(/y/g, 'i')
    .replace(/(.)\1+/g, '$1');
}

/** The rules' words, from the labels of their terms and phrases. */
export function buildVocabulary(labels: Iterable<string>): Vocabulary {
  const byStem = new Map<string, string>();
  const bySound = new Map<string, { word: string; key: string }[]>();
  for (const label of labels) {
    for (const word of label.split(' ')) {
      if (word.length < 4 || /\d/.test(word)) continue;
      const stem = stemWord(word);
      if (byStem.has(stem)) continue;
      byStem.set(stem, word);
      const key = soundKey(word);
      const list = bySound.get(key[0] ?? '') ?? [];
      list.push({ word, key });
      bySound.set(key[0] ?? '', list);
    }
  }
  return { byStem, bySound };
}

/** Levenshtein distance, giving up once it is over `max`. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      row.push(d);
      best = Math.min(best, d);
    }
    if (best > max) return max + 1;
    prev = row;
  }
  return prev[b.length] ?? max + 1;
}

/**
 * The rules' word that the pair `a` `b` spells ("breath less") or sounds like ("suffer cating"),
 * or undefined. The pair must make something neither half is: "pain in" is "pain" with a
 * dropped g to the stemmer, not a new word.
 */
function wordFor(a: string, b: string, vocab: Vocabulary): string | undefined {
  const joined = a + b;
  const stem = stemWord(joined);
  if (stem === stemWord(a) || stem === stemWord(b)) return undefined;
  const exact = vocab.byStem.get(stem);
  if (exact) return exact.length >= MIN_WORD ? exact : undefined;
  // With a slip only when neither half is a word of the rules ("temperature of" is what was
  // said) and both are words of their own, not an ending; the same sound ("high po") always.
  const halfIsWord = vocab.byStem.has(stemWord(a)) || vocab.byStem.has(stemWord(b));
  const key = soundKey(joined);
  let best: { word: string; d: number } | undefined;
  for (const v of vocab.bySound.get(key[0] ?? '') ?? []) {
    if (v.key.slice(0, 2) !== key.slice(0, 2) || Math.abs(v.key.length - key.length) > 1) continue;
    const slips =
      halfIsWord || a.length < 3 || b.length < 3 ? 0 : v.word.length >= LONG_WORD ? 2 : 1;
    const max = v.word.length >= MIN_FUZZY ? slips : 0;
    const d = distance(key, v.key, max);
    if (d <= max && (!best || d < best.d)) best = { word: v.word, d };
  }
  return best?.word;
}

/**
 * The words with each split pair put back as the rules' word it spells or sounds like, or null
 * when no pair is one. A pair is joined only with no punctuation between its halves.
 */
export function rejoinSplitWords(tokens: Tokens, vocab: Vocabulary): Rejoined | null {
  const words: string[] = [];
  const stems: string[] = [];
  const breaks: number[] = [];
  const notes: string[] = [];
  const { words: w, breaks: b } = tokens;
  for (let i = 0; i < w.length; i++) {
    const a = w[i] ?? '';
    const next = w[i + 1];
    const joined = next === undefined ? '' : a + next;
    const joinable =
      next !== undefined &&
      (b[i + 1] ?? NO_BREAK) === NO_BREAK &&
      joined.length >= MIN_JOINED &&
      next.length >= 2 &&
      !NEVER_JOIN.has(a) &&
      !NEVER_JOIN.has(next) &&
      !NUMBER_WORD.test(a) &&
      !NUMBER_WORD.test(next) &&
      !/\d/.test(joined);
    const word = joinable ? wordFor(a, next, vocab) : undefined;
    words.push(word ?? a);
    stems.push(stemWord(word ?? a));
    breaks.push(b[i] ?? NO_BREAK);
    if (word) {
      notes.push(`${a} ${next ?? ''} → ${word}`);
      i++;
    }
  }
  return notes.length ? { tokens: { words, stems, breaks }, notes } : null;
}
