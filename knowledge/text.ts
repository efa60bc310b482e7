/**
 * How patient questions and passages are turned into search terms: lower case, digits kept,
 * stop words (including the question words every question has) dropped, a light English
 * stemmer so "showering", "showers" and "shower" meet, and a few everyday synonyms a leaflet
 * and a patient word differently.
 */

/** Function words and question scaffolding: they say nothing about what is asked. */
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
doctor nurse dr ask asking question`
    .split(/\s+/)
    .filter(Boolean),
);

/**
 * Everyday words for the leaflets' words (after stemming). Applied to questions and passages
 * alike, so either side may use either word.
 */
const SYNONYMS: Readonly<Record<string, string>> = {
  bath: 'shower',
  bathtub: 'shower',
  tub: 'shower',
  wash: 'shower',
  showr: 'shower',
  painkiller: 'analgesic',
  advil: 'ibuprofen',
  nurofen: 'ibuprofen',
  motrin: 'ibuprofen',
  tylenol: 'paracetamol',
  acetaminophen: 'paracetamol',
  booz: 'alcohol',
  drink: 'alcohol',
  beer: 'alcohol',
  wine: 'alcohol',
  car: 'driv',
  wound: 'incision',
  cut: 'incision',
  scar: 'incision',
  stitch: 'incision',
  staple: 'incision',
  dressing: 'bandag',
  dress: 'bandag',
  swollen: 'swell',
  puffy: 'swell',
  sport: 'exercis',
  gym: 'exercis',
  workout: 'exercis',
  jog: 'exercis',
  run: 'exercis',
  forget: 'miss',
  forgot: 'miss',
  forgotten: 'miss',
  skip: 'miss',
  skipped: 'miss',
  dose: 'dos',
  pill: 'tablet',
  tablet: 'tablet',
  medicine: 'medic',
  medicin: 'medic',
  medication: 'medic',
  grapefruit: 'grapefruit',
  ice: 'cold',
  icepack: 'cold',
  sex: 'sexual',
  intercourse: 'sexual',
  stair: 'stair',
  step: 'stair',
  flight: 'fly',
  plane: 'fly',
  fly: 'fly',
  airplane: 'fly',
  work: 'work',
  job: 'work',
  office: 'work',
};

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

/** A single word as a search term, or null for a stop word. */
export function searchTerm(word: string): string | null {
  const lower = word.toLowerCase();
  if (STOP_WORDS.has(lower)) return null;
  const stemmed = stem(lower);
  if (stemmed.length < 2 && !/\d/.test(stemmed)) return null;
  return SYNONYMS[stemmed] ?? SYNONYMS[lower] ?? stemmed;
}

/** Words as the index splits them: letters, digits and inner apostrophes. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:'[\p{L}]+)?/gu) ?? [];
}

/** The distinct search terms of a text, in order. */
export function searchTerms(text: string): string[] {
  const out: string[] = [];
  for (const w of words(text)) {
    const t = searchTerm(w);
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}
