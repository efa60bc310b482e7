/**
 * Reads a red-flag candidate in its context and says whether it is NOT a report of the
 * patient's (or someone's) symptom right now. Four readings, each deliberately narrow, because a
 * wrong suppression misses an emergency while a wrong escalation only costs a fixed message:
 *
 * - negated: a negation cue ("no", "not", "never", "without") a few words before the symptom,
 *   with no clause break (comma, "but", "and", a new "I"/"my" after "no") in between
 *   (NegEx-style). "no fever but my chest hurts" and "no, I have chest pain" still fire.
 * - hypothetical: the symptom sits inside an "if"/"in case" clause, or a question about
 *   information ("what are the signs of…", "does this medicine cause…").
 *   "is it normal that my chest feels so tight?" still fires.
 * - remote history: "ten years ago", "as a child", "history of", with no sign of now
 *   ("again", "now", "today", "this morning").
 * - someone else's past: "my dad died of a heart attack", "my mother had a stroke".
 *   "my wife can't breathe" still fires.
 *
 * Cues are read in the normalised words, never inside the symptom's own words, so "I can't
 * breathe", "it won't stop bleeding" and "I don't want to live" keep their negation.
 */
import { NO_BREAK, PAUSE, STOP, stemWord, type Tokens } from '../../prompts/safety-language.ts';

/** The words a candidate match covers: `own` are its term words, [start, end) its extent. */
export interface Span {
  readonly start: number;
  readonly end: number;
  readonly own: ReadonlySet<number>;
}

export type Suppression =
  | 'negated'
  | 'hypothetical'
  | 'history'
  | 'someone-else'
  | 'indication'
  | 'usual-for-them'
  | 'after-exertion'
  | 'resolved'
  | 'about-a-thing'
  | 'feared'
  | 'figure-of-speech';

/** Why the match is not a current report, or null when it stands (the default). */
export function suppressedBy(tokens: Tokens, span: Span): Suppression | null {
  if (negated(tokens, span) || deniedAfter(tokens, span) || reportedDenial(tokens, span)) {
    return 'negated';
  }
  const seg = sentenceOf(tokens, span);
  if (hypothetical(tokens, span, seg)) return 'hypothetical';
  if (feared(tokens, span, seg)) return 'feared';
  if (figureOfSpeech(tokens, span)) return 'figure-of-speech';
  if (goneNow(tokens, span, seg) || recovered(tokens, span) || endedSince(tokens, span, seg)) {
    return 'resolved';
  }
  if (askedBack(tokens, span, seg)) return 'hypothetical';
  if (genericPeople(tokens, span) || someoneElsewhere(tokens, span, seg)) return 'someone-else';
  if (reasonForStay(tokens, span)) return 'history';
  if (indication(tokens, span, seg)) return 'indication';
  if (usualForThem(tokens, span)) return 'usual-for-them';
  if (afterExertion(tokens, span)) return 'after-exertion';
  if (thingSubject(tokens, span) || thingObject(tokens, span)) return 'about-a-thing';
  if (!presentMarked(tokens, span, seg)) {
    if (remote(tokens, span, seg)) return 'history';
    if (someoneElsesPast(tokens, span, seg)) return 'someone-else';
    if (resolvedPast(tokens, span, seg)) return 'resolved';
  }
  return null;
}

const word = (t: Tokens, i: number): string => t.words[i] ?? '';
const brk = (t: Tokens, i: number): number => t.breaks[i] ?? NO_BREAK;
const split = (list: readonly string[]) => list.map((p) => p.split(' '));
/** The words of a space-separated list, as a set. */
const wordSet = (list: string): ReadonlySet<string> => new Set(list.split(' '));

// ---------------------------------------------------------------------------------------------
// Negation

/** How many words after the cue it can reach. */
const NEGATION_SCOPE: Readonly<Record<string, number>> = {
  no: 3,
  // Scots "nae chest pain", Jamaican "nuh have nuh pain": the same "no".
  nae: 3,
  nuh: 3,
  zero: 2,
  not: 4,
  never: 4,
  without: 3,
  nor: 3,
  neither: 3,
  nothing: 3,
  none: 2,
  denies: 4,
  // only as "free of", "free from": see cueReaches
  free: 3,
  denied: 4,
  deny: 4,
};
// "not sure", "no doubt": the cue does not negate what follows.
const PSEUDO_NEGATION = new Set([
  'sure',
  'know',
  'think',
  'certain',
  'only',
  'just',
  'doubt',
  'idea',
  'wonder',
  'kidding',
  'joking',
  'lying',
]);
// Words a negation reaches through without using up its scope: "I haven't had any thoughts of
// hurting myself" denies the thoughts and so what they are about.
const SCOPE_FREE = new Set([
  'any',
  'a',
  'an',
  'the',
  'ever',
  'really',
  'had',
  'have',
  'been',
  'having',
  'thoughts',
  'thought',
  'feelings',
  'ideas',
  'urges',
  'urge',
  'plans',
  'of',
  'about',
]);
// A negation does not reach across these: a new clause starts.
const NEGATION_ENDS = new Set([
  'but',
  'however',
  'although',
  'though',
  'and',
  'so',
  'because',
  'cause',
  'except',
  'yet',
  'then',
  'now',
  'actually',
  'still',
  'while',
  'which',
  'apart',
  'besides',
]);
// After a bare "no", a subject starts a new statement: "no I have chest pain".
const SUBJECTS = new Set(['i', 'my', 'me', 'it', 'he', 'she', 'we', 'they', 'you', 'his', 'her']);

function negated(t: Tokens, span: Span): boolean {
  // Before the match: "no chest pain", "I don't have any trouble breathing".
  if (cueReaches(t, span.start - 1, span.start, span)) return true;
  // Between its terms: "the wound is not red", "my leg isn't swollen".
  for (let c = span.start + 1; c < span.end; c++) {
    if (span.own.has(c) || NEGATION_SCOPE[word(t, c)] === undefined) continue;
    // Negative concord: after the symptom's own negation a second one is emphasis, not a
    // denial: "I can't get no air", "it won't stop for nothing".
    if (ownNegationBefore(t, span, c)) continue;
    let next = c + 1;
    while (next < span.end && !span.own.has(next)) next++;
    // "the bleeding, no it won't stop": a subject after the cue starts a new statement.
    let subject = false;
    for (let k = c + 1; k < next; k++) if (SUBJECTS.has(word(t, k))) subject = true;
    if (subject) continue;
    if (next < span.end && cueReaches(t, c, next, span)) return true;
  }
  return false;
}

/** Whether a negation cue at or before `from` (and after `stop`'s clause start) reaches `target`. */
function cueReaches(t: Tokens, from: number, target: number, span: Span): boolean {
  for (let c = from; c >= 0 && c >= target - 6; c--) {
    // A break between c and the word after it ends every cue at or before c.
    if (brk(t, c + 1) >= PAUSE) return false;
    const w = word(t, c);
    if (NEGATION_ENDS.has(w)) return false;
    const scope = NEGATION_SCOPE[w];
    if (scope === undefined || span.own.has(c)) {
      // A new subject between the cue and the symptom starts a new statement: "no I have chest
      // pain", "I don't have a fever my chest hurts".
      if (SUBJECTS.has(w) && c < target) return false;
      continue;
    }
    if (PSEUDO_NEGATION.has(word(t, c + 1))) continue;
    // "can't walk to the toilet without stopping to gasp": two negations make a report.
    if (w === 'without' && negatedBefore(t, c)) return false;
    // "free of chest pain", "free from swelling"; not "feel free to call".
    if (w === 'free' && word(t, c + 1) !== 'of' && word(t, c + 1) !== 'from') continue;
    let distance = 0;
    for (let k = c + 1; k <= target; k++) {
      // "not a pain exactly, more of a heavy weight": the comma turns to what it is instead.
      if (k > c + 1 && brk(t, k) >= PAUSE) return false;
      if (!SCOPE_FREE.has(word(t, k)) || k === target) distance++;
    }
    return distance <= scope;
  }
  return false;
}

const DOUBLE_NEGATIONS = new Set(['cannot', 'not', 'never', 'unable', 'no']);

/** A negation in the same clause, up to twelve words before `c` ("can't walk … without"). */
function negatedBefore(t: Tokens, c: number): boolean {
  for (let k = c - 1; k >= Math.max(0, c - 12); k--) {
    if (brk(t, k + 1) >= PAUSE) return false;
    if (DOUBLE_NEGATIONS.has(word(t, k))) return true;
  }
  return false;
}

// The symptom's own negation ("cannot", "won't stop"): a later cue inside it is concord.
const OWN_NEGATIONS = new Set(['cannot', 'not', 'never', 'unable', 'no', 'nothing']);

function ownNegationBefore(t: Tokens, span: Span, c: number): boolean {
  for (const k of span.own) if (k < c && OWN_NEGATIONS.has(word(t, k))) return true;
  return false;
}

function ownNegation(t: Tokens, span: Span): boolean {
  for (const k of span.own) if (OWN_NEGATIONS.has(word(t, k))) return true;
  return false;
}

// Said after the symptom, the denial of an echoed question: "chest pain? no, not at all".
// These tags deny whatever follows them.
const TAGS_ANYWHERE = split([
  'never in my life',
  'not at all',
  'not a bit',
  'not one bit',
  'not in the least',
  'not really',
  'not that i know of',
  'not that i have noticed',
  'not that i noticed',
  'not that i have seen',
  'not that i can tell',
  'not that i am aware of',
  'none of that',
  'nothing like that',
  'nothing of the sort',
  'not a thing',
  'not as such',
  'not to speak of',
  'cannot say i have',
  'cannot say that i have',
  'would not say so',
  'i would not say so',
  'do not think so',
  'i do not think so',
  'i have not',
  'i do not',
  'not a problem',
  'not an issue',
  'no problem',
  'is not a problem',
  'is not a problem for me',
  'not a problem for me',
  'is not an issue',
  'has not been a problem',
  'not me',
  'not lately',
  'not recently',
  'not any more',
  'not anymore',
  'not so far',
  'not once',
  'none at all',
  'none whatsoever',
  'no thank god',
  'no thank goodness',
  'no thankfully',
  'thankfully not',
  'thank god no',
  'thank goodness no',
]);
// One-word tags count only as the last word of the sentence or before another tag: "chest
// pain never goes away" and "short of breath, none of the inhalers help" are reports.
const TAGS_LAST = new Set(['no', 'none', 'nope', 'never', 'not', 'nah', 'neither']);
// What may follow a tag without a break and leave it a denial: "not a bit of it", "not really
// no". Any other word makes the tag part of a new statement ("not at all better", "not really
// sure"), so the symptom stands.
const AFTER_TAG = new Set(
  'of it no not none never thank thanks thankfully whatsoever honestly sorry love dear at all'.split(
    ' ',
  ),
);
// A sign of now after the tag undoes it: "chest pain, no, never had it before today".
const UNDO_TAG = new Set(['now', 'today', 'tonight', 'until', 'till', 'but', 'except', 'apart']);

/**
 * A denial said after the symptom: "chest pain no not a bit of it", "short of breath? no". Only
 * a denial tag right after the symptom (a comma between is fine; a full stop only when the
 * symptom was the whole echoed question) and never when the symptom carries its own negation,
 * where a trailing "no" agrees: "I can't breathe, no".
 */
function deniedAfter(t: Tokens, span: Span): boolean {
  if (ownNegation(t, span)) return false;
  let k = span.end;
  // "at all" may sit between: "any chest pain at all? no".
  if (word(t, k) === 'at' && word(t, k + 1) === 'all' && brk(t, k + 1) < PAUSE) k += 2;
  if (k >= t.words.length) return false;
  if (brk(t, k) >= STOP) {
    // "Any chest pain? No." The symptom must be the whole sentence before the tag.
    let start = span.start;
    while (start > 0 && brk(t, start) < STOP) start--;
    if (span.start - start > 2) return false;
  }
  let end = k;
  while (end < t.words.length && (end === k || brk(t, end) < STOP)) end++;
  for (let i = k; i < end; i++) if (UNDO_TAG.has(word(t, i))) return false;
  return tagAt(t, k, end, 0);
}

/** Whether a denial tag starts at word k (the sentence ends at `end`). */
function tagAt(t: Tokens, k: number, end: number, depth: number): boolean {
  if (k >= end || depth > 3) return false;
  const closes = (i: number) => i >= end || brk(t, i) >= PAUSE || AFTER_TAG.has(word(t, i));
  // "no, none at all", "no not a bit of it", "nope, never".
  const chained = (i: number) => i >= end || tagAt(t, i, end, depth + 1);
  for (const tag of TAGS_ANYWHERE) {
    let j = 0;
    while (j < tag.length && word(t, k + j) === tag[j] && (j === 0 || brk(t, k + j) < PAUSE)) j++;
    if (j === tag.length && closes(k + j)) return true;
  }
  return TAGS_LAST.has(word(t, k)) && chained(k + 1);
}

// Verbs of noticing or saying that a negation reaches through, with their new subject: "I
// wouldn't say I'm short of breath", "I can't say I've noticed any swelling".
const REPORT_VERBS = new Set([
  'say',
  'said',
  'noticed',
  'notice',
  'call',
  'describe',
  'seen',
  'complain',
  'experienced',
]);
const REPORT_FILLERS = new Set([
  'i',
  'am',
  'have',
  'has',
  'had',
  'been',
  'having',
  'got',
  'getting',
  'any',
  'a',
  'an',
  'ever',
  'that',
  'it',
  'is',
  'as',
  'really',
  'honestly',
  'of',
  'from',
  'with',
  'suffering',
  'felt',
  'feeling',
  'there',
]);
const REPORT_ADVERBS = new Set(['honestly', 'really', 'truly', 'exactly']);
const REPORT_CUES = new Set(['not', 'never', 'cannot']);

function reportedDenial(t: Tokens, span: Span): boolean {
  let verb = false;
  for (let c = span.start - 1; c >= 0 && c >= span.start - 9; c--) {
    if (brk(t, c + 1) >= PAUSE) return false;
    const w = word(t, c);
    if (REPORT_CUES.has(w)) {
      const next = REPORT_ADVERBS.has(word(t, c + 1)) ? c + 2 : c + 1;
      return verb && REPORT_VERBS.has(word(t, next));
    }
    if (REPORT_VERBS.has(w)) verb = true;
    else if (!REPORT_FILLERS.has(w)) return false;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// The sentence around a match: bounded by full stops and contrast words.

interface Segment {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

const CONTRAST = new Set(['but', 'however', 'although', 'though', 'whereas', 'because']);

function sentenceOf(t: Tokens, span: Span): Segment {
  let start = span.start;
  while (start > 0 && brk(t, start) < STOP && !CONTRAST.has(word(t, start - 1))) start--;
  let end = span.end;
  while (end < t.words.length && brk(t, end) < STOP && !CONTRAST.has(word(t, end))) end++;
  return { start, end };
}

function has(t: Tokens, seg: Segment, span: Span, phrase: readonly string[]): number {
  outer: for (let i = seg.start; i + phrase.length <= seg.end; i++) {
    for (let j = 0; j < phrase.length; j++) {
      if (span.own.has(i + j) || word(t, i + j) !== phrase[j]) continue outer;
    }
    return i;
  }
  return -1;
}

const anyOf = (t: Tokens, seg: Segment, span: Span, phrases: readonly (readonly string[])[]) =>
  phrases.some((p) => has(t, seg, span, p) >= 0);

// ---------------------------------------------------------------------------------------------
// Hypothetical and information-seeking

// "if" after these is a question about the patient's own state: "I don't know if I'm having a
// heart attack" is a report.
const UNCERTAIN_BEFORE_IF = new Set([
  'know',
  'knew',
  'sure',
  'wonder',
  'wondering',
  'wondered',
  'whether',
  'ask',
  'asked',
  'asking',
  'check',
  'see',
  'tell',
  'unsure',
  'idea',
  'worried',
  'scared',
  'afraid',
  'think',
  'as',
  'feels',
  'feel',
  'like',
]);
const CONDITIONAL_SUBJECTS = new Set(['i', 'he', 'she', 'we', 'they', 'you', 'it', 'my', 'there']);

const INFO_BEFORE = split([
  'warned me about',
  'warned me of',
  'warned us about',
  'told me to watch for',
  'told me to watch out for',
  'told me to look out for',
  'to look out for',
  'to watch out for',
  'keep an eye out for',
  'signs of',
  'sign of',
  'the signs somebody',
  'the signs someone',
  'signs that',
  'signs a person',
  'symptoms of',
  'symptom of',
  'warning signs',
  'what is a',
  'what is an',
  'what causes',
  'what counts as',
  'count as',
  'counts as',
  'what number',
  'what level',
  'what reading',
  'how low',
  'how high',
  'what is normal',
  'what is a normal',
  'what is too',
  'what should my',
  'what does a',
  'what does an',
  'what would a',
  'what would an',
  'what do they',
  'how do i know',
  'how would i know',
  'how can i tell',
  'how do you know',
  'how will i know',
  'tell me about',
  'tell me more about',
  'information about',
  'information on',
  'info on',
  'read about',
  'reading about',
  'learn about',
  'question about',
  'questions about',
  'leaflet',
  'pamphlet',
  'brochure',
  'watch for',
  'watch out for',
  'look out for',
  'keep an eye out',
  'risk of',
  'risks of',
  'chance of',
  'chances of',
  'prevent',
  'avoid',
  // What a medicine is for: "they told me it's to stop another heart attack".
  'to stop another',
  'to stop me having',
  'to stop me getting',
  'to stop you having',
  'to stop him having',
  'to stop her having',
  'stops you having',
  'protect me from',
  'protect against',
  'reduce the risk',
  'lower the risk',
  'how do i tell if',
  'how do i tell whether',
  'how would i tell if',
  'how can you tell if',
  'when should i',
  'when do i need',
  'what do i do about',
  'what should i do about',
  'supposed to do for',
  'in case',
  'show about',
  'programme about',
  'program about',
  'article about',
  'documentary about',
  'film about',
  'video about',
  'book about',
  // A threshold, not a reading: "the nurse said anything under four is low".
  'anything under',
  'anything below',
  'anything over',
  'anything above',
  'anything less than',
  'anything more than',
  'on the telly about',
  'on the tv about',
  'on the news about',
  'on the radio about',
  'in the paper about',
  'in the papers about',
  'on facebook about',
  'online about',
]);
const QUESTION_START = new Set([
  'does',
  'do',
  'can',
  'could',
  'will',
  'would',
  'might',
  'may',
  'is',
  'are',
  'should',
]);
const CAUSES = split([
  'cause',
  'causes',
  'give',
  'gives',
  'make',
  'makes',
  'lead to',
  'side effect',
  'side effects',
  'raise',
  'increase',
]);

const SMALL_NUMBER = new Set(['one', 'two', 'three', 'four', 'hundred']);
const ASK_TO_ACT = new Set(['should', 'do', 'can', 'could', 'would', 'shall']);
const ACTIONS = new Set(['use', 'take', 'give', 'call', 'ring', 'phone', 'go', 'inject']);

// Cues that what follows is imagined: "suppose I did faint", "let's say I get chest pain".
const SUPPOSE = split(['suppose', 'supposing', 'let us say', 'hypothetically', 'imagine if']);
// "should I get chest pain again, …": an inverted "if".
const SHOULD_GET = new Set(['get', 'develop', 'have', 'feel', 'start', 'ever', 'notice']);

// Said anywhere, these make the whole turn a question about a possibility: "does chest pain
// come with the new tablets? I haven't had any, I'm just asking".
const JUST_ASKING = split([
  'just asking',
  'only asking',
  'just wondering',
  'only wondering',
  'just curious',
  'asking for a friend',
  'out of curiosity',
]);

function hypothetical(t: Tokens, span: Span, seg: Segment): boolean {
  if (conditional(t, span, seg)) return true;
  const whole = { start: 0, end: t.words.length };
  for (const p of JUST_ASKING) {
    const i = has(t, whole, span, p);
    if (i < 0) continue;
    // "just" in "just asking" is not a sign of now.
    const own = new Set(span.own);
    for (let k = i; k < i + p.length; k++) own.add(k);
    const asking = { ...span, own };
    if (!anyOf(t, whole, asking, PRESENT)) return true;
  }
  for (const p of SUPPOSE) {
    const at = has(t, seg, span, p);
    // "I suppose" is a hedge, not a hypothetical: "I'm fine I suppose, but my arm is numb".
    if (at >= 0 && at < span.start && !CONDITIONAL_SUBJECTS.has(word(t, at - 1))) return true;
  }
  const first = seg.start;
  if (
    word(t, first) === 'should' &&
    CONDITIONAL_SUBJECTS.has(word(t, first + 1)) &&
    SHOULD_GET.has(word(t, first + 2)) &&
    span.start - first <= 5 &&
    !span.own.has(first + 2)
  ) {
    // "should I get chest pain again, what do I do": the question is after a comma.
    for (let k = span.end; k < seg.end; k++) if (brk(t, k) >= PAUSE) return true;
  }
  // "should I use the EpiPen if it's only a rash?", "should I take the inhaler if I get
  // wheezy": asking whether to do the matched action (or one said just before it).
  for (let a = span.start; a >= Math.max(seg.start + 2, span.start - 3); a--) {
    if (
      ASK_TO_ACT.has(word(t, a - 2)) &&
      CONDITIONAL_SUBJECTS.has(word(t, a - 1)) &&
      ACTIONS.has(word(t, a)) &&
      has(t, seg, span, ['if']) > span.start
    ) {
      return true;
    }
  }
  if (modalFuture(t, span, seg)) return true;
  for (const p of INFO_BEFORE) {
    const at = has(t, seg, span, p);
    if (at >= 0 && at < span.start) return true;
  }
  if (thresholdQuestion(t, span, seg)) return true;
  // "is thirty eight a fever?": asking what a number means, not reporting one.
  if ((word(t, seg.start) === 'is' || word(t, seg.start) === 'would') && span.own.size) {
    const before = word(t, span.start - 1);
    const number = word(t, span.start - 2);
    if (
      (before === 'a' || before === 'an') &&
      (NUMBER_WORD.test(number) || SMALL_NUMBER.has(number))
    )
      return true;
    for (let k = span.start; k < span.end; k++) {
      if ((word(t, k) === 'a' || word(t, k) === 'an') && span.own.has(k + 1) && !span.own.has(k))
        return true;
    }
  }
  // "does metformin cause low blood sugar?", "is bleeding a side effect of warfarin?"
  if (QUESTION_START.has(word(t, seg.start)) && !span.own.has(seg.start)) {
    if (anyOf(t, seg, span, CAUSES)) return true;
  }
  return false;
}

// "how low is too low for my sugar", "how high does it have to go": a threshold asked about. The
// question's own "low" may be the match's word, which the INFO_BEFORE phrases cannot cover.
const HOW_FAR = new Set(['low', 'high', 'bad', 'long', 'swollen', 'red', 'hot']);
const ASKING_VERB = new Set(['is', 'does', 'should', 'can', 'would', 'do', 'has', 'before']);

function thresholdQuestion(t: Tokens, span: Span, seg: Segment): boolean {
  for (let k = seg.start; k <= span.start && k < seg.end; k++) {
    if (word(t, k) !== 'how' || span.own.has(k)) continue;
    if (HOW_FAR.has(word(t, k + 1)) && ASKING_VERB.has(word(t, k + 2))) return true;
  }
  return false;
}

/**
 * The match is inside an "if" clause: "what should I do if I get chest pain". The clause ends at
 * a comma or at a second subject, so "if I lie down I can't breathe" (a report) still fires.
 */
function conditional(t: Tokens, span: Span, seg: Segment): boolean {
  for (let c = span.start - 1; c >= seg.start; c--) {
    const w = word(t, c);
    const isIf = w === 'if' || (w === 'case' && word(t, c - 1) === 'in');
    if (!isIf || span.own.has(c)) continue;
    if (UNCERTAIN_BEFORE_IF.has(word(t, c - 1)) || UNCERTAIN_BEFORE_IF.has(word(t, c - 2))) {
      return false;
    }
    let subjects = 0;
    for (let k = c + 1; k < span.start; k++) {
      if (brk(t, k) >= PAUSE) return false;
      if (CONDITIONAL_SUBJECTS.has(word(t, k))) subjects++;
    }
    // A subject right at the match ("if I ... , my chest") starts the main clause too.
    if (brk(t, span.start) >= PAUSE) return false;
    return subjects <= 1;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Time: now, or long ago

const PRESENT = split([
  'now',
  'today',
  'tonight',
  'currently',
  'again',
  'still',
  'at the moment',
  'this morning',
  'this afternoon',
  'this evening',
  'this week',
  'last night',
  'yesterday',
  'lately',
  'recently',
  'just',
  'keeps',
  'keep on',
  'started',
  'starting',
  'right',
  'is having',
  'am having',
  'are having',
]);

// These say it is happening again whichever clause they are in: "I had chest pain years ago and
// it is back". Weaker signs of now ("now", "today") count only in the symptom's own clause, so
// "a clot in my leg years ago and I'm on thinners for it now" stays history; a new symptom in
// the other clause is matched there on its own.
const RECURRENCE = split([
  'again',
  'is back',
  'are back',
  'came back',
  'come back',
  'coming back',
  'still',
  'returned',
  'keeps',
  'keep on',
  'started',
  'starting',
  'is having',
  'am having',
  'are having',
]);
const CLAUSE_WORDS = new Set(['and', 'but', 'so', 'because', 'then', 'while', 'whereas']);

function clauseOf(t: Tokens, span: Span): Segment {
  let start = span.start;
  while (start > 0 && brk(t, start) < PAUSE && !CLAUSE_WORDS.has(word(t, start - 1))) start--;
  let end = span.end;
  while (end < t.words.length && brk(t, end) < PAUSE && !CLAUSE_WORDS.has(word(t, end))) end++;
  return { start, end };
}

// Said anywhere, these put the report in the present: "it used to come on the stairs, but now
// it's happening sitting here".
const NOW_CONTRAST = split([
  'but now',
  'and now',
  'now it is',
  'now i am',
  'now i have',
  'now he is',
  'now she is',
  'now they are',
  'but today',
  'but this time',
  'this feels',
  'feels the same',
  'same as last time',
  'like last time',
  'all night',
  'all day',
  // New, not history: "I have to stop on the landing to catch my breath, I never used to".
  'never used to',
  'did not use to',
  'did not used to',
]);

function presentMarked(t: Tokens, span: Span, seg: Segment): boolean {
  return (
    anyOf(t, { start: 0, end: t.words.length }, span, NOW_CONTRAST) ||
    anyOf(t, seg, span, RECURRENCE) ||
    anyOf(t, clauseOf(t, span), span, PRESENT) ||
    keepDoing(t, seg, span)
  );
}

// "keep" says now only with a verb after it ("his gums keep bleeding", "I keep fainting"), not
// in "I like to keep an eye on things".
function keepDoing(t: Tokens, seg: Segment, span: Span): boolean {
  for (let i = seg.start; i < seg.end; i++) {
    if (word(t, i) !== 'keep' || (span.own.has(i) && i !== span.start)) continue;
    const next = word(t, i + 1);
    if (next.endsWith('ing') || span.own.has(i + 1)) return true;
  }
  return false;
}

const UNITS_AGO = new Set(['year', 'years', 'month', 'months', 'decade', 'decades']);
const REMOTE = split([
  'last year',
  'last summer',
  'last winter',
  'last spring',
  'last autumn',
  'last christmas',
  'last easter',
  'in the past',
  'years back',
  'years before',
  'history of',
  'as a child',
  'as a kid',
  'as a teenager',
  'as a boy',
  'as a girl',
  'as a lad',
  'as a lass',
  'as a youngster',
  'as a wean',
  'as a baby',
  'when i was young',
  'when i was younger',
  'when i was little',
  'when i was a',
  'when i was in',
  'when i was at',
  'at university',
  'at college',
  'when i was pregnant',
  'during my pregnancy',
  'in my teens',
  'in my twenties',
  'in my thirties',
  'in my forties',
  'as a young man',
  'as a young woman',
  'as a student',
  'when he was',
  'when she was',
  'when we were',
  'when they were',
  'as teenagers',
  'ages ago',
  'ages back',
  'back in',
  'long time ago',
  'used to',
  'growing up',
  'runs in the family',
  'runs in my family',
  'family history',
  'over the years',
  // An earlier operation or stay: "my wound got infected after the last op".
  'the last op',
  'my last op',
  'the last operation',
  'my last operation',
  'the previous operation',
  'my previous operation',
  'the operation before',
  'the last time i was in',
]);

const NUMBER_WORD =
  /^(?:\d+|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|ten|nine|eight|seven|six|five)$/;
// "lows in the fifties", "sats in the eighties": a reading, not a decade.
const READING_CONTEXT = new Set(
  'low lows high highs sugar sugars sats oxygen reading readings numbers number running been is was are were stays staying it temperature'.split(
    ' ',
  ),
);
const DECADE_WORD = /^(?:fifties|sixties|seventies|eighties|nineties|\d0s)$/;

function remote(t: Tokens, span: Span, seg: Segment): boolean {
  for (let i = seg.start; i < seg.end; i++) {
    if (span.own.has(i)) continue;
    const w = word(t, i);
    if (w === 'ago') {
      for (let k = i - 1; k >= Math.max(seg.start, i - 3); k--) {
        if (UNITS_AGO.has(word(t, k))) return true;
      }
    }
    // "when I was nineteen", "when she was 12"
    if (w === 'when' && word(t, i + 2) === 'was' && NUMBER_WORD.test(word(t, i + 3))) return true;
    // "in the seventies", "back in the fifties"
    if (
      w === 'in' &&
      word(t, i + 1) === 'the' &&
      DECADE_WORD.test(word(t, i + 2)) &&
      !READING_CONTEXT.has(word(t, i - 1))
    )
      return true;
    // "in 2015", "in nineteen ninety", "in twenty ten"
    // "in two thousand and nineteen"
    if (w === 'in' && word(t, i + 1) === 'two' && word(t, i + 2) === 'thousand') return true;
    if (w === 'in' && /^(?:19|20)\d\d$|^nineteen$|^twenty$/.test(word(t, i + 1))) {
      const next = word(t, i + 2);
      if (/^\d/.test(word(t, i + 1)) || /^[a-z]/.test(next)) return true;
    }
  }
  return anyOf(t, seg, span, REMOTE);
}

const OTHERS = new Set([
  'daddy',
  'mommy',
  'mummy',
  'mama',
  'papa',
  'grandad',
  'granddad',
  'gramps',
  'nana',
  'nanna',
  'auntie',
  'niece',
  'nephew',
  'grandson',
  'granddaughter',
  'grandchild',
  'stepdad',
  'stepmom',
  'stepmum',
  'boyfriend',
  'girlfriend',
  'fiance',
  'lady',
  'man',
  'woman',
  'kid',
  'child',
  'mom',
  'mum',
  'mother',
  'dad',
  'father',
  'husband',
  'wife',
  'son',
  'daughter',
  'brother',
  'sister',
  'friend',
  'neighbour',
  'neighbor',
  'aunt',
  'uncle',
  'grandma',
  'grandmother',
  'grandpa',
  'grandfather',
  'granny',
  'nan',
  'cousin',
  'parents',
  'relative',
  'colleague',
  'he',
  'she',
  'someone',
  'somebody',
  'partner',
  'chap',
  'fella',
  'bloke',
  'guy',
  'gentleman',
  'mate',
  'buddy',
  'pal',
  'stranger',
]);
const PAST_OF_OTHERS = split([
  'died',
  'passed away',
  'had',
  'lost',
  'killed',
  'was',
  'were',
  'committed',
]);

const BARE_PAST = new Set(['had', 'was', 'were', 'lost']);
// Stems (prompts/safety-language.ts stemWord) of named conditions, said as someone's history.
const CONDITIONS = new Set(
  (
    'stroke attack coronary clot dvt thrombosis embolism seizure fit hypo overdose overdos ' +
    'cancer infection fever sepsis anaphylaxis tia angina bleed haemorrhage hemorrhage ' +
    'breakdown depression suicide'
  )
    .split(' ')
    .map(stemWord),
);
// A time that is over: "my son had chest pain last week".
const TIME_PAST = split([
  'last week',
  'last month',
  'last year',
  'the other week',
  'all her life',
  'all his life',
]);

function someoneElsesPast(t: Tokens, span: Span, seg: Segment): boolean {
  // A carer telling what is happening now tells it in the past too: "he said his chest was like
  // someone standing on it … he's lying down now".
  if (anyOf(t, { start: 0, end: t.words.length }, span, PRESENT)) return false;
  let other = -1;
  for (let i = seg.start; i < span.start; i++) if (OTHERS.has(word(t, i))) other = i;
  if (other < 0) return false;
  // The past verb may be the match's own word: "my mother had a stroke".
  const none = { start: span.start, end: span.end, own: new Set<number>() };
  // "he had a funny turn and was out for a few seconds" is a carer's report; "my mother had a
  // stroke" is her history. A bare had/was/were needs a named condition or a time long past.
  const named = [...span.own].some((k) => CONDITIONS.has(t.stems[k] ?? ''));
  const longAgo = remote(t, span, seg) || anyOf(t, seg, span, TIME_PAST);
  for (const p of PAST_OF_OTHERS) {
    if (BARE_PAST.has(p[0] ?? '') && !named && !longAgo) continue;
    const at = has(t, { start: other + 1, end: span.end }, none, p);
    // "she's had", "he has had": recent, not her history.
    if (p[0] === 'had' && (word(t, at - 1) === 'is' || word(t, at - 1) === 'has')) continue;
    if (at >= 0 && at - span.start <= 1 && span.start - at <= 5) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Resolved: "my husband was in the ER last week with chest pain but it turned out to be reflux"

const RESOLVED = split([
  'turned out to be',
  'turned out it was',
  'it turned out',
  'it was only',
  'it was just',
  'was nothing serious',
  'they said it was only',
  'they said it was just',
  'was a false alarm',
  'all clear',
  // Explained by drink, said of a past occasion: "I slurred my words at the party, but that was
  // the wine".
  'that was the wine',
  'that was the drink',
  'that was the drinks',
  'that was the booze',
  'that was the alcohol',
  'that was the beer',
  'that was the gin',
  'that was the whisky',
  'it was the wine',
  'it was the drink',
  'it was the booze',
  'it was the alcohol',
]);
const PAST_VERBS = new Set(['was', 'were', 'had', 'went', 'got', 'thought', 'took']);
// Drink said with the occasion and over by the next day: "slurring after a couple of pints at
// the wedding but fine the next morning". Without the drink, "fine the next day" after a face
// that drooped is a TIA and still fires.
const DRINK = wordSet(
  'beer beers pint pints drinks wine wines lager cider gin vodka whisky whiskey booze drunk ' +
    'tipsy pub shots prosecco champagne',
);
const OVER_NEXT_DAY = split([
  'fine the next',
  'fine next',
  'right as rain the next',
  'right as rain next',
  'fine by the morning',
  'fine in the morning',
  'slept it off',
  'fine after a sleep',
  'fine today',
  'all fine now',
  'fine this morning',
]);

function resolvedPast(t: Tokens, span: Span, seg: Segment): boolean {
  const whole = { start: 0, end: t.words.length };
  if (overAfterDrink(t, span)) return true;
  // Only when nothing anywhere says it is happening now.
  if (anyOf(t, whole, span, PRESENT) || anyOf(t, whole, span, RECURRENCE)) return false;
  // "the chest pain turned out to be heartburn": the explanation's own verb is the past.
  let past = RESOLVED.some((p) => {
    const at = has(t, whole, span, p);
    return at >= span.end && at <= span.end + 1;
  });
  for (let k = seg.start; k < span.start; k++) if (PAST_VERBS.has(word(t, k))) past = true;
  // The symptom's own verb in the past: "I slurred my words".
  if (span.own.has(span.start) && /[a-z]{3}ed$/.test(word(t, span.start))) past = true;
  if (!past) return false;
  for (const p of RESOLVED) {
    const at = has(t, whole, span, p);
    if (at >= span.end) return true;
  }
  return false;
}

// Slurred speech only: drink explains slurring, not a face or an arm.
const SPEECH_STEMS = /^(?:slur|speech|words?)/;

/**
 * Slurring after drink, said to be over: "slurring after a couple of pints at the wedding but
 * fine the next morning", "had one too many, slurring a bit, all fine today".
 */
function overAfterDrink(t: Tokens, span: Span): boolean {
  if (![...span.own].some((k) => SPEECH_STEMS.test(word(t, k)))) return false;
  if (
    !t.words.some((w, i) => DRINK.has(w) && !span.own.has(i)) &&
    has(t, { start: 0, end: t.words.length }, span, ['one', 'too', 'many']) < 0
  )
    return false;
  const whole = { start: 0, end: t.words.length };
  return OVER_NEXT_DAY.some((p) => has(t, whole, span, p) >= span.end);
}

// ---------------------------------------------------------------------------------------------
// Breathless after exertion: "I'm just catching my breath, I ran in from the garden"

const BREATH_WORDS = new Set([
  'breath',
  'breathe',
  'breathing',
  'breathless',
  'puff',
  'puffed',
  'winded',
  'panting',
]);
const EXERTION = split([
  'ran',
  'run',
  'running',
  'jog',
  'jogging',
  'jogged',
  'climbing',
  'climbed',
  'climb',
  'walk up',
  'walking up',
  'hill',
  'hills',
  'stairs',
  'exercise',
  'exercising',
  'gym',
  'workout',
  'hurrying',
  'hurried',
  'rushing',
  'rushed',
  'dancing',
  'cycling',
  'swimming',
  'hoovering',
  'digging',
  'from the garden',
  'for the bus',
  'up the hill',
  'spin class',
  'aerobics',
  'zumba',
  'pilates',
  'tennis',
  'football',
  'hike',
  'hiking',
  'mountain',
  'trek',
]);
// Exertion said as a comparison is not exertion: "breathing like I just ran a marathon".
const AS_IF = new Set(['like', 'if', 'though']);
// Any of these keeps the match: breathlessness out of proportion, at rest or with other signs.
const SEVERE = new Set([
  'cannot',
  'not',
  'barely',
  'hardly',
  'struggling',
  'struggle',
  'worse',
  'worst',
  'even',
  'still',
  'rest',
  'sitting',
  'lying',
  'talking',
  'talk',
  'speak',
  'blue',
  'grey',
  'gray',
  'chest',
  'pain',
  'scared',
  'frightened',
  'really',
  'very',
  'so',
  'never',
  'anymore',
  'dizzy',
  'faint',
  'wheezing',
  'lips',
  'just',
]);

// Reassurance said with the exertion: its words are not signs of severity ("fine at rest",
// "out of breath running for the bus, but who doesn't").
const EXERTION_REASSURED = split([
  'fine at rest',
  'fine sitting',
  'fine sat',
  'fine on the flat',
  'okay at rest',
  'ok at rest',
  'alright at rest',
  'all right at rest',
  'normal at rest',
  'fine when i rest',
  'fine when i sit',
  'fine once i sit',
  'who does not',
  'does not everyone',
  'not too bad',
]);

function afterExertion(t: Tokens, span: Span): boolean {
  let breath = false;
  for (const k of span.own) if (BREATH_WORDS.has(word(t, k))) breath = true;
  if (!breath) return false;
  const whole = { start: 0, end: t.words.length };
  let exertion = false;
  for (const p of EXERTION) {
    const at = has(t, whole, span, p);
    if (at < 0) continue;
    let simile = false;
    for (let k = at - 1; k >= Math.max(0, at - 3); k--) if (AS_IF.has(word(t, k))) simile = true;
    if (!simile) exertion = true;
  }
  if (!exertion) return false;
  const calm = new Set<number>();
  for (let i = 0; i < t.words.length; i++) {
    for (const p of EXERTION_REASSURED) {
      if (p.every((w, j) => word(t, i + j) === w))
        for (let j = 0; j < p.length; j++) calm.add(i + j);
    }
  }
  for (let i = 0; i < t.words.length; i++) {
    if (calm.has(i)) continue;
    const w = word(t, i);
    // "just" is severity only as "just sitting"/"just talking"; "I'm just catching my breath".
    if (w === 'just') continue;
    if (SEVERE.has(w)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Said of a thing, not a person: "the garden fence collapsed", "the writing is so faint"

const THINGS = new Set(
  (
    'fence roof tent shed wall walls ceiling bridge building chair bed table shelf shelves house ' +
    'tower stack deal talks business company market economy government vein veins lung umbrella ' +
    'cake souffle scaffolding tunnel floor balcony sofa pile tree garage porch stage gazebo ' +
    'greenhouse trellis box boxes pram buggy writing print label line lines ink text letters ' +
    'mark marks colour color smell sound noise signal light picture image scar bruise stain ' +
    'leaflet page paper form printer printout ' +
    'screen display number numbers strip result bottle packet sign stripe pattern outline ' +
    // Animals: a pet's emergency is not the patient's.
    'telly tv television power lights electricity phone computer laptop wifi internet radio ' +
    'engine battery car van boiler fridge freezer kettle clock ' +
    'dog dogs cat cats puppy kitten horse pony budgie parrot rabbit hamster pet goldfish bird'
  ).split(' '),
);
// Between the thing and the word: "the fence has just collapsed", "the print is very faint".
const LINKING = new Set(
  'is are was were has have had just so very too quite completely suddenly all partly finally'.split(
    ' ',
  ),
);
const PEOPLE = new Set([
  ...OTHERS,
  'i',
  'we',
  'they',
  'him',
  'man',
  'woman',
  'lady',
  'person',
  'people',
  'boy',
  'girl',
  'child',
  'baby',
]);

function thingSubject(t: Tokens, span: Span): boolean {
  let k = span.start - 1;
  while (k >= 0 && LINKING.has(word(t, k)) && brk(t, k + 1) < PAUSE) k--;
  if (k < 0 || brk(t, k + 1) >= PAUSE || !THINGS.has(word(t, k))) return false;
  // "the man on the bridge collapsed": a person in the clause is who it happened to.
  for (let i = clauseOf(t, span).start; i < k; i++) if (PEOPLE.has(word(t, i))) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// A possible future: "I might have another heart attack if I don't stop smoking"

const MODALS = new Set(['might', 'could', 'may', 'will', 'would']);

function modalFuture(t: Tokens, span: Span, seg: Segment): boolean {
  // "might have another ..." / "could have another ...": a risk, not an event.
  for (let c = span.start - 1; c >= Math.max(seg.start, span.start - 4); c--) {
    if (word(t, c) === 'another' && MODALS.has(word(t, c - 2)) && word(t, c - 1) === 'have') {
      return true;
    }
  }
  // "might have a heart attack if ...": a modal before, a condition after.
  let modal = false;
  for (let c = span.start - 1; c >= Math.max(seg.start, span.start - 4); c--) {
    if (MODALS.has(word(t, c)) && word(t, c + 1) !== 'be' && word(t, c + 2) !== 'had') modal = true;
  }
  if (!modal) return false;
  for (let k = span.end; k < seg.end; k++)
    if (word(t, k) === 'if' || word(t, k) === 'unless') return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// What a medicine is for: "I take furosemide for swelling in my legs"

const MEDICINE_WORDS = new Set([
  'take',
  'taking',
  'takes',
  'on',
  'use',
  'using',
  'prescribed',
  'tablet',
  'tablets',
  'pill',
  'pills',
  'medicine',
  'medication',
  'medications',
  'inhaler',
  'spray',
  'cream',
  'injection',
  'injections',
]);

function indication(t: Tokens, span: Span, seg: Segment): boolean {
  for (let c = span.start - 1; c >= Math.max(seg.start, span.start - 3); c--) {
    if (span.own.has(c)) continue;
    if (brk(t, c + 1) >= PAUSE) return false;
    if (word(t, c) !== 'for') continue;
    for (let k = c - 1; k >= Math.max(seg.start, c - 6); k--) {
      if (MEDICINE_WORDS.has(word(t, k))) return true;
    }
    return false;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// The patient's usual state: "I get short of breath on hills, always have"

const USUAL = split([
  'normal for me',
  'usual for me',
  'always have',
  'always had',
  'always been like',
  'same as always',
  'same as usual',
  'nothing new',
  'as usual',
  'for years',
  'always been me',
  'that is just me',
  'always been that way',
]);
// Any sign of change keeps the match: "more breathless than usual", "worse than normal".
const CHANGED = new Set([
  'worse',
  'more',
  'new',
  'suddenly',
  'sudden',
  'different',
  'than',
  'now',
  'today',
  'tonight',
  'again',
]);

function usualForThem(t: Tokens, span: Span): boolean {
  const whole = { start: 0, end: t.words.length };
  if (!anyOf(t, whole, span, USUAL)) return false;
  for (let i = 0; i < t.words.length; i++) {
    if (!span.own.has(i) && CHANGED.has(word(t, i))) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Fear of a future event: "I'm scared of having a stroke like my dad", "my daughter worries I'll
// pass out when I'm on my own". A present report with fear still fires: "I'm scared, my chest
// is crushing", "I'm scared I'm having a heart attack", "I'm worried about this chest pain".

const FEAR = new Set([
  'worry',
  'worried',
  'worries',
  'worrying',
  'scared',
  'afraid',
  'frightened',
  'terrified',
  'petrified',
  'fear',
  'fears',
  'feared',
  'nervous',
  'anxious',
  'concerned',
  'paranoid',
]);
// Between "of"/"about" and the symptom: a generic event, not this one ("about the pain").
const GENERIC_LEAD = new Set(['having', 'getting', 'another', 'a', 'an', 'ever', 'being', 'one']);
// Fear as a habit rather than a feeling now: "she worries", "I always fear".
const HABITUAL_FEAR = new Set(['worry', 'worries', 'fear', 'fears']);
const FUTURE = new Set(['will', 'might', 'could', 'may', 'would']);
const GENERIC_WHEN = split([
  'when',
  'whenever',
  'if',
  'one day',
  'someday',
  'some day',
  'ever',
  'in future',
  'in the future',
  'on my own',
  'on her own',
  'on his own',
  'alone',
  'while',
  'at night',
  'like my',
  'like her',
  'like his',
  'like he did',
  'like she did',
  'tomorrow',
  'next week',
  'during',
  'at the op',
  'at the operation',
  'in the shower',
  'in the bath',
  'is that normal',
]);
const FEAR_NOUNS = new Set(['fear', 'worry', 'dread', 'nightmare', 'concern', 'fears', 'worries']);
const FEAR_STEP = new Set(['so', 'really', 'very', 'always', 'been', 'bit', 'a', 'little', 'that']);

function feared(t: Tokens, span: Span, seg: Segment): boolean {
  if (presentMarked(t, span, seg) || has(t, seg, span, ['like', 'this']) >= 0) return false;
  // "my biggest fear is having a stroke", "my worry is fainting in the shower".
  {
    let c = span.start - 1;
    while (c >= seg.start && GENERIC_LEAD.has(word(t, c)) && brk(t, c + 1) < PAUSE) c--;
    const gerund = word(t, span.start).endsWith('ing');
    if (
      (c < span.start - 1 || gerund) &&
      (word(t, c) === 'is' || word(t, c) === 'was') &&
      FEAR_NOUNS.has(word(t, c - 1))
    ) {
      return true;
    }
  }
  // "scared of having a stroke", "worry about fainting on these pills"
  let c = span.start - 1;
  let lead = 0;
  while (c >= seg.start && GENERIC_LEAD.has(word(t, c)) && lead < 3 && brk(t, c + 1) < PAUSE) {
    c--;
    lead++;
  }
  if (c >= seg.start && (word(t, c) === 'of' || word(t, c) === 'about') && brk(t, c + 1) < PAUSE) {
    // A bare noun after "about" may be the symptom now ("worried about chest pain"): only a
    // generic lead ("about having a …") or the symptom as a verb ("about fainting") is a fear.
    const gerund = word(t, span.start).endsWith('ing');
    if (lead > 0 || gerund) {
      for (let f = c - 1; f >= Math.max(seg.start, c - 3); f--) {
        if (brk(t, f + 1) >= PAUSE) break;
        if (FEAR.has(word(t, f))) return true;
        if (!FEAR_STEP.has(word(t, f))) break;
      }
    }
  }
  // "worries I'll pass out when I'm on my own": a fear of the future, as a habit or in general.
  for (let m = span.start - 1; m >= Math.max(seg.start, span.start - 3); m--) {
    if (brk(t, m + 1) >= PAUSE) return false;
    if (!FUTURE.has(word(t, m))) continue;
    const subject = m - 1;
    for (let f = subject - 1; f >= Math.max(seg.start, subject - 3); f--) {
      if (brk(t, f + 1) >= PAUSE) break;
      const w = word(t, f);
      if (!FEAR.has(w)) continue;
      if (HABITUAL_FEAR.has(w)) return true;
      // Someone else's worry about what might happen: "my daughter's worried I might pass out".
      if (word(t, m) !== 'will') {
        for (let o = f - 1; o >= Math.max(seg.start, f - 4); o--)
          if (OTHERS.has(word(t, o))) return true;
      }
      for (const p of GENERIC_WHEN) {
        const at = has(t, seg, span, p);
        if (at >= span.end) return true;
      }
      return false;
    }
    return false;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Figures of speech: "enough to give anyone a heart attack", "you nearly gave me a stroke".

const EVENTS = new Set(['attack', 'stroke', 'coronary', 'seizure', 'fit', 'haemorrhage']);
const RECIPIENTS = wordSet(
  'me you him her us them anyone anybody everyone everybody someone somebody people my the ' +
    'your his their our mum mom dad wife husband doctor nurse',
);
const GIVE_CUES: Readonly<Record<string, ReadonlySet<string>>> = {
  give: new Set(['enough', 'to', 'would', 'will', 'could', 'gonna', 'going', 'nearly', 'almost']),
  gives: new Set(['nearly', 'almost', 'practically', 'always', 'it', 'that', 'this']),
  gave: new Set(['nearly', 'almost', 'practically', 'near', 'nigh', 'you', 'proper']),
};

// "I laughed so hard I couldn't breathe": laughter, not a breathing emergency.
const LAUGH = new Set(['laughed', 'laughing', 'laugh', 'giggling', 'giggled']);

// "the gas bill nearly made me faint", "I almost passed out when I saw the bill": a reaction to
// news or a price, said for effect.
const NEAR_MISS = new Set(['nearly', 'almost', 'practically', 'near']);
const CAUSATIVE = new Set(['made', 'makes', 'make', 'making']);
const REACTION_AFTER = split([
  'when i saw',
  'when i heard',
  'when i got',
  'when i read',
  'when i looked',
  'when i opened',
  'when they told',
  'when she told',
  'when he told',
  'when they said',
  'when i found out',
  'at the price',
  'at the cost',
  'at the bill',
  'at the size',
  'at the sight',
  'at the news',
  'at the thought',
]);

// "I was so shocked I nearly had a stroke", "so happy I could have had a heart attack": a
// feeling said first, then the event as what it nearly did.
const FEELINGS = wordSet(
  'shocked surprised happy excited startled angry cross furious mad thrilled relieved ' +
    'embarrassed stunned amazed annoyed chuffed pleased',
);

function feelingThenNearMiss(t: Tokens, span: Span): boolean {
  let near = false;
  for (let c = span.start - 1; c >= Math.max(0, span.start - 8); c--) {
    if (brk(t, c + 1) >= PAUSE) return false;
    const w = word(t, c);
    if (NEAR_MISS.has(w) || (w === 'could' && word(t, c + 1) === 'have')) near = true;
    if (near && FEELINGS.has(w) && (word(t, c - 1) === 'so' || word(t, c - 1) === 'that')) {
      return true;
    }
  }
  return false;
}

function exaggeration(t: Tokens, span: Span): boolean {
  if (feelingThenNearMiss(t, span)) return true;
  const k = span.start - 1;
  // "the price of eggs makes me want to faint" (but "it made me pass out" is a report).
  if (word(t, k) === 'to' && word(t, k - 1) === 'want' && word(t, k - 2) === 'me') {
    if (CAUSATIVE.has(word(t, k - 3))) return true;
  }
  // "the gas bill nearly made me faint"
  if (word(t, k) === 'me' && CAUSATIVE.has(word(t, k - 1)) && NEAR_MISS.has(word(t, k - 2))) {
    return true;
  }
  let near = false;
  for (let c = span.start - 1; c >= Math.max(0, span.start - 4); c--) {
    if (brk(t, c + 1) >= PAUSE) break;
    if (NEAR_MISS.has(word(t, c))) near = true;
  }
  if (!near) return false;
  const after = { start: span.end, end: Math.min(t.words.length, span.end + 6) };
  const none = { start: span.end, end: span.end, own: new Set<number>() };
  return REACTION_AFTER.some((p) => has(t, after, none, p) >= 0);
}

function figureOfSpeech(t: Tokens, span: Span): boolean {
  if (exaggeration(t, span)) return true;
  for (let k = span.start - 1; k >= Math.max(0, span.start - 6); k--) {
    if (brk(t, k + 1) >= PAUSE) break;
    const degree = word(t, k + 1);
    if (LAUGH.has(word(t, k)) && (degree === 'so' || degree === 'that' || degree === 'till')) {
      return true;
    }
  }
  let event = false;
  for (const k of span.own) if (EVENTS.has(word(t, k))) event = true;
  if (!event) return false;
  const article = span.start - 1;
  if (word(t, article) !== 'a' && word(t, article) !== 'an') return false;
  for (let g = article - 1; g >= Math.max(0, article - 3); g--) {
    if (brk(t, g + 1) >= PAUSE) return false;
    const cues = GIVE_CUES[word(t, g)];
    if (cues) {
      for (let k = g - 1; k >= Math.max(0, g - 3); k--) {
        if (brk(t, k + 1) >= PAUSE) break;
        if (cues.has(word(t, k))) return true;
      }
      return false;
    }
    if (!RECIPIENTS.has(word(t, g)) && g !== article - 1) return false;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// A phrasal verb with a thing as its object: "I blacked out the bedroom windows", "she passed
// out the leaflets".

const PARTICLES = new Set(['out', 'off', 'up', 'over']);
const DETERMINERS = new Set(['the', 'my', 'all', 'his', 'her', 'those', 'these', 'our', 'their']);
const OBJECTS = wordSet(
  'window windows curtain curtains blinds leaflet leaflets paper papers form forms card cards ' +
    'name names details text page pages screen words answers flyers post letters invitations ' +
    'sweets drinks cake food presents gifts tickets photos photo pictures cupboard',
);

function thingObject(t: Tokens, span: Span): boolean {
  if (!PARTICLES.has(word(t, span.end - 1)) || brk(t, span.end) >= PAUSE) return false;
  if (!DETERMINERS.has(word(t, span.end))) return false;
  for (let k = span.end + 1; k <= span.end + 3 && k < t.words.length; k++) {
    if (brk(t, k) >= PAUSE) return false;
    if (OBJECTS.has(word(t, k))) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Gone now: "that squeezing in my chest I had before the operation has gone completely".

const GONE = split([
  'has gone',
  'have gone',
  'is gone',
  'are gone',
  'had gone',
  'went away',
  'gone away',
  'has settled',
  'have settled',
  'settled down',
  'has cleared',
  'cleared up',
  'has passed',
  'has stopped',
  'have stopped',
  'disappeared',
  'has resolved',
  'all gone',
  'went down',
  'wore off',
  'has worn off',
  'has faded',
  'have faded',
  'faded away',
  'has eased off',
  'eased right off',
]);
// After the end of it, these say it ended before the patient left hospital, so long enough ago
// on a call after discharge: "the breathlessness went away before they let me home".
const BEFORE_DISCHARGE = split([
  'before they let me home',
  'before they sent me home',
  'before i came home',
  'before i was discharged',
  'before i got discharged',
  'before discharge',
  'before i left hospital',
  'before i left the hospital',
  'while i was still in',
]);
// What may follow "has gone" when it means gone away; anything else ("has gone to my arm",
// "has gone numb") is a change, not an end.
const GONE_THEN = wordSet(
  'completely now totally entirely away altogether thank thankfully since for ages days weeks ' +
    'off already fully and thanks',
);
// A recent or brief episode that has passed is still the red flag: chest pain this morning, a
// face that drooped for ten minutes (a TIA).
const NOT_GONE = split([
  'this morning',
  'this afternoon',
  'this evening',
  'last night',
  'yesterday',
  'today',
  'tonight',
  'earlier',
  'just now',
  'ago',
  'minute',
  'minutes',
  'hour',
  'hours',
  'seconds',
  'while',
  'worse',
  'back',
  'again',
  'returned',
  'still',
  'comes and goes',
  'coming and going',
  'on and off',
  'keeps',
  'started',
  'but',
]);

/** A sign of NOT_GONE anywhere, but "ago" only when recent: "weeks ago" is long over. */
function notGone(t: Tokens, whole: Segment, span: Span): boolean {
  for (const p of NOT_GONE) {
    const at = has(t, whole, span, p);
    if (at < 0) continue;
    if (p[0] === 'ago' && LONG_UNITS.has(word(t, at - 1))) {
      // Look again past this one: "weeks ago … an hour ago".
      const rest = { start: at + 1, end: whole.end };
      if (has(t, rest, span, p) < 0) continue;
    }
    return true;
  }
  return false;
}

function goneNow(t: Tokens, span: Span, seg: Segment): boolean {
  const whole = { start: 0, end: t.words.length };
  for (let k = span.end; k < Math.min(seg.end, span.end + 9); k++) {
    if (CLAUSE_WORDS.has(word(t, k)) || (k > span.end && brk(t, k) >= PAUSE)) return false;
    for (const g of GONE) {
      let j = 0;
      while (j < g.length && word(t, k + j) === g[j]) j++;
      if (j < g.length) continue;
      let after = k + j;
      // "the swelling has gone down" ends it; "the pain has gone down my arm" spreads it.
      if (g[0] !== 'went' && (g[g.length - 1] === 'gone' || g[g.length - 1] === 'faded')) {
        // "gone right down", "gone all down"
        if (
          (word(t, after) === 'right' || word(t, after) === 'all') &&
          word(t, after + 1) === 'down'
        )
          after++;
        if (word(t, after) === 'down') after++;
      }
      // "hasn't gone", "not gone away": the symptom stays.
      if (NEGATION_SCOPE[word(t, k - 1)] !== undefined) return false;
      // "I passed out when I went away": a new subject owns that verb.
      if (g[0] === 'went' || g[0] === 'go') {
        for (let i = span.end; i < k; i++) if (SUBJECTS.has(word(t, i))) return false;
      }
      const discharged = BEFORE_DISCHARGE.some((p) => p.every((w, j) => word(t, after + j) === w));
      const ends =
        after >= seg.end || brk(t, after) >= PAUSE || GONE_THEN.has(word(t, after)) || discharged;
      return ends && !notGone(t, whole, span);
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Over, and said to be over: "I had a hypo once years ago but none since", "my son had a fever
// with the flu last month, he's fine now", "the bruise is turning yellow like they said it would".

const RECOVERED = split([
  'fine now',
  'grand now',
  'okay now',
  'ok now',
  'better now',
  'all better',
  'fine after',
  'grand after',
  'fine afterwards',
  'grand afterwards',
  'right as rain',
  'back to normal',
  'been normal',
  'none since',
  'nothing since',
  'not since',
  'never since',
  'not had one since',
  'not had any since',
  'never had it since',
  'no problems since',
  'no trouble since',
  'cleared right up',
  'cleared up',
  'sorted her',
  'sorted him',
  'sorted it',
  'sorted me',
  'totally fine',
  'perfectly fine',
  'been fine since',
  'fine ever since',
  'it came back fine',
  'and was fine',
  'and i was fine',
  'and felt fine',
  'and felt better',
  'but i was alright',
  'but i was fine',
  'but i was ok',
  'but i was okay',
  'but i was grand',
  'it settled',
  'settled before',
  'it eased off',
  'it went away',
  'it passed',
  'getting stronger',
  'getting better',
  'on the mend',
  'much better',
  // v9: more ways of saying it is over and the patient is well.
  'back to my normal',
  'my normal self',
  'my old self',
  'doing well',
  'doing fine',
  'doing grand',
  'doing great',
  'all good now',
  'all good since',
  'been good since',
  'fine since',
  'is fine',
  'are fine',
  'is well now',
  'and well now',
  'is home now',
  'is home and',
  'eased off',
  'has eased',
  'it eased',
  'that passed',
  'that settled',
  'it is gone',
  'that is gone',
  'it has gone',
  'all gone now',
  'gone down now',
  'has gone down',
  'came down',
  'has come down',
  'stayed down',
  'wore off',
  'has improved',
  'improved loads',
  'improved a lot',
  'no more since',
  'is sorted now',
  'sorted now',
  'been fixed',
  'down now',
]);
// Reassurance already given by the care team: recovery going as they said.
const REASSURED = split([
  'said that is normal',
  'said it is normal',
  'said that was normal',
  'said it was normal',
  'said that is to be expected',
  'said it is to be expected',
  'like they said it would',
  'as they said it would',
  'like the nurse said it would',
  'like the doctor said it would',
  'they said to expect',
  'which is normal',
  'is normal they said',
]);
// Recovery words that say something ended, not how someone was.
const ENDED = new Set(['it', 'cleared', 'none', 'nothing', 'not', 'never', 'sorted']);
const BEFORE_THEN = new Set([
  'at',
  'until',
  'till',
  'before',
  'earlier',
  'yesterday',
  'this',
  'last',
]);
// Any of these anywhere keeps the match: it is recent, back or getting worse.
const STILL_NOW = split([
  'today',
  'tonight',
  'this morning',
  'this afternoon',
  'this evening',
  'last night',
  'right now',
  'just now',
  'again',
  'still',
  'worse',
  'spreading',
  'is back',
  'came back',
  'come back',
  'more and more',
  'keeps',
  // Over, but only just: "I passed out an hour ago but I'm fine now" is still the red flag.
  'an hour',
  'hour ago',
  'hours ago',
  'minute ago',
  'minutes ago',
  'few minutes',
  'earlier',
]);

function recovered(t: Tokens, span: Span): boolean {
  const rest = { start: span.end, end: t.words.length };
  const whole = { start: 0, end: t.words.length };
  const none = { start: 0, end: 0, own: new Set<number>() };
  const at = (list: readonly (readonly string[])[]) => {
    for (const p of list) {
      const i = has(t, rest, span, p);
      // "it's gone" ends it only at the end of its clause or with words of ending: "it's gone
      // black at the edges" is a change.
      if (i >= 0 && p[p.length - 1] === 'gone') {
        const next = i + p.length;
        if (next < t.words.length && brk(t, next) < PAUSE && !GONE_THEN.has(word(t, next)))
          continue;
      }
      if (i >= 0)
        return { i, n: p.length, state: !ENDED.has(p[0] ?? '') && !ENDED.has(p[1] ?? '') };
    }
    return null;
  };
  const reassured = at(REASSURED);
  const found = reassured ?? at(RECOVERED);
  if (!found) return false;
  // Over, with no time weeks or more back, no cause or treatment and nobody else it happened
  // to: "my face was drooping but it went away", crushing chest pain on Friday that went away.
  // A passed TIA or angina attack is still the red flag.
  if (!reassured && !longPast(t, span) && !explained(t, span)) return false;
  // "he was right as rain at breakfast": how they were before it started ("it settled before
  // they let me home" still ends it).
  if (found.state && BEFORE_THEN.has(word(t, found.i + found.n))) return false;
  // A sign of now outside the recovery words themselves ("fine now" has its own "now").
  for (const p of STILL_NOW) {
    const i = has(t, whole, none, p);
    if (i >= 0 && (i + p.length <= found.i || i >= found.i + found.n)) return false;
  }
  return true;
}

// A cause or a treatment told with the recovery: "in the heat … fine after a glass of water",
// "the nurse gave me antibiotics and it's cleared", "a plaster sorted her".
const CAUSE_OR_TREATMENT = wordSet(
  'heat hot sun warm water drink juice sweets tea biscuit sat lay lie rest rested antibiotics ' +
    'cream plaster physio nurse doctor gp dentist chemist tablets tablet spray inhaler treated ' +
    'op operation surgery jab vaccine cold flu virus bug infection ate eaten snack dental tooth ' +
    'extraction anaesthetic anesthetic pacemaker stent bypass fluid diuretic gallbladder ' +
    'changed',
);

function explained(t: Tokens, span: Span): boolean {
  for (let i = 0; i < t.words.length; i++) {
    if (span.own.has(i)) continue;
    const w = word(t, i);
    if (CAUSE_OR_TREATMENT.has(w)) return true;
    // Said of someone else: "the lady in the next bed was poorly with her breathing".
    if (i < span.start && OTHERS.has(w) && w !== 'he' && w !== 'she') return true;
  }
  return remote(t, span, { start: 0, end: t.words.length });
}

// "some folks faint at the blood draw", "people pass out in this heat": people in general.
const GENERIC_PEOPLE = split([
  'some people',
  'some folks',
  'lots of people',
  'a lot of people',
  'many people',
  'most people',
  'loads of people',
  'plenty of people',
]);
const GENERIC_STEP = new Set(['can', 'do', 'often', 'sometimes', 'will', 'just', 'get', 'might']);

function genericPeople(t: Tokens, span: Span): boolean {
  let k = span.start - 1;
  while (k >= 0 && GENERIC_STEP.has(word(t, k)) && brk(t, k + 1) < PAUSE) k--;
  for (const p of GENERIC_PEOPLE) {
    const from = k - p.length + 1;
    if (from >= 0 && p.every((w, j) => word(t, from + j) === w)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Someone the patient is not with: "a woman on the bus was short of breath", "the chap in the bed
// opposite had chest pains", "my dog had a reaction to a sting". The last person before the
// symptom is an animal, a stranger, an acquaintance or another patient, and it is told in the
// past with a verb of its own and nothing that puts it here and now. Family are left out on purpose: "my husband
// collapsed" may be the carer on the phone beside him.

const ANIMALS = new Set(
  'dog dogs cat cats puppy kitten pet horse pony rabbit budgie parrot hamster'.split(' '),
);
const NOT_WITH_US = wordSet(
  'lady woman man chap bloke fella fellow guy gentleman gent stranger patient patients ' +
    'friend mate pal neighbour neighbor colleague boss teacher passenger people folk ' +
    'someone somebody',
);
// A closer person named after the acquaintance makes the acquaintance a place, not the subject:
// "my friend's husband" is still someone else; "my husband's friend" too. Only household words
// said after the last acquaintance end it ("a lady told my husband he was grey").
const HOUSEHOLD = new Set(
  'husband wife son daughter mum mom mother dad father partner nan granny grandad'.split(' '),
);
const PAST_TOLD = new Set(['was', 'were', 'had', 'got', 'went', 'felt', 'took', 'did']);
// Here and now whoever it is: a report about someone with the caller.
const HERE_NOW = split([
  'right now',
  'just now',
  'at the moment',
  'still',
  'again',
  'with me',
  'here with',
  'next to me',
  'beside me',
  'in front of me',
  'what do i do',
  'what should i do',
  'help',
  'ambulance',
  'cannot wake',
  'not waking',
  'not breathing',
  'is not',
  'is still',
]);

// "a kid at my grandson's school", "some boy at the park": a child nobody named as theirs.
const CHILDREN = new Set([
  'kid',
  'child',
  'boy',
  'girl',
  'lad',
  'lass',
  'baby',
  'toddler',
  'teenager',
]);
const INDEFINITE = new Set(['a', 'an', 'some', 'one']);

function strangerChild(t: Tokens, seg: Segment, span: Span): boolean {
  for (let i = seg.start + 1; i < span.start; i++) {
    if (CHILDREN.has(word(t, i)) && INDEFINITE.has(word(t, i - 1))) return true;
  }
  return false;
}

function someoneElsewhere(t: Tokens, span: Span, seg: Segment): boolean {
  let who = '';
  for (let i = seg.start; i < span.start; i++) {
    const w = word(t, i);
    if (ANIMALS.has(w) || NOT_WITH_US.has(w) || HOUSEHOLD.has(w) || w === 'i' || w === 'me') {
      who = w;
    }
  }
  if (!ANIMALS.has(who) && !NOT_WITH_US.has(who) && !strangerChild(t, seg, span)) return false;
  // Told in the past with a verb of its own ("was", "had"): "the man on the bridge collapsed" may
  // be happening in front of the caller.
  let past = false;
  for (let k = seg.start; k < span.start && !past; k++) if (PAST_TOLD.has(word(t, k))) past = true;
  if (!past) return false;
  const whole = { start: 0, end: t.words.length };
  return !anyOf(t, whole, span, HERE_NOW) && !anyOf(t, whole, span, RECURRENCE);
}

// ---------------------------------------------------------------------------------------------
// The reason for the stay: "the fever before the op was why they kept me in an extra night". Said
// with nothing that makes it now, it is what the hospital already knew and treated.

const WHY_KEPT_IN = split([
  'why they kept me in',
  'reason they kept me in',
  'why i was kept in',
  'reason i was kept in',
  'why they admitted me',
  'reason they admitted me',
  'why i was admitted',
  'reason i was admitted',
  'why i was in hospital',
  'why they kept me',
  'why they did',
  'why they ran',
  'why they sent me',
  'reason for the tests',
  'reason for all the tests',
]);

function reasonForStay(t: Tokens, span: Span): boolean {
  const whole = { start: 0, end: t.words.length };
  const at = WHY_KEPT_IN.map((p) => has(t, whole, span, p)).find((i) => i >= 0) ?? -1;
  if (at < span.end) return false;
  for (const list of [RECENT, NOT_OVER, RECURRENCE]) if (anyOf(t, whole, span, list)) return false;
  // "now" inside "why they kept me in" is not there; anywhere else it may be a report.
  for (let i = 0; i < t.words.length; i++)
    if (word(t, i) === 'now' && !span.own.has(i)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Over long since: "I was short of breath after the op but that settled weeks ago", "I had some
// chest tightness in the spring but it went away and never came back". Told in the past, at a
// time weeks or more back, and a later clause says it ended, with nothing recent, back or still
// anywhere in the turn. An episode that ended without such a time ("my face was drooping but it
// went away", chest pain "on Friday" that settled) still fires: a passed TIA or angina attack
// is still the red flag, and so is one that ended this morning or an hour ago.

// The end of it, said of the symptom: a pronoun or the patient, then one of these.
const ENDED_VERBS = wordSet(
  'settled cleared healed went gone passed stopped eased resolved disappeared vanished ' +
    'sorted fine better grand okay ok normal wore worn',
);
// What says "it" in the ending clause: the symptom, or the patient being over it.
const ENDED_SUBJECTS = new Set(
  'it that this which they those all everything i he she we'.split(' '),
);
// Words that may stand between the subject and the verb: "that all settled", "it had gone".
const ENDED_STEP = wordSet(
  'is was has have had all soon quickly completely totally fully just eventually then ' +
    'finally am been were are got went right pretty absolutely perfectly long',
);
// Told as the past: a past verb before the symptom, or the symptom's own past form.
const TOLD_PAST = new Set(['was', 'were', 'had', 'got', 'went', 'felt', 'used', 'did', 'thought']);
// Recent enough that an episode over is still the red flag.
const RECENT = split([
  'today',
  'tonight',
  'this morning',
  'this afternoon',
  'this evening',
  'last night',
  'yesterday',
  'earlier',
  'just now',
  'an hour',
  'hour ago',
  'hours ago',
  'hours',
  'minute',
  'minutes',
  'seconds',
  'a while ago',
  'right now',
]);
// Back, still or getting worse: whatever else is said, it is happening.
const NOT_OVER = split([
  'again',
  'still',
  'is back',
  'are back',
  'its back',
  'came back',
  'come back',
  'coming back',
  'returned',
  'worse',
  'keeps',
  'keep',
  'started',
  'starting',
  'but now',
  'and now',
  'now i',
  'now it',
  'now my',
  'now he',
  'now she',
  'comes and goes',
  'on and off',
  'every',
]);
const NOT_OVER_NEGATED = new Set(['never', 'not', 'no']);

function endedSince(t: Tokens, span: Span, seg: Segment): boolean {
  let past = span.own.has(span.start) && /[a-z]{3}ed$/.test(word(t, span.start));
  for (let k = seg.start; k < span.end && !past; k++)
    if (!span.own.has(k) && TOLD_PAST.has(word(t, k))) past = true;
  // "the chest pain I had in the summer has …": the past verb may follow the symptom closely.
  for (let k = span.end; k < Math.min(seg.end, span.end + 3) && !past; k++)
    if (TOLD_PAST.has(word(t, k)) && SUBJECTS.has(word(t, k - 1))) past = true;
  if (!past) return false;
  const ending = endingClause(t, span);
  if (!ending) return false;
  if (!longPast(t, span)) return false;
  const outside = (i: number, n: number) =>
    (i + n <= ending.start || i >= ending.end) && (i >= span.end || i + n <= span.start);
  for (const list of [RECENT, NOT_OVER]) {
    for (const p of list) {
      for (let i = 0; i + p.length <= t.words.length; i++) {
        if (!p.every((w, j) => word(t, i + j) === w) || !outside(i, p.length)) continue;
        // "never came back", "has not come back": the recurrence is denied.
        if (list === NOT_OVER && (NOT_OVER_NEGATED.has(word(t, i - 1)) || word(t, i - 2) === 'not'))
          continue;
        return false;
      }
    }
  }
  // "now" only in the ending itself ("fine now", "healed now"); anywhere else it may be a report.
  for (let i = 0; i < t.words.length; i++) {
    if (word(t, i) === 'now' && outside(i, 1) && !span.own.has(i)) return false;
  }
  return true;
}

/** The clause after the symptom that says it ended: [start, end) of its words, or null. */
function endingClause(t: Tokens, span: Span): Segment | null {
  for (let k = span.end; k < t.words.length; k++) {
    const starts =
      brk(t, k) >= PAUSE ||
      CLAUSE_WORDS.has(word(t, k - 1)) ||
      k === span.end ||
      OWN_PREDICATE.has(word(t, k));
    if (!starts) continue;
    let i = k;
    while (CLAUSE_WORDS.has(word(t, i)) && i < t.words.length) i++;
    // The symptom's own predicate needs no subject: "the chest pain I had in the summer has
    // completely gone".
    const own = OWN_PREDICATE.has(word(t, i)) && !breakBetween(t, span.end, i);
    if (!ENDED_SUBJECTS.has(word(t, i)) && !own) continue;
    if (own) i--;
    let v = i + 1;
    while (!ENDED_VERBS.has(word(t, v)) && ENDED_STEP.has(word(t, v)) && v - i <= 4) {
      if (brk(t, v) >= PAUSE) break;
      v++;
    }
    if (!ENDED_VERBS.has(word(t, v)) || brk(t, v) >= STOP) continue;
    if (own && !OWN_ENDED.has(word(t, v))) continue;
    // "he stopped breathing", "it went grey": the verb must end its clause or be followed by
    // words of ending ("settled down", "cleared with antibiotics", "fine since").
    const next = v + 1;
    if (next < t.words.length && brk(t, next) < PAUSE && !ENDED_THEN.has(word(t, next))) continue;
    // "it went" alone may be the arm or the speech going: only away, off or down; "gone" ends it
    // at the end of its clause too ("has completely gone").
    const closes = next >= t.words.length || brk(t, next) >= PAUSE;
    if (
      (word(t, v) === 'went' || word(t, v) === 'wore' || word(t, v) === 'worn') &&
      !GONE_AWAY.has(word(t, next))
    )
      continue;
    if (word(t, v) === 'gone' && !GONE_AWAY.has(word(t, next)) && !closes) continue;
    let end = v + 1;
    while (end < t.words.length && brk(t, end) < PAUSE && !CLAUSE_WORDS.has(word(t, end))) end++;
    return { start: k, end };
  }
  return null;
}

const GONE_AWAY = new Set(['away', 'off', 'down']);
const OWN_PREDICATE = new Set(['has', 'have', 'had']);
const OWN_ENDED = new Set(
  'gone cleared settled healed disappeared resolved passed stopped vanished'.split(' '),
);
/** Whether a pause or stop falls between words `from` and `to`. */
function breakBetween(t: Tokens, from: number, to: number): boolean {
  for (let k = from + 1; k <= to; k++) if (brk(t, k) >= PAUSE) return true;
  return false;
}
// What may follow the verb of ending in its clause.
const ENDED_THEN = wordSet(
  'away off down up completely totally now since ago weeks months years with by after on ' +
    'within quickly soon thank thankfully long for good in a',
);

// Weeks or more back: "weeks ago", "in the spring", "last year", "in March", "years back", or an
// end said to have lasted ("never came back", "not since").
const LONG_PAST = split([
  'last month',
  'last year',
  'last summer',
  'last winter',
  'last spring',
  'last autumn',
  'last christmas',
  'last easter',
  'in the spring',
  'in the summer',
  'in the autumn',
  'in the winter',
  'in the new year',
  'at christmas',
  'at easter',
  'never came back',
  'never come back',
  'not come back',
  'not came back',
  'not since',
  'none since',
  'nothing since',
  'since then',
  'ever since',
  'years back',
  'months back',
  // Fine for a while since: "it's been normal five days now".
  'days now',
  'for days',
  'a week now',
  'for a week',
  'for weeks',
  // v9: the stay or the operation, over by the time of a call after discharge.
  'in hospital',
  'in the hospital',
  'on the ward',
  'in the ward',
  'when they first sent me home',
  'when i first came home',
  'when i first got home',
  'when i got home',
  'after the op',
  'after my op',
  'after the operation',
  'after my operation',
  'after surgery',
  'after the surgery',
  'after my surgery',
  'before the op',
  'before my op',
  'before the operation',
  'before my operation',
  'before surgery',
  'in the er',
  'in a and e',
  'in casualty',
  'in the emergency room',
  'the first few days',
  'the first couple of days',
  'the first week',
  'the first few weeks',
  'a while back',
]);
const LONG_UNITS = new Set(['weeks', 'month', 'months', 'year', 'years', 'decade', 'decades']);
const MONTHS = wordSet(
  'january february march april may june july august september october november december ' +
    'spring summer autumn winter',
);

function longPast(t: Tokens, span: Span): boolean {
  const whole = { start: 0, end: t.words.length };
  if (anyOf(t, whole, span, LONG_PAST) || anyOf(t, whole, span, REMOTE)) return true;
  for (let i = 0; i < t.words.length; i++) {
    if (span.own.has(i)) continue;
    const w = word(t, i);
    if ((w === 'ago' || w === 'back') && LONG_UNITS.has(word(t, i - 1))) return true;
    // "in March", "back in November" ("may" only after "in": "in may").
    if ((word(t, i - 1) === 'in' || word(t, i - 1) === 'since') && MONTHS.has(w)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Asked back: "is shortness of breath something to worry about with the new inhaler?", "should
// I be worried about chest pain with this medicine?", "do people get breathless on these?". A
// question about a symptom in general, said with a medicine or a worry, and nothing in the turn
// that makes it the patient's own now: "is this chest pain the tablets? it's really bad" fires.

const ASK_ABOUT = split([
  'tablet',
  'tablets',
  'pill',
  'pills',
  'medicine',
  'medicines',
  'medication',
  'medications',
  'inhaler',
  'injection',
  'jab',
  'vaccine',
  'side effect',
  'side effects',
  'worry about',
  'worried about',
  'something to worry',
  'anything to worry',
  'a sign of',
  'a symptom of',
  'normal to',
  'common',
  'usual to',
  'people get',
  'people have',
]);
// Before the symptom these make it the patient's own: "is my chest pain …", "is this pain …".
const OWN_BEFORE = new Set(['my', 'this', 'his', 'her', 'the', 'these', 'that', 'our', 'me']);
// Anywhere outside the question these report it: "it's crushing", "I've got it now".
const OWN_REPORT = split([
  'i have',
  'i am',
  'i got',
  'i feel',
  'i felt',
  'i keep',
  'it is',
  'it has',
  'he has',
  'she has',
  'he is',
  'she is',
  'been having',
  'i get',
  'i had',
]);

const ASK_FILLERS = new Set(
  'so um umm uh er erm well and oh ok okay also sorry just actually quick nurse love'.split(' '),
);

function askedBack(t: Tokens, span: Span, seg: Segment): boolean {
  // The question must open the sentence, after fillers only ("so, um, is …"): "there's no
  // point…" and "my daughter's been…" are statements.
  let q = seg.start;
  while (q < span.start && ASK_FILLERS.has(word(t, q))) q++;
  if (!QUESTION_START.has(word(t, q)) || span.own.has(q)) return false;
  if (!anyOf(t, seg, span, ASK_ABOUT)) return false;
  for (let k = Math.max(seg.start, span.start - 2); k < span.start; k++) {
    if (OWN_BEFORE.has(word(t, k))) return false;
  }
  const whole = { start: 0, end: t.words.length };
  if (anyOf(t, whole, span, PRESENT) || anyOf(t, whole, span, RECENT)) return false;
  // "should I be worried about …" opens with "I be", not "I am": only reports count.
  for (const p of OWN_REPORT) {
    const at = has(t, whole, span, p);
    if (at >= 0 && !(at > q && at <= q + 1)) return false;
  }
  return true;
}
