/**
 * Reads a protocol answer out of what the patient said, for each capture type. Pure: the same
 * words (and, for dates, the same "today") always give the same result.
 *
 * The rule throughout is that a wrong answer is worse than a re-ask: when the words point two
 * ways ("yes and no", "two or three", "phone or text"), the result is `ambiguous` and the engine
 * asks again rather than guess.
 */
import type { Capture } from '../../prompts/schema.ts';
import { normalizeUtterance } from '../safety/matcher.ts';
import {
  addDays,
  daysBetween,
  fromIso,
  makeDate,
  toIso,
  weekday,
  type CalendarDate,
  type Weekday,
} from './calendar.ts';
import { readNumbers, type NumberMention } from './numbers.ts';

/** What a captured answer is stored as: yes/no → boolean, number → number, else a string. */
export type AnswerValue = string | number | boolean;

/**
 * Why nothing was captured: nothing recognisable, more than one answer, or a number outside the
 * step's min/max.
 */
export type ParseMiss = 'no_match' | 'ambiguous' | 'out_of_range';

export type Parsed<T> = { ok: true; value: T } | { ok: false; miss: ParseMiss };

const hit = <T>(value: T): Parsed<T> => ({ ok: true, value });
const miss = (why: ParseMiss): Parsed<never> => ({ ok: false, miss: why });

// ---------------------------------------------------------------------------------------------
// Words

/**
 * Keeps what normalisation would destroy: "1,000" → "1000", "7.5" → "7 point 5",
 * "3/14" → "3 slash 14", "2025-03-14" → "3 slash 14 slash 2025".
 */
function protectNumerals(text: string): string {
  return text
    .replace(/(\d),(?=\d{3}\b)/g, '$1')
    .replace(/\b(\d{4})-(\d{1,2})-(\d{1,2})\b/g, '$2 slash $3 slash $1')
    .replace(/(\d)\s*\/\s*(?=\d)/g, '$1 slash ')
    .replace(/(\d)\.(?=\d)/g, '$1 point ')
    .replace(/(\d)\s*[-\u2013]\s*(?=\d)/g, '$1 to ');
}

/** The utterance as clauses (split at commas and sentence ends), each a list of words. */
export function clauses(text: string): string[][] {
  return protectNumerals(text)
    .split(/[,;.!?\u2014\u2013]+|\s-\s/)
    .map((c) => normalizeUtterance(c))
    .filter(Boolean)
    .map((c) => c.split(' '));
}

/** The utterance's words, normalised as safety phrases are (lower case, contractions spelled out). */
export function tokenize(text: string): string[] {
  return clauses(text).flat();
}

/** Words that carry no answer on their own. */
const FILLERS = new Set([
  'um',
  'umm',
  'uh',
  'uhh',
  'er',
  'erm',
  'ah',
  'oh',
  'hmm',
  'hm',
  'mm',
  'well',
  'so',
  'like',
  'actually',
  'just',
  'please',
  'thanks',
  'thank',
  'you',
  'very',
  'much',
  'quite',
  'all',
  'gosh',
  'sir',
  'maam',
  'dear',
  'honestly',
  'and',
  'but',
  'then',
  'now',
  'that',
  'is',
  'it',
  'the',
]);

interface Entry<K> {
  words: readonly string[];
  kind: K;
}

/** Phrases normalised like utterances, longest first so "not sure" wins over "not". */
function lexicon<K extends string>(table: Readonly<Record<K, readonly string[]>>): Entry<K>[] {
  const entries: Entry<K>[] = [];
  for (const kind of Object.keys(table) as K[]) {
    for (const phrase of table[kind]) {
      entries.push({ words: normalizeUtterance(phrase).split(' '), kind });
    }
  }
  return entries.sort((a, b) => b.words.length - a.words.length);
}

interface Hit<K> {
  kind: K;
  start: number;
  end: number;
}

/**
 * Phrase hits, longest phrases first wherever they occur, so "do not know" wins over "i do" in
 * "I do not know". Matched words are not reused. Hits come back in utterance order.
 */
function scan<K>(tokens: readonly string[], lex: readonly Entry<K>[]): Hit<K>[] {
  const hits: Hit<K>[] = [];
  const covered = new Array<boolean>(tokens.length).fill(false);
  for (const entry of lex) {
    const n = entry.words.length;
    for (let i = 0; i + n <= tokens.length; i++) {
      if (!entry.words.every((w, k) => tokens[i + k] === w && !covered[i + k])) continue;
      hits.push({ kind: entry.kind, start: i, end: i + n });
      covered.fill(true, i, i + n);
      i += n - 1;
    }
  }
  return hits.sort((a, b) => a.start - b.start);
}

// ---------------------------------------------------------------------------------------------
// Yes / no

type YesNoKind = 'yes' | 'weakYes' | 'aux' | 'no' | 'unknown';

const YES_NO = lexicon<YesNoKind>({
  yes: [
    'yes',
    'yeah',
    'yea',
    'yep',
    'yup',
    'ya',
    'yah',
    'yess',
    'aye',
    'uh huh',
    'mhm',
    'mmhmm',
    'mm hmm',
    'absolutely',
    'definitely',
    'certainly',
    'of course',
    'affirmative',
    'indeed',
    'that is right',
    'that is correct',
    'that is true',
    'that is fine',
    'that is okay',
    'that is ok',
    'that works',
    'that is it',
    'all right',
    'alright',
    'i think so',
    'i believe so',
    'i guess so',
    'you bet',
    'sure thing',
    'go ahead',
    'sounds good',
    'why not',
    'do not mind',
    'no problem',
    'not a problem',
    'no worries',
    'now is fine',
    'now is good',
    'now works',
    'good time',
    'i do have',
    'i did have',
  ],
  // Only an answer when said on its own: "right" in "my right arm" is not a yes.
  weakYes: ['right', 'correct', 'true', 'sure', 'okay', 'ok', 'fine', 'exactly', 'good'],
  // "I have", "I did": a yes when they are the whole clause ("I did, twice").
  aux: [
    'i have',
    'i did',
    'i do',
    'i am',
    'i was',
    'i will',
    'i have been',
    'i can',
    'we have',
    'we did',
    'we do',
    'it is',
    'it has',
    'they are',
    'there is',
    'there are',
    'i would',
  ],
  no: [
    'no',
    'nope',
    'nah',
    'naw',
    'nay',
    'no way',
    'never',
    'negative',
    'none',
    'nothing',
    'not',
    'not really',
    'not at all',
    'not yet',
    'uh uh',
    'nuh uh',
    'wrong',
    'incorrect',
    'that is wrong',
    'that is not right',
    'absolutely not',
    'definitely not',
    'certainly not',
    'of course not',
    'i do not think so',
    'do not think so',
    'i have not',
    'have not',
    'has not',
    'had not',
    'i did not',
    'did not',
    'do not',
    'does not',
    'am not',
    'is not',
    'are not',
    'was not',
    'were not',
    'will not',
    'cannot',
    'could not',
    'bad time',
  ],
  unknown: [
    'not sure',
    'unsure',
    'not certain',
    'do not know',
    'dunno',
    'no idea',
    'maybe',
    'perhaps',
    'possibly',
    'cannot remember',
    'do not remember',
    'cannot recall',
    'do not recall',
    'yes and no',
    'yes or no',
    'kind of',
    'sort of',
    'it depends',
    'depends',
    'hard to say',
  ],
});

/**
 * Yes or no, from the many ways people say them: "yeah", "uh huh", "that's right", "I did",
 * "nope", "not really", "I haven't". Both at once, or "not sure", is `ambiguous`.
 */
export function parseYesNo(text: string): Parsed<boolean> {
  let yes = 0;
  let no = 0;
  let weak = 0;
  let unknown = 0;
  for (const words of clauses(text)) {
    const hits = scan(words, YES_NO);
    const covered = new Set(hits.flatMap((h) => range(h.start, h.end)));
    // A weak yes or a bare auxiliary only counts when it is all the clause says:
    // "I did." is a yes; "I do not", "I am fine" and "my right arm" are not.
    const alone = hits.length === 1 && words.every((w, i) => covered.has(i) || FILLERS.has(w));
    for (const h of hits) {
      if (h.kind === 'yes') yes++;
      else if (h.kind === 'no') no++;
      else if (h.kind === 'unknown') unknown++;
      else if (alone && h.kind === 'aux') yes++;
      else if (alone) weak++;
    }
  }
  if (unknown > 0) return miss('ambiguous');
  if (yes > 0 && no > 0) return miss('ambiguous');
  if (yes > 0 || (weak > 0 && no === 0)) return hit(true);
  if (no > 0) return hit(false);
  return miss('no_match');
}

function range(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, k) => start + k);
}

// ---------------------------------------------------------------------------------------------
// Numbers

export interface NumberRange {
  min?: number | undefined;
  max?: number | undefined;
}

/** A number that frames the answer rather than being it: "out of ten", "7/10", "scale of 1". */
function isReference(tokens: readonly string[], m: NumberMention, prev?: NumberMention): boolean {
  const before = (k: number) => tokens[m.start - k];
  if (before(1) === 'slash' || before(1) === 'over') return true;
  if (before(2) === 'out' && before(1) === 'of') return true;
  if (before(2) === 'scale' && (before(1) === 'of' || before(1) === 'from')) return true;
  // "… of one to ten": the upper end of a scale whose lower end was a reference.
  return before(1) === 'to' && prev !== undefined && prev.end === m.start - 1;
}

/**
 * A number, in digits or words: "7", "seven", "twenty one", "7.5", "seven and a half",
 * "a couple", "twice", "none". "Seven out of ten" is seven. Two different numbers ("two or
 * three") are `ambiguous`; a number outside `min`..`max` is `out_of_range`.
 */
export function parseNumber(text: string, bounds: NumberRange = {}): Parsed<number> {
  const tokens = tokenize(text);
  const mentions = readNumbers(tokens).filter((m) => !m.ordinal);
  const answers: number[] = [];
  let prevReference: NumberMention | undefined;
  for (const m of mentions) {
    if (isReference(tokens, m, prevReference)) {
      prevReference = m;
      continue;
    }
    prevReference = undefined;
    answers.push(m.value);
  }
  const distinct = [...new Set(answers)];
  const [value] = distinct;
  if (value === undefined) return miss('no_match');
  if (distinct.length > 1) return miss('ambiguous');
  if (bounds.min !== undefined && value < bounds.min) return miss('out_of_range');
  if (bounds.max !== undefined && value > bounds.max) return miss('out_of_range');
  return hit(value);
}

// ---------------------------------------------------------------------------------------------
// Choices

const IRREGULAR: Readonly<Record<string, string>> = {
  forgot: 'forget',
  forgotten: 'forget',
  ran: 'run',
  took: 'take',
  taken: 'take',
  felt: 'feel',
  got: 'get',
  gotten: 'get',
  went: 'go',
  gone: 'go',
  ate: 'eat',
  paid: 'pay',
  bought: 'buy',
  worse: 'worse',
  better: 'better',
};

/** A crude stem, enough to meet "forgetting"/"forgot"/"forget" or "side effect"/"side effects". */
export function stem(word: string): string {
  const irregular = IRREGULAR[word];
  if (irregular) return irregular;
  let w = word;
  if (w.length > 4 && w.endsWith('ies')) w = `${w.slice(0, -3)}y`;
  else if (w.length > 4 && /(?:ss|sh|ch|x)es$/.test(w)) w = w.slice(0, -2);
  else if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) w = w.slice(0, -1);
  if (w.length > 5 && w.endsWith('ing')) w = w.slice(0, -3);
  else if (w.length > 4 && w.endsWith('ed')) w = w.slice(0, -2);
  // "forgett" → "forget", "runn" → "run".
  if (/([b-df-hj-np-tv-z])\1$/.test(w) && !/(?:ll|ss|ff|zz)$/.test(w)) w = w.slice(0, -1);
  return w;
}

/** Same stem, or one a short extension of the other ("phon"/"phone", "worse"/"worsen"). */
function sameWord(a: string, b: string): boolean {
  if (a === b) return true;
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return short.length >= 4 && long.startsWith(short) && long.length - short.length <= 2;
}

const CHOICE_STOPWORDS = new Set([
  'a',
  'an',
  'the',
  'of',
  'by',
  'to',
  'or',
  'and',
  'my',
  'your',
  'via',
  'on',
  'at',
  'in',
  'for',
  'with',
]);
const NEGATORS = new Set(['not', 'no', 'never', 'neither', 'nor']);
/** Too common to name a choice on their own: "out" in "I was out of town" is not "ran out". */
const PARTIAL_STOPWORDS = new Set(
  [
    'out',
    'about',
    'up',
    'off',
    'over',
    'down',
    'back',
    'very',
    'much',
    'more',
    'less',
    'some',
    'any',
    'it',
    'one',
    'get',
    'go',
    'take',
    'have',
    'be',
    'do',
    'make',
    'feel',
    'time',
    'day',
  ].map(stem),
);

function contentWords(phrase: string): string[] {
  const words = tokenize(phrase);
  const content = words.filter((w) => !CHOICE_STOPWORDS.has(w));
  return (content.length ? content : words).map(stem);
}

/**
 * One of the step's choices, matched on its words: "I keep forgetting" → "forgot", "by text" →
 * "text message", "e-mail" → "email", "not better, worse" → "worse". A choice named in full
 * beats one named in part; two choices named equally are `ambiguous`. Returns the choice as the
 * profile writes it.
 */
export function parseChoice(text: string, choices: readonly string[]): Parsed<string> {
  const parts = clauses(text);
  const words = parts.flat();
  // A word right after "not"/"no" in the same clause (allowing one word between: "not really
  // better") is denied. "No, better" is two clauses, and better stands.
  const said: string[] = [];
  for (const clause of parts) {
    clause.forEach((w, i) => {
      const denied =
        NEGATORS.has(clause[i - 1] ?? '') ||
        (NEGATORS.has(clause[i - 2] ?? '') && !NEGATORS.has(w) && clause[i - 1] !== 'but');
      if (!denied) said.push(stem(w));
    });
  }
  // "e mail" also as "email", "text message" also as "textmessage".
  const compounds = words.slice(1).map((w, i) => stem(`${words[i] ?? ''}${w}`));
  const heard = (w: string) => said.some((s) => sameWord(s, w)) || compounds.includes(w);

  const options = choices.map((choice) => {
    const content = contentWords(choice);
    const joined = stem(tokenize(choice).join(''));
    return { choice, content, joined };
  });
  const full = options.filter(
    (o) => o.content.every(heard) || (o.content.length > 1 && heard(o.joined)),
  );
  const pick = (found: typeof options): Parsed<string> | null => {
    if (found.length === 0) return null;
    // "text message" and "message" both named: the longer one says more.
    const longest = [...found].sort((a, b) => b.content.length - a.content.length);
    const [first, second] = longest;
    if (!first) return null;
    if (!second) return hit(first.choice);
    const covers = second.content.every((w) => first.content.includes(w));
    return covers && first.content.length > second.content.length
      ? hit(first.choice)
      : miss('ambiguous');
  };
  const byFull = pick(full);
  if (byFull) return byFull;

  const distinctive = options.map((o) => ({
    ...o,
    own: o.content.filter(
      (w) =>
        !PARTIAL_STOPWORDS.has(w) &&
        !options.some((other) => other !== o && other.content.some((x) => sameWord(x, w))),
    ),
  }));
  const partial = distinctive.filter((o) => o.own.some(heard));
  return pick(partial) ?? miss('no_match');
}

// ---------------------------------------------------------------------------------------------
// Dates

const MONTHS: Readonly<Record<string, number>> = {
  january: 1,
  jan: 1,
  february: 2,
  feb: 2,
  march: 3,
  april: 4,
  apr: 4,
  may: 5,
  june: 6,
  jun: 6,
  july: 7,
  jul: 7,
  august: 8,
  aug: 8,
  september: 9,
  sept: 9,
  sep: 9,
  october: 10,
  oct: 10,
  november: 11,
  nov: 11,
  december: 12,
  dec: 12,
};

const WEEKDAYS: Readonly<Record<string, Weekday>> = {
  monday: 0,
  tuesday: 1,
  tues: 1,
  wednesday: 2,
  thursday: 3,
  thurs: 3,
  friday: 4,
  saturday: 5,
  sunday: 6,
};

/** How specific a date phrase is: a named day of a month outranks "Monday". */
const RANK = { explicit: 3, dayOfMonth: 2, relative: 1, weekday: 0 } as const;

interface Candidate {
  date: CalendarDate;
  rank: number;
}

/** The occurrence of month/day nearest to today: last year's, this year's or next year's. */
function nearestYear(today: CalendarDate, month: number, day: number): CalendarDate | null {
  const options = [today.year - 1, today.year, today.year + 1]
    .map((y) => makeDate(y, month, day))
    .filter((d): d is CalendarDate => d !== null);
  options.sort((a, b) => Math.abs(daysBetween(today, a)) - Math.abs(daysBetween(today, b)));
  return options[0] ?? null;
}

/** The day of a month nearest to today: this month's, last month's or next month's. */
function nearestMonth(today: CalendarDate, day: number): CalendarDate | null {
  const options = [-1, 0, 1]
    .map((k) => {
      const m0 = today.month - 1 + k;
      const year = today.year + Math.floor(m0 / 12);
      return makeDate(year, (((m0 % 12) + 12) % 12) + 1, day);
    })
    .filter((d): d is CalendarDate => d !== null);
  options.sort((a, b) => Math.abs(daysBetween(today, a)) - Math.abs(daysBetween(today, b)));
  return options[0] ?? null;
}

const yearOf = (m: NumberMention | undefined): number | null => {
  if (!m || m.ordinal || m.standalone || !Number.isInteger(m.value)) return null;
  return m.value >= 1900 && m.value <= 2100 ? m.value : null;
};

/** A year right after token `at`: "2025", "two thousand twenty five", "twenty twenty five". */
function yearAt(
  mentions: readonly NumberMention[],
  at: number,
): { year: number; end: number } | null {
  const first = mentions.find((m) => m.start === at);
  const whole = yearOf(first);
  if (first && whole !== null) return { year: whole, end: first.end };
  const second = first && mentions.find((m) => m.start === first.end);
  if (
    first?.value === 20 &&
    second &&
    !second.ordinal &&
    Number.isInteger(second.value) &&
    second.value < 100
  ) {
    return { year: 2000 + second.value, end: second.end };
  }
  return null;
}

const dayOf = (m: NumberMention | undefined): number | null =>
  m && !m.standalone && Number.isInteger(m.value) && m.value >= 1 && m.value <= 31 ? m.value : null;

/**
 * Dates with a month: "March third", "the 3rd of March", "3/14". `used` holds the mentions that
 * were read as a day of a month, valid or not, so "February 30th" is not read as "the 30th".
 */
function explicitDates(
  tokens: readonly string[],
  mentions: readonly NumberMention[],
  today: CalendarDate,
): { dates: CalendarDate[]; used: Set<NumberMention> } {
  const out: CalendarDate[] = [];
  const used = new Set<NumberMention>();
  const at = (i: number) => mentions.find((m) => m.start === i);
  const endingAt = (i: number) => mentions.find((m) => m.end === i);
  const dated = (month: number, day: number, year: number | null) =>
    year === null ? nearestYear(today, month, day) : makeDate(year, month, day);

  tokens.forEach((t, i) => {
    const month = MONTHS[t];
    if (month === undefined) return;
    // "March third", "March the 3rd", "March 3, 2025".
    const skip = tokens[i + 1] === 'the' ? 2 : 1;
    const after = at(i + skip);
    const dayAfter = dayOf(after);
    if (after && dayAfter !== null) {
      used.add(after);
      const year = yearAt(mentions, after.end);
      const d = dated(month, dayAfter, year?.year ?? null);
      if (d) out.push(d);
      return;
    }
    // "the third of March", "3rd March 2025".
    const before = endingAt(tokens[i - 1] === 'of' ? i - 1 : i);
    const dayBefore = dayOf(before);
    if (before && dayBefore !== null) {
      used.add(before);
      const year = yearAt(mentions, i + 1);
      const d = dated(month, dayBefore, year?.year ?? null);
      if (d) out.push(d);
    }
  });

  // "3/14", "3/14/25", "3/14/2025": month first, as en-US writes it.
  mentions.forEach((m, k) => {
    const next = mentions[k + 1];
    if (!next || tokens[m.end] !== 'slash' || next.start !== m.end + 1) return;
    if (tokens[m.start - 1] === 'slash') return;
    const day = dayOf(next);
    if (!Number.isInteger(m.value) || day === null) return;
    used.add(next);
    const third = mentions[k + 2];
    let year: number | null = null;
    if (third && tokens[next.end] === 'slash' && third.start === next.end + 1) {
      year = third.value < 100 ? 2000 + third.value : third.value;
    }
    const d = dated(m.value, day, year);
    if (d) out.push(d);
  });
  return { dates: out, used };
}

function relativeDates(
  tokens: readonly string[],
  mentions: readonly NumberMention[],
  today: CalendarDate,
): CalendarDate[] {
  const out: CalendarDate[] = [];
  const text = ` ${tokens.join(' ')} `;
  const offsets: [RegExp, number][] = [
    [/ day after tomorrow /, 2],
    [/ day before yesterday /, -2],
    [/ (?:today|tonight|this (?:morning|afternoon|evening)) /, 0],
    [/ tomorrow /, 1],
    [/ yesterday /, -1],
  ];
  let rest = text.replace(/ from (?:today|now) /g, ' ');
  for (const [re, days] of offsets) {
    if (re.test(rest)) {
      out.push(addDays(today, days));
      rest = rest.replace(re, ' ');
    }
  }
  // "in 3 days", "in two weeks", "a week from today", "in a couple of days".
  tokens.forEach((t, i) => {
    const unit = t === 'day' || t === 'days' ? 1 : t === 'week' || t === 'weeks' ? 7 : 0;
    if (!unit) return;
    const j = tokens[i - 1] === 'of' ? i - 1 : i;
    const count =
      mentions.find((m) => m.end === j)?.value ??
      (tokens[j - 1] === 'a' || tokens[j - 1] === 'one' ? 1 : undefined);
    if (count === undefined || !Number.isInteger(count)) return;
    const start = (mentions.find((m) => m.end === j)?.start ?? j - 1) - 1;
    const forward =
      tokens[start] === 'in' ||
      (tokens[i + 1] === 'from' && ['now', 'today'].includes(tokens[i + 2] ?? '')) ||
      tokens[i + 1] === 'later';
    const back = tokens[i + 1] === 'ago';
    if (forward) out.push(addDays(today, count * unit));
    else if (back) out.push(addDays(today, -count * unit));
  });
  return out;
}

function weekdayDates(tokens: readonly string[], today: CalendarDate): CalendarDate[] {
  const out: CalendarDate[] = [];
  const nextWeek = tokens.join(' ').includes('next week');
  tokens.forEach((t, i) => {
    const target = WEEKDAYS[t];
    if (target === undefined) return;
    const prev = tokens[i - 1];
    const ahead = (target - weekday(today) + 7) % 7 || 7;
    const back = (weekday(today) - target + 7) % 7 || 7;
    if (prev === 'last' || prev === 'past') {
      out.push(addDays(today, -back));
    } else if (prev === 'next' || nextWeek) {
      // The named day in the following calendar week (weeks run Monday to Sunday).
      const monday = addDays(today, 7 - weekday(today));
      out.push(addDays(monday, target));
    } else {
      out.push(addDays(today, ahead));
    }
  });
  return out;
}

/**
 * A calendar date as `YYYY-MM-DD`, relative to `today` (`YYYY-MM-DD` in the patient's time zone):
 *
 * - "today", "tomorrow", "the day after tomorrow", "yesterday", "in 3 days", "two weeks from now";
 * - "Monday" / "this Monday" / "on Monday": the coming one, 1–7 days ahead; "next Monday": the
 *   Monday of the following calendar week; "last Monday": the one 1–7 days back;
 * - "March third", "March 3rd 2025", "the 3rd of March", "3/14", "3/14/25" (month first); with
 *   no year, the occurrence nearest today (so "January 5th" said in December is next year's);
 * - "the 14th": the 14th nearest today.
 *
 * A named day of a month outranks a weekday ("Monday the 9th" is the 9th). Two different dates
 * of the same kind are `ambiguous`; "next week" or "March" alone is `no_match`.
 */
export function parseDate(text: string, todayIso: string): Parsed<string> {
  const today = fromIso(todayIso);
  const tokens = tokenize(text);
  const mentions = readNumbers(tokens);
  const explicit = explicitDates(tokens, mentions, today);
  const candidates: Candidate[] = [
    ...explicit.dates.map((date) => ({ date, rank: RANK.explicit })),
    ...mentions
      .filter((m) => !explicit.used.has(m))
      .filter(
        (m) => m.ordinal && (/^\d/.test(tokens[m.start] ?? '') || tokens[m.start - 1] === 'the'),
      )
      .map((m) => nearestMonth(today, m.value))
      .filter((d): d is CalendarDate => d !== null)
      .map((date) => ({ date, rank: RANK.dayOfMonth })),
    ...relativeDates(tokens, mentions, today).map((date) => ({ date, rank: RANK.relative })),
    ...weekdayDates(tokens, today).map((date) => ({ date, rank: RANK.weekday })),
  ];
  if (candidates.length === 0) return miss('no_match');
  const best = Math.max(...candidates.map((c) => c.rank));
  const dates = [...new Set(candidates.filter((c) => c.rank === best).map((c) => toIso(c.date)))];
  const [only] = dates;
  if (only === undefined) return miss('no_match');
  return dates.length === 1 ? hit(only) : miss('ambiguous');
}

// ---------------------------------------------------------------------------------------------
// Free text

/** Any answer with at least one word beyond "um" and "well": the patient's words, trimmed. */
export function parseText(text: string): Parsed<string> {
  const words = tokenize(text);
  if (!words.some((w) => !FILLERS.has(w))) return miss('no_match');
  return hit(text.trim().replace(/\s+/g, ' '));
}

// ---------------------------------------------------------------------------------------------
// Requests to repeat

/**
 * Ways a patient asks to hear the question again. Exported so a local recogniser can keep them
 * in its grammar whatever answer it expects.
 */
export const REPEAT_PHRASES: readonly string[] = Object.freeze([
  'repeat that',
  'repeat the question',
  'repeat it',
  'repeat yourself',
  'please repeat',
  'say that again',
  'say it again',
  'come again',
  'one more time',
  'did not hear',
  'did not catch',
  'could not hear',
  'cannot hear',
  'what did you say',
  'what was that',
  'what was the question',
  'what is the question',
  'beg your pardon',
  'pardon me',
]);

const REPEAT_ANYWHERE = lexicon({ repeat: REPEAT_PHRASES });
/** Said alone (with "sorry", "please", "can you"), these ask for a repeat: "Sorry, what?". */
const REPEAT_CORE = new Set(['what', 'huh', 'pardon', 'sorry', 'repeat', 'again', 'eh', 'excuse']);
const REPEAT_COURTESY = new Set([
  ...REPEAT_CORE,
  'me',
  'please',
  'say',
  'that',
  'can',
  'could',
  'would',
  'you',
  'um',
  'uh',
  'oh',
  'hm',
  'hmm',
  'i',
  'am',
]);

/** "Repeat that", "what?", "sorry?", "say that again", "I didn't hear you". */
export function isRepeatRequest(text: string): boolean {
  const words = tokenize(text);
  if (scan(words, REPEAT_ANYWHERE).length > 0) return true;
  return words.some((w) => REPEAT_CORE.has(w)) && words.every((w) => REPEAT_COURTESY.has(w));
}

// ---------------------------------------------------------------------------------------------

export interface ParseContext {
  /** Today in the patient's time zone, `YYYY-MM-DD`, for relative dates. */
  today: string;
}

/** The answer to a step, read according to its capture type. */
export function parseAnswer(
  capture: Capture,
  text: string,
  ctx: ParseContext,
): Parsed<AnswerValue> {
  switch (capture.type) {
    case 'yesno':
      return parseYesNo(text);
    case 'number':
      return parseNumber(text, { min: capture.min, max: capture.max });
    case 'choice':
      return parseChoice(text, capture.choices);
    case 'date':
      return parseDate(text, ctx.today);
    case 'text':
      return parseText(text);
  }
}
