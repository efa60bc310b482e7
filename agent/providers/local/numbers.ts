/**
 * Whole numbers as people say them, for recognition grammars: "seven", "forty two",
 * "one hundred and five". Pure.
 */
import { SMALL_WORDS, TENS_WORDS } from '../../protocol/numbers.ts';

// One list of number words for the whole agent: the dialogue engine reads what this hears.
const ONES = SMALL_WORDS;
const TENS = TENS_WORDS;

/** The largest number the grammars spell out; larger ranges are clamped to it. */
export const MAX_SPOKEN_NUMBER = 999;

function below100(n: number): string {
  if (n < 20) return ONES[n]!;
  const tens = TENS[Math.floor(n / 10)]!;
  const unit = n % 10;
  return unit === 0 ? tens : `${tens} ${ONES[unit]!}`;
}

function assertSpeakable(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > MAX_SPOKEN_NUMBER) {
    throw new RangeError(`expected a whole number from 0 to ${MAX_SPOKEN_NUMBER}, got ${n}`);
  }
}

/** The usual way to say `n` (0–999): 42 → "forty two", 105 → "one hundred five". */
export function numberToWords(n: number): string {
  assertSpeakable(n);
  if (n < 100) return below100(n);
  const hundreds = `${ONES[Math.floor(n / 100)]!} hundred`;
  const rest = n % 100;
  return rest === 0 ? hundreds : `${hundreds} ${below100(rest)}`;
}

/**
 * Every way the grammar accepts for `n`, the usual one first: 100 → "one hundred",
 * "a hundred"; 105 → "one hundred five", "one hundred and five" (and "a hundred ..." for 1xx).
 */
export function numberPhrases(n: number): string[] {
  assertSpeakable(n);
  if (n < 100) return [below100(n)];
  const head = ONES[Math.floor(n / 100)]!;
  const rest = n % 100;
  const heads = head === 'one' ? ['one', 'a'] : [head];
  const out: string[] = [];
  for (const h of heads) {
    if (rest === 0) out.push(`${h} hundred`);
    else out.push(`${h} hundred ${below100(rest)}`, `${h} hundred and ${below100(rest)}`);
  }
  return out;
}

/**
 * The whole numbers a number question can be answered with: `[min, max]` rounded inwards and
 * clamped to 0–{@link MAX_SPOKEN_NUMBER}. A missing min is 0; a missing max is 100, or min + 100
 * when min is 100 or more. `undefined` when no whole number in the range can be spoken (min 1000,
 * or min 2.2 with max 2.8). Negative numbers and decimals are not spoken.
 */
export function spokenRange(
  min: number | undefined,
  max: number | undefined,
): { lo: number; hi: number } | undefined {
  const lo = Math.max(0, Math.ceil(min ?? 0));
  const hi = Math.min(MAX_SPOKEN_NUMBER, Math.floor(max ?? (lo < 100 ? 100 : lo + 100)));
  return Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi ? { lo, hi } : undefined;
}

/** The value of number words produced by {@link numberPhrases}; `undefined` for anything else. */
export function wordsToNumber(words: string): number | undefined {
  const tokens = words.trim().toLowerCase().split(/\s+/).filter(Boolean);
  let i = 0;
  let value = 0;
  const ones = (t: string | undefined): number => (t === undefined ? -1 : ONES.indexOf(t as never));
  if (tokens[i + 1] === 'hundred') {
    const h = tokens[i] === 'a' ? 1 : ones(tokens[i]);
    if (h < 1 || h > 9) return undefined;
    value = h * 100;
    i += 2;
    if (tokens[i] === 'and' && i + 1 < tokens.length) i += 1;
    if (i === tokens.length) return value;
  }
  const t = TENS.indexOf(tokens[i] as never);
  if (t >= 2) {
    value += t * 10;
    i += 1;
    const u = ones(tokens[i]);
    if (u >= 1 && u <= 9) {
      value += u;
      i += 1;
    }
  } else {
    const u = ones(tokens[i]);
    if (u < 0 || (u === 0 && value > 0)) return undefined;
    value += u;
    i += 1;
  }
  return i === tokens.length ? value : undefined;
}
