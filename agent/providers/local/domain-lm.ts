/**
 * A small language model for free speech, built from the session's profile: its questions,
 * choices, red-flag and end phrases, plus the answers patients typically give. Pocketsphinx's
 * general model is trained on broadcast news: on synthetic speech it hears "my knee hurts" as
 * "the air", and loading its 30 MB takes seconds per utterance here. A trigram model of the
 * words this conversation can contain is both more accurate and fast to load. Pure.
 *
 * Debian ships no n-gram estimator for pocketsphinx (cmuclmtk is not packaged; sphinxbase-utils
 * only converts), so this one estimates a backoff trigram with absolute discounting and writes
 * ARPA text, which pocketsphinx reads directly.
 */
import type { Profile } from '../../../prompts/schema.ts';
import { NO_PHRASES, YES_PHRASES, toGrammarWords, type WordSet } from './grammar.ts';
import { numberToWords } from './numbers.ts';

/**
 * Everyday answers and remarks that are not red flags, so the model has somewhere to put
 * off-script speech other than the nearest red-flag phrase.
 */
export const TYPICAL_ANSWERS: readonly string[] = Object.freeze([
  'I take my medication every morning',
  'I take my pills twice a day',
  'I take lisinopril ten milligrams once a day',
  'I take two tablets in the evening',
  'I feel better',
  'my appointment was last week',
  'I take aspirin in the morning',
  'I take insulin at night',
  'I take my blood pressure medicine',
  'I forgot to take it yesterday',
  'I missed two doses last week',
  'I picked up my prescriptions',
  'the pharmacy was closed',
  'it costs too much',
  'my knee hurts',
  'my back hurts',
  'my foot hurts when I walk',
  'I have a headache',
  'I have a cough',
  'I have a cold',
  'I feel fine',
  'I feel a bit tired',
  'I am doing well',
  'I am breathing fine',
  'I slept well',
  'my appointment is next week',
  'my appointment is on monday',
  'I saw my doctor yesterday',
  'I went for a walk this morning',
  'nothing has changed',
  'no problems at all',
  'what was the question',
  'can you repeat that',
  'I did not hear you',
  'I am not sure',
  'I do not know',
  'maybe',
  'a little',
  'a lot',
  'sometimes',
  'every day',
  'once a week',
  'thank you',
  'okay',
]);

/** The sentences the domain model is estimated from. */
export function domainSentences(profiles: readonly Profile[]): string[] {
  const out: string[] = [...TYPICAL_ANSWERS, ...YES_PHRASES, ...NO_PHRASES];
  for (let n = 0; n <= 100; n++) out.push(numberToWords(n));
  for (const p of profiles) {
    out.push(...p.endPhrases);
    for (const s of p.protocol) {
      out.push(s.ask);
      if (s.capture.type === 'choice') out.push(...s.capture.choices);
    }
    for (const rule of p.safety) {
      for (const phrase of rule.phrases ?? []) {
        // Alone, and inside the sentences patients wrap them in.
        out.push(phrase, `I have ${phrase}`, `I think I have ${phrase}`, `I am ${phrase}`);
      }
    }
  }
  return out;
}

const BOS = '<s>';
const EOS = '</s>';

export interface ArpaOptions {
  /** 1 to 3. @defaultValue 3 */
  order: number;
  /** Absolute discount subtracted from every seen n-gram count. @defaultValue 0.5 */
  discount: number;
}

/**
 * A backoff n-gram model of `sentences` in ARPA format, over the words the dictionary has
 * (sentences with any other word are left out, as unhearable). Deterministic.
 */
export function buildArpa(
  sentences: readonly string[],
  dict: WordSet,
  options: Partial<ArpaOptions> = {},
): string {
  const order = options.order ?? 3;
  const discount = options.discount ?? 0.5;
  if (!Number.isInteger(order) || order < 1 || order > 3)
    throw new RangeError('order must be 1..3');
  if (!(discount > 0 && discount < 1)) throw new RangeError('discount must be in (0, 1)');

  // counts[n-1]: n-gram (space-joined) → count
  const counts: Map<string, number>[] = Array.from({ length: order }, () => new Map());
  for (const sentence of new Set(sentences)) {
    const { words, unknown } = toGrammarWords(sentence, dict);
    if (unknown.length || words.length === 0) continue;
    const toks = [BOS, ...words, EOS];
    for (let n = 1; n <= order; n++) {
      for (let i = 0; i + n <= toks.length; i++) {
        const gram = toks.slice(i, i + n);
        if (n === 1 && gram[0] === BOS) continue;
        const key = gram.join(' ');
        const table = counts[n - 1]!;
        table.set(key, (table.get(key) ?? 0) + 1);
      }
    }
  }
  const uni = counts[0]!;
  if (uni.size === 0) throw new RangeError('no sentence has only dictionary words');

  // log10 probabilities and backoff weights, per order.
  const prob: Map<string, number>[] = Array.from({ length: order }, () => new Map());
  const backoff: Map<string, number>[] = Array.from({ length: order }, () => new Map());
  const total = [...uni.values()].reduce((a, b) => a + b, 0);
  const smoothing = 0.1;
  for (const [w, c] of uni) prob[0]!.set(w, (c + smoothing) / (total + smoothing * uni.size));

  /** Full backoff probability of the last word of `gram` given the rest (linear). */
  const p = (gram: string[]): number => {
    const n = gram.length;
    const key = gram.join(' ');
    const seen = prob[n - 1]?.get(key);
    if (seen !== undefined) return seen;
    if (n === 1) return 0;
    const alpha = backoff[n - 2]!.get(gram.slice(0, -1).join(' ')) ?? 1;
    return alpha * p(gram.slice(1));
  };

  for (let n = 2; n <= order; n++) {
    const byHistory = new Map<string, [string, number][]>();
    for (const [key, c] of counts[n - 1]!) {
      const words = key.split(' ');
      const h = words.slice(0, -1).join(' ');
      const list = byHistory.get(h) ?? [];
      list.push([words[words.length - 1]!, c]);
      byHistory.set(h, list);
    }
    for (const [h, followers] of byHistory) {
      const ch = followers.reduce((a, [, c]) => a + c, 0);
      let lowerSeen = 0;
      for (const [w, c] of followers) {
        prob[n - 1]!.set(`${h} ${w}`, (c - discount) / ch);
        lowerSeen += p([...h.split(' ').slice(1), w]);
      }
      const left = (discount * followers.length) / ch;
      backoff[n - 2]!.set(h, left / Math.max(1e-9, 1 - lowerSeen));
    }
  }

  const log = (x: number): string => (x > 0 ? Math.log10(x).toFixed(4) : '-99');
  const lines: string[] = ['\\data\\'];
  const entries: string[][] = [];
  for (let n = 1; n <= order; n++) {
    const rows: string[] = [];
    if (n === 1) rows.push(`-99 ${BOS} ${log(backoff[0]?.get(BOS) ?? 1)}`);
    for (const key of [...prob[n - 1]!.keys()].sort()) {
      const bo = n < order ? backoff[n - 1]!.get(key) : undefined;
      rows.push(`${log(prob[n - 1]!.get(key)!)} ${key}${bo !== undefined ? ` ${log(bo)}` : ''}`);
    }
    entries.push(rows);
    lines.push(`ngram ${n}=${rows.length}`);
  }
  entries.forEach((rows, i) => lines.push('', `\\${i + 1}-grams:`, ...rows));
  lines.push('', '\\end\\', '');
  return lines.join('\n');
}

/** The words an ARPA model uses, for its small dictionary. */
export function arpaWords(arpa: string): string[] {
  const out = new Set<string>();
  let inUnigrams = false;
  for (const line of arpa.split('\n')) {
    if (line.startsWith('\\1-grams:')) inUnigrams = true;
    else if (line.startsWith('\\')) inUnigrams = false;
    else if (inUnigrams && line.trim()) {
      const w = line.split(' ')[1];
      if (w && w !== BOS && w !== EOS) out.add(w);
    }
  }
  return [...out].sort();
}
