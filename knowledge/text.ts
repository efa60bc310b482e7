/**
 * How patient questions and passages are turned into search terms: lower case, digits kept,
 * the vocabulary's phrases ("blood thinner", "sleeping tablets") kept whole, stop words
 * (including the question words every question has) dropped, a light English stemmer so
 * "showering", "showers" and "shower" meet, and the lay vocabulary (vocabulary.ts) so a leaflet
 * and a patient may word the same thing differently.
 */
import { CONCEPTS, type TopicKind } from './vocabulary.ts';

/**
 * Function words and question scaffolding: they say nothing about what is asked. So do verbs of
 * arranging and coping ("manage the stairs", "a flight booked"): what is managed or booked is.
 */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  `a about above after again against all am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
don't down during each few for from further had hadn't has hasn't have haven't having he he'd
he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into
is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only
or other ought our ours ourselves out over own same shan't she she'd she'll she's should
shouldn't so some such than that that's the their theirs them themselves then there there's these
they they'd they'll they're they've this those through to too under until up very was wasn't we
we'd we'll we're we've were weren't what what's when when's where where's which while who who's
whom why why's will with won't would wouldn't you you'd you'll you're you've your yours yourself
yourselves ok okay alright right fine safe allowed able please tell know wondering wonder want
wanted just also really still yet get got go going anything something thing things much many
lot kind sort bit maybe need needs supposed mean means hi hello thanks thank um uh er well like
goes went gone
doctor nurse dr ask asking question long soon often
manage managing cope coping handle deal plan planning planned book booked`
    .split(/\s+/)
    .filter(Boolean),
);

/** A light suffix stemmer: enough for plurals and -ing/-ed forms of everyday words. */
export function stem(word: string): string {
  let w = word.replace(/'s$/, '').replace(/'/g, '');
  if (w.length <= 3 || /\d/.test(w)) return w;
  if (w.endsWith('ies') && w.length > 4) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('s') && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);
  if (w.endsWith('ing') && w.length > 5) w = w.slice(0, -3);
  else if (w.endsWith('ed') && w.length > 4) w = w.slice(0, -2);
  else if (w.endsWith('ly') && w.length > 5) w = w.slice(0, -2);
  // "swimm" → "swim", "stopp" → "stop"
  if (/([bdgmnprt])\1$/.test(w)) w = w.slice(0, -1);
  if (w.endsWith('e') && w.length > 3) w = w.slice(0, -1);
  return w;
}

interface Vocabulary {
  /** A word's stem (or the word itself, for "feet") to its concept's term. */
  word: Map<string, string>;
  /** A phrase's stems, space-separated, to its concept's term. */
  phrase: Map<string, string>;
  topic: Map<string, TopicKind>;
  /** Every wider term of a term, transitively. */
  broader: Map<string, string[]>;
}

const MAX_PHRASE_WORDS = 3;

const stemsOf = (phrase: string) => words(phrase).map(stem);

/** Built once; a word given to two concepts is a curation mistake and fails at load. */
function buildVocabulary(): Vocabulary {
  const v: Vocabulary = {
    word: new Map(),
    phrase: new Map(),
    topic: new Map(),
    broader: new Map(),
  };
  const termOf = (say: string) => stemsOf(say).join('_');
  const direct = new Map<string, string[]>();
  for (const c of CONCEPTS) {
    const term = termOf(c.say[0] ?? '');
    if (c.topic) v.topic.set(term, c.topic);
    if (c.broader) direct.set(term, c.broader.map(termOf));
    for (const say of c.say) {
      const stems = stemsOf(say);
      if (stems.length === 0 || stems.length > MAX_PHRASE_WORDS) {
        throw new Error(`vocabulary: ${JSON.stringify(say)} must be 1-${MAX_PHRASE_WORDS} words`);
      }
      const keys = stems.length === 1 ? [stems[0] ?? '', say.toLowerCase()] : [stems.join(' ')];
      const map = stems.length === 1 ? v.word : v.phrase;
      for (const key of keys) {
        const taken = map.get(key);
        if (taken !== undefined && taken !== term) {
          throw new Error(`vocabulary: ${JSON.stringify(say)} is in both ${taken} and ${term}`);
        }
        map.set(key, term);
      }
    }
  }
  for (const term of direct.keys()) {
    const out: string[] = [];
    const visit = (t: string) => {
      for (const b of direct.get(t) ?? []) {
        if (!out.includes(b) && b !== term) {
          out.push(b);
          visit(b);
        }
      }
    };
    visit(term);
    v.broader.set(term, out);
  }
  return v;
}

const VOCABULARY = buildVocabulary();

/**
 * Words as the index splits them, with the vocabulary's phrases joined into one token (a space
 * inside), longest first: "sleeping tablets" is one token, not "sleep" and "tablet".
 */
export function tokens(text: string): string[] {
  const ws = words(text);
  const out: string[] = [];
  for (let i = 0; i < ws.length;) {
    let taken = 1;
    for (let n = Math.min(MAX_PHRASE_WORDS, ws.length - i); n > 1; n -= 1) {
      if (
        VOCABULARY.phrase.has(
          ws
            .slice(i, i + n)
            .map(stem)
            .join(' '),
        )
      ) {
        taken = n;
        break;
      }
    }
    out.push(ws.slice(i, i + taken).join(' '));
    i += taken;
  }
  return out;
}

/** A token (a word or a phrase from tokens()) as a search term, or null for a stop word. */
export function searchTerm(token: string): string | null {
  const lower = token.toLowerCase();
  if (lower.includes(' ')) return VOCABULARY.phrase.get(stemsOf(lower).join(' ')) ?? null;
  if (STOP_WORDS.has(lower)) return null;
  const stemmed = stem(lower);
  if (stemmed.length < 2 && !/\d/.test(stemmed)) return null;
  return VOCABULARY.word.get(stemmed) ?? VOCABULARY.word.get(lower) ?? stemmed;
}

/**
 * A passage's token as the terms it is indexed under: its own and its wider concepts', so a
 * passage naming apixaban answers a question about "my blood thinner".
 */
export function passageTerms(token: string): string | string[] | null {
  const term = searchTerm(token);
  if (term === null) return null;
  const broader = VOCABULARY.broader.get(term);
  return broader?.length ? [term, ...broader] : term;
}

/** The kind of topic a term names (see vocabulary.ts), if it is one. */
export function topicOf(term: string): TopicKind | undefined {
  return VOCABULARY.topic.get(term);
}

/** Words: letters, digits and inner apostrophes. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:'[\p{L}]+)?/gu) ?? [];
}

/**
 * When the patient has in mind ("next week", "this morning", "yesterday"): it says when they
 * mean to act, not what they ask, and the passage that answers gives its own times. "next" alone
 * stays, as in "my next appointment".
 */
const CIRCUMSTANCE =
  /\b(?:(?:next|this|last|coming|the other)\s+(?:week|weekend|month|year|morning|afternoon|evening|night)|at home|today|tonight|tomorrow|yesterday|right now|now)\b/g;

/** The distinct search terms of a question, in order. */
export function searchTerms(text: string): string[] {
  const out: string[] = [];
  for (const w of tokens(text.toLowerCase().replace(CIRCUMSTANCE, ' '))) {
    const t = searchTerm(w);
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

/** The distinct terms a passage is indexed under, wider concepts included. */
export function indexTerms(text: string): string[] {
  const out = new Set<string>();
  for (const w of tokens(text)) for (const t of [passageTerms(w) ?? []].flat()) out.add(t);
  return [...out];
}
