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
import { NO_BREAK, PAUSE, STOP, type Tokens } from '../../prompts/safety-language.ts';

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
  | 'about-a-thing';

/** Why the match is not a current report, or null when it stands (the default). */
export function suppressedBy(tokens: Tokens, span: Span): Suppression | null {
  if (negated(tokens, span)) return 'negated';
  const seg = sentenceOf(tokens, span);
  if (hypothetical(tokens, span, seg)) return 'hypothetical';
  if (indication(tokens, span, seg)) return 'indication';
  if (usualForThem(tokens, span)) return 'usual-for-them';
  if (afterExertion(tokens, span)) return 'after-exertion';
  if (thingSubject(tokens, span)) return 'about-a-thing';
  if (!presentMarked(tokens, span, seg)) {
    if (remote(tokens, span, seg)) return 'history';
    if (someoneElsesPast(tokens, span, seg)) return 'someone-else';
    if (resolvedPast(tokens, span, seg)) return 'resolved';
  }
  return null;
}

const word = (t: Tokens, i: number): string => t.words[i] ?? '';
const brk = (t: Tokens, i: number): number => t.breaks[i] ?? NO_BREAK;

// ---------------------------------------------------------------------------------------------
// Negation

/** How many words after the cue it can reach. */
const NEGATION_SCOPE: Readonly<Record<string, number>> = {
  no: 3,
  not: 4,
  never: 4,
  without: 3,
  nor: 3,
  neither: 3,
  nothing: 3,
  none: 2,
  denies: 4,
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
    let next = c + 1;
    while (next < span.end && !span.own.has(next)) next++;
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
    let distance = 0;
    for (let k = c + 1; k <= target; k++)
      if (!SCOPE_FREE.has(word(t, k)) || k === target) distance++;
    return distance <= scope;
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

const split = (list: readonly string[]) => list.map((p) => p.split(' '));

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
  'signs of',
  'sign of',
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

function hypothetical(t: Tokens, span: Span, seg: Segment): boolean {
  if (conditional(t, span, seg)) return true;
  if (modalFuture(t, span, seg)) return true;
  for (const p of INFO_BEFORE) {
    const at = has(t, seg, span, p);
    if (at >= 0 && at < span.start) return true;
  }
  // "does metformin cause low blood sugar?", "is bleeding a side effect of warfarin?"
  if (QUESTION_START.has(word(t, seg.start)) && !span.own.has(seg.start)) {
    if (anyOf(t, seg, span, CAUSES)) return true;
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
  'keep',
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
  'keep',
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

function presentMarked(t: Tokens, span: Span, seg: Segment): boolean {
  return anyOf(t, seg, span, RECURRENCE) || anyOf(t, clauseOf(t, span), span, PRESENT);
}

const UNITS_AGO = new Set(['year', 'years', 'month', 'months', 'decade', 'decades']);
const REMOTE = split([
  'last year',
  'in the past',
  'years back',
  'years before',
  'history of',
  'as a child',
  'as a kid',
  'as a teenager',
  'as a baby',
  'when i was young',
  'when i was younger',
  'when i was little',
  'when i was a',
  'when i was in',
  'when he was',
  'when she was',
  'back in',
  'long time ago',
  'used to',
  'growing up',
  'runs in the family',
  'runs in my family',
  'family history',
  'over the years',
]);

function remote(t: Tokens, span: Span, seg: Segment): boolean {
  for (let i = seg.start; i < seg.end; i++) {
    if (span.own.has(i)) continue;
    const w = word(t, i);
    if (w === 'ago') {
      for (let k = i - 1; k >= Math.max(seg.start, i - 3); k--) {
        if (UNITS_AGO.has(word(t, k))) return true;
      }
    }
    // "in 2015", "in nineteen ninety", "in twenty ten"
    if (w === 'in' && /^(?:19|20)\d\d$|^nineteen$|^twenty$/.test(word(t, i + 1))) {
      const next = word(t, i + 2);
      if (/^\d/.test(word(t, i + 1)) || /^[a-z]/.test(next)) return true;
    }
  }
  return anyOf(t, seg, span, REMOTE);
}

const OTHERS = new Set([
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

function someoneElsesPast(t: Tokens, span: Span, seg: Segment): boolean {
  let other = -1;
  for (let i = seg.start; i < span.start; i++) if (OTHERS.has(word(t, i))) other = i;
  if (other < 0) return false;
  // The past verb may be the match's own word: "my mother had a stroke".
  const none = { start: span.start, end: span.end, own: new Set<number>() };
  for (const p of PAST_OF_OTHERS) {
    const at = has(t, { start: other + 1, end: span.end }, none, p);
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
]);
const PAST_VERBS = new Set(['was', 'were', 'had', 'went', 'got', 'thought', 'took']);

function resolvedPast(t: Tokens, span: Span, seg: Segment): boolean {
  const whole = { start: 0, end: t.words.length };
  // Only when nothing anywhere says it is happening now.
  if (anyOf(t, whole, span, PRESENT) || anyOf(t, whole, span, RECURRENCE)) return false;
  let past = false;
  for (let k = seg.start; k < span.start; k++) if (PAST_VERBS.has(word(t, k))) past = true;
  if (!past) return false;
  for (const p of RESOLVED) {
    const at = has(t, whole, span, p);
    if (at >= span.end) return true;
  }
  return false;
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
]);
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

function afterExertion(t: Tokens, span: Span): boolean {
  let breath = false;
  for (const k of span.own) if (BREATH_WORDS.has(word(t, k))) breath = true;
  if (!breath) return false;
  const whole = { start: 0, end: t.words.length };
  if (!anyOf(t, whole, span, EXERTION)) return false;
  for (let i = 0; i < t.words.length; i++) {
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
    'screen display number numbers strip result bottle packet sign stripe pattern outline'
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
