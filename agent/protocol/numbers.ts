/**
 * Numbers in speech, both ways: reading them out of a transcript ("twenty one", "21",
 * "seven and a half", "a couple", "3rd") and saying them ("seven and a half", "ninth").
 *
 * Transcripts come from cloud recognisers that write digits and from small local ones that write
 * words, so both are read. Tokens are the words of a normalised utterance (parse.ts).
 */

const UNITS: Readonly<Record<string, number>> = {
  zero: 0,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
};
const TEENS: Readonly<Record<string, number>> = {
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
};
const TENS: Readonly<Record<string, number>> = {
  twenty: 20,
  thirty: 30,
  forty: 40,
  fourty: 40,
  fifty: 50,
  sixty: 60,
  seventy: 70,
  eighty: 80,
  ninety: 90,
};
const ORDINAL_SMALL: Readonly<Record<string, number>> = {
  first: 1,
  second: 2,
  third: 3,
  fourth: 4,
  fifth: 5,
  sixth: 6,
  seventh: 7,
  eighth: 8,
  ninth: 9,
  tenth: 10,
  eleventh: 11,
  twelfth: 12,
  thirteenth: 13,
  fourteenth: 14,
  fifteenth: 15,
  sixteenth: 16,
  seventeenth: 17,
  eighteenth: 18,
  nineteenth: 19,
};
const ORDINAL_TENS: Readonly<Record<string, number>> = {
  twentieth: 20,
  thirtieth: 30,
};
/** Words that are a number on their own ("a couple", "twice", "none"). */
const STANDALONE: Readonly<Record<string, number>> = {
  couple: 2,
  dozen: 12,
  once: 1,
  twice: 2,
  none: 0,
};

export interface NumberMention {
  value: number;
  /** Token span [start, end). */
  start: number;
  end: number;
  /** "3rd", "third", "twenty first". */
  ordinal: boolean;
  /** A standalone word such as "couple" or "none", not a numeral. */
  standalone: boolean;
}

type Last = 'none' | 'unit' | 'teen' | 'tens' | 'hundred' | 'thousand' | 'digits';

const isDigits = (t: string | undefined): t is string => t !== undefined && /^\d+$/.test(t);
const has = (table: Readonly<Record<string, number>>, t: string | undefined): t is string =>
  t !== undefined && Object.hasOwn(table, t);
const startsNumeral = (t: string | undefined): boolean =>
  isDigits(t) || has(UNITS, t) || has(TEENS, t) || has(TENS, t);

/** One numeral starting at `i`, or null. */
function readAt(tokens: readonly string[], i: number): NumberMention | null {
  const first = tokens[i];
  const next = tokens[i + 1];
  if (first === 'a' && (next === 'couple' || next === 'dozen')) {
    return { value: STANDALONE[next] ?? 0, start: i, end: i + 2, ordinal: false, standalone: true };
  }
  if ((first === 'a' || first === 'one') && next === 'half' && !startsNumeral(tokens[i - 1])) {
    return { value: 0.5, start: i, end: i + 2, ordinal: false, standalone: true };
  }
  if (has(STANDALONE, first)) {
    return {
      value: STANDALONE[first] ?? 0,
      start: i,
      end: i + 1,
      ordinal: false,
      standalone: true,
    };
  }

  let j = i;
  let total = 0;
  let current = 0;
  let last: Last = 'none';
  let ordinal = false;
  if (first === 'a' && (next === 'hundred' || next === 'thousand')) {
    current = 1;
    last = 'unit';
    j = i + 1;
  }

  for (;;) {
    const t = tokens[j];
    if (t === undefined) break;
    const m = /^(\d+)(?:st|nd|rd|th)$/.exec(t);
    if (isDigits(t)) {
      if (last !== 'none') break;
      current = Number(t);
      last = 'digits';
    } else if (m) {
      if (last !== 'none') break;
      current = Number(m[1]);
      ordinal = true;
      j++;
      break;
    } else if (has(UNITS, t)) {
      if (last === 'unit' || last === 'teen' || last === 'digits') break;
      current += UNITS[t] ?? 0;
      last = 'unit';
    } else if (has(TEENS, t)) {
      if (last === 'unit' || last === 'teen' || last === 'tens' || last === 'digits') break;
      current += TEENS[t] ?? 0;
      last = 'teen';
    } else if (has(TENS, t)) {
      if (last === 'unit' || last === 'teen' || last === 'tens' || last === 'digits') break;
      current += TENS[t] ?? 0;
      last = 'tens';
    } else if (has(ORDINAL_SMALL, t)) {
      if (last === 'unit' || last === 'teen' || last === 'digits') break;
      // "twenty second" is an ordinal, but "twenty second" can't follow a teen or a unit.
      if ((ORDINAL_SMALL[t] ?? 0) >= 10 && last === 'tens') break;
      current += ORDINAL_SMALL[t] ?? 0;
      ordinal = true;
      j++;
      break;
    } else if (has(ORDINAL_TENS, t)) {
      if (last !== 'none' && last !== 'hundred' && last !== 'thousand') break;
      current += ORDINAL_TENS[t] ?? 0;
      ordinal = true;
      j++;
      break;
    } else if (t === 'hundred') {
      if (last === 'hundred' || last === 'thousand') break;
      current = (current || 1) * 100;
      last = 'hundred';
    } else if (t === 'thousand') {
      if (last === 'thousand') break;
      total += (current || 1) * 1000;
      current = 0;
      last = 'thousand';
    } else if (
      t === 'and' &&
      (last === 'hundred' || last === 'thousand') &&
      startsNumeral(tokens[j + 1])
    ) {
      // "one hundred and five": the "and" belongs to the number.
    } else {
      break;
    }
    j++;
  }
  if (j === i) return null;

  let value = total + current;
  if (!ordinal) {
    // Fractions: "and a half", "and half", "point five", "point 2 5".
    if (tokens[j] === 'and' && tokens[j + 1] === 'a' && tokens[j + 2] === 'half') {
      value += 0.5;
      j += 3;
    } else if (tokens[j] === 'and' && tokens[j + 1] === 'half') {
      value += 0.5;
      j += 2;
    } else if (tokens[j] === 'point') {
      let digits = '';
      let k = j + 1;
      for (; ; k++) {
        const t = tokens[k];
        if (isDigits(t)) digits += t;
        else if (has(UNITS, t)) digits += String(UNITS[t]);
        else break;
      }
      if (digits) {
        value += Number(`0.${digits}`);
        j = k;
      }
    }
  }
  return { value, start: i, end: j, ordinal, standalone: false };
}

/** Words after which "one" is a pronoun: "the second one", "that one", "the same one". */
const BEFORE_PRONOUN_ONE = new Set([
  'the',
  'that',
  'this',
  'which',
  'each',
  'every',
  'no',
  'any',
  'some',
  'another',
  'other',
  'new',
  'old',
  'same',
  'last',
  'next',
]);

/** "one hundred", "one and a half": "one" is still a number there. */
const NUMERAL_AFTER_ONE = new Set(['hundred', 'thousand', 'and', 'point', 'half']);

function pronounOne(tokens: readonly string[], i: number): boolean {
  if (tokens[i] !== 'one' || NUMERAL_AFTER_ONE.has(tokens[i + 1] ?? '')) return false;
  const prev = tokens[i - 1];
  return (
    prev !== undefined &&
    (BEFORE_PRONOUN_ONE.has(prev) || has(ORDINAL_SMALL, prev) || /^\d+(?:st|nd|rd|th)$/.test(prev))
  );
}

/** Every number mentioned in the tokens, in order. */
export function readNumbers(tokens: readonly string[]): NumberMention[] {
  const out: NumberMention[] = [];
  for (let i = 0; i < tokens.length;) {
    if (pronounOne(tokens, i)) {
      i++;
      continue;
    }
    const mention = readAt(tokens, i);
    if (mention) {
      out.push(mention);
      i = mention.end;
    } else {
      i++;
    }
  }
  return out;
}

/** Number words below twenty; shared with the local recogniser's grammars. */
export const SMALL_WORDS = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
] as const;
/** Tens words by tens digit (empty below twenty). */
export const TENS_WORDS = [
  '',
  '',
  'twenty',
  'thirty',
  'forty',
  'fifty',
  'sixty',
  'seventy',
  'eighty',
  'ninety',
];

function integerWords(n: number): string {
  if (n < 20) return SMALL_WORDS[n] ?? String(n);
  if (n < 100) {
    const unit = n % 10;
    return `${TENS_WORDS[Math.floor(n / 10)] ?? ''}${unit ? ` ${SMALL_WORDS[unit] ?? ''}` : ''}`;
  }
  if (n < 1000) {
    const rest = n % 100;
    return `${integerWords(Math.floor(n / 100))} hundred${rest ? ` ${integerWords(rest)}` : ''}`;
  }
  if (n < 1_000_000) {
    const rest = n % 1000;
    return `${integerWords(Math.floor(n / 1000))} thousand${rest ? ` ${integerWords(rest)}` : ''}`;
  }
  return String(n);
}

/**
 * A number as it should be spoken, in words, so every voice says it the same way:
 * 7 → "seven", 7.5 → "seven and a half", 0.5 → "a half", 98.6 → "ninety eight point six".
 * Values a voice would read badly as words (a million and up) stay as digits.
 */
export function spokenNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n < 0) return `minus ${spokenNumber(-n)}`;
  const whole = Math.trunc(n);
  const frac = n - whole;
  if (frac === 0) return integerWords(whole);
  if (frac === 0.5) return whole === 0 ? 'a half' : `${integerWords(whole)} and a half`;
  const decimals = String(n).split('.')[1] ?? '';
  return `${integerWords(whole)} point ${[...decimals].map((d) => SMALL_WORDS[Number(d)] ?? d).join(' ')}`;
}

const ORDINAL_WORDS: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(ORDINAL_SMALL).map(([w, n]) => [n, w]),
);

/** A day of the month spoken: 3 → "third", 21 → "twenty first", 30 → "thirtieth". */
export function spokenOrdinal(n: number): string {
  if (n === 20) return 'twentieth';
  if (n === 30) return 'thirtieth';
  if (n < 20) return ORDINAL_WORDS[n] ?? `${n}th`;
  if (n < 100) {
    const unit = n % 10;
    return `${TENS_WORDS[Math.floor(n / 10)] ?? ''} ${ORDINAL_WORDS[unit] ?? ''}`;
  }
  return `${n}th`;
}
