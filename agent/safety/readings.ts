/**
 * Numbers a patient reads off a device: "my meter says fifty two", "temperature's a hundred and
 * two", "two point nine". Safety rules name thresholds (a glucose under 70 mg/dL or 4 mmol/L, a
 * fever from 100.4 °F or 38 °C) that no list of words can cover, so the numbers are read.
 *
 * The number words themselves are read by the protocol's reader (agent/protocol/numbers.ts),
 * after repairing the slips speech recognition makes inside a spoken number ("a hundred in two",
 * "hundred an three", "one oh two", "point to").
 */
import { readNumbers, SMALL_WORDS, TENS_WORDS } from '../protocol/numbers.ts';

export interface Reading {
  readonly value: number;
  /** Word span [start, end) in the utterance's words. */
  readonly start: number;
  readonly end: number;
}

// Number words from one upward (zero is read apart, with 'oh').
const NUMERAL = new Set<string>([...SMALL_WORDS.slice(1), ...TENS_WORDS.filter(Boolean)]);
// Homophones of digits, only ever read as digits inside a number ("hundred and to").
const HOMOPHONE: Readonly<Record<string, string>> = {
  to: 'two',
  too: 'two',
  for: 'four',
  fore: 'four',
  won: 'one',
  ate: 'eight',
};
// What "and" sounds like after "hundred": "a hundred in two", "hundred an three", "hundred n one".
const AND_SLIPS = new Set(['in', 'an', 'n', 'end', 'on']);
const ZERO_WORDS = new Set(['oh', 'o', 'zero']);
const TENS = new Set(TENS_WORDS.filter(Boolean));
// After a tens word only the slips that are not everyday words there ("thirty to forty" is a
// range, "ninety for a while" a duration).
const DIGIT_SLIPS: Readonly<Record<string, string>> = { ate: 'eight', won: 'one', fore: 'four' };

// Before "to point …" these make "to" the preposition: "went up to point five".
const MOVED_TO = new Set(['up', 'down', 'back', 'went', 'gone', 'came', 'come', 'from', 'fell']);

const isNumeral = (w: string | undefined): boolean =>
  w !== undefined && (NUMERAL.has(w) || /^\d+$/.test(w) || HOMOPHONE[w] !== undefined);

/**
 * The words with the recogniser's slips inside spoken numbers repaired, one word for one word
 * so that positions still match the utterance.
 */
export function repairNumberWords(words: readonly string[]): string[] {
  const out = [...words];
  for (let i = 0; i < out.length; i++) {
    const w = out[i] ?? '';
    const prev = out[i - 1];
    const next = out[i + 1];
    if (prev === 'hundred' && (AND_SLIPS.has(w) || w === 'and') && isNumeral(next)) {
      out[i] = 'and';
      const h = next === undefined ? undefined : HOMOPHONE[next];
      if (h) out[i + 1] = h;
    } else if (w === 'one' && ZERO_WORDS.has(next ?? '') && isNumeral(out[i + 2])) {
      // "one oh two" is a hundred and two.
      out[i] = 'hundred';
      out[i + 1] = 'and';
      const h = HOMOPHONE[out[i + 2] ?? ''];
      if (h) out[i + 2] = h;
    } else if (
      TENS.has(prev ?? '') &&
      DIGIT_SLIPS[w] &&
      (i + 1 >= out.length || !isNumeral(next))
    ) {
      // "thirty ate point seven": a digit heard as a word after a tens word.
      out[i] = DIGIT_SLIPS[w] ?? w;
    } else if (w === 'point' && next !== undefined && HOMOPHONE[next] && isNumeral(prev)) {
      out[i + 1] = HOMOPHONE[next] ?? next;
    } else if (
      HOMOPHONE[w] &&
      next === 'point' &&
      isNumeral(out[i + 2]) &&
      !isNumeral(prev) &&
      !MOVED_TO.has(prev ?? '')
    ) {
      // "it said to point eight": a digit heard as a word before "point", unless it says where
      // the number went ("came down to point eight").
      out[i] = HOMOPHONE[w] ?? w;
    }
  }
  return out;
}

// "in the eighties", "in the low fifties", "in the threes": a range said as a plural.
const DECADES: Readonly<Record<string, number>> = {
  twenties: 20,
  thirties: 30,
  forties: 40,
  fifties: 50,
  sixties: 60,
  seventies: 70,
  eighties: 80,
  nineties: 90,
  twos: 2,
  threes: 3,
  fours: 4,
  fives: 5,
  sixes: 6,
  sevens: 7,
  eights: 8,
  nines: 9,
};
const DECADE_LEAD = new Set(['the', 'low', 'high', 'mid', 'upper', 'lower', 'early', 'late']);
const LOW_END = new Set(['low', 'lower', 'early']);
const HIGH_END = new Set(['high', 'upper', 'late']);

/**
 * Every number said in the words, as a value and a span. Ordinals ("3rd") are not readings.
 * Two more ways of saying a reading are read here: American three-digit readings said in two
 * parts ("one twenty" is 120, "one thirty two" is 132) and a range said as a plural after "the",
 * "low", "mid" or "high" ("in the low eighties" is 82, "in the threes" is 3.5).
 */
export function readReadings(words: readonly string[]): Reading[] {
  const numbers = readNumbers(repairNumberWords(words))
    .filter((m) => !m.ordinal && !m.standalone)
    .map((m) => ({ value: m.value, start: m.start, end: m.end }));
  const out: Reading[] = [];
  for (let i = 0; i < numbers.length; i++) {
    const a = numbers[i];
    const b = numbers[i + 1];
    if (!a) continue;
    if (
      b &&
      a.end === b.start &&
      a.end - a.start === 1 &&
      Number.isInteger(a.value) &&
      a.value >= 1 &&
      a.value <= 2 &&
      Number.isInteger(b.value) &&
      b.value >= 10 &&
      b.value <= 99 &&
      words[a.start] !== 'a'
    ) {
      out.push({ value: a.value * 100 + b.value, start: a.start, end: b.end });
      i++;
      continue;
    }
    // "thirty nine five", "thirty eight six": a temperature with its "point" dropped (said
    // fast, or lost by the recogniser). Only a body temperature (35 to 42 said as a tens word
    // and a digit) followed at once by one digit word, with no further number, is read so.
    if (
      b &&
      a.end === b.start &&
      a.end - a.start === 2 &&
      TENS.has(words[a.start] ?? '') &&
      Number.isInteger(a.value) &&
      a.value >= 35 &&
      a.value <= 42 &&
      b.end - b.start === 1 &&
      Number.isInteger(b.value) &&
      b.value >= 0 &&
      b.value <= 9 &&
      !isNumeral(words[b.end])
    ) {
      out.push({ value: a.value + b.value / 10, start: a.start, end: b.end });
      i++;
      continue;
    }
    out.push(a);
  }
  for (let i = 1; i < words.length; i++) {
    const base = DECADES[words[i] ?? ''];
    const lead = words[i - 1] ?? '';
    if (base === undefined || !DECADE_LEAD.has(lead)) continue;
    const step = base >= 10 ? 10 : 1;
    const part = LOW_END.has(lead) ? 0.2 : HIGH_END.has(lead) ? 0.8 : 0.5;
    out.push({ value: base + step * part, start: i, end: i + 1 });
  }
  return out.sort((x, y) => x.start - y.start);
}
