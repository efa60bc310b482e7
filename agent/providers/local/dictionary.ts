/**
 * The recogniser's pronunciation dictionary (CMU format, as pocketsphinx reads it): which words it
 * can hear, and the lines to copy into a small per-grammar dictionary.
 *
 * A grammar decoded against a dictionary of only its own words starts in ~30 ms instead of
 * ~150 ms, because pocketsphinx no longer parses 134,000 entries per utterance.
 */
import { readFile } from 'node:fs/promises';

/** `word PH O NE S` or `word(2) PH O NE S`; the variant suffix marks an alternate pronunciation. */
const VARIANT = /\(\d+\)$/;

export class PronunciationDictionary {
  readonly #lines: ReadonlyMap<string, readonly string[]>;

  private constructor(lines: ReadonlyMap<string, readonly string[]>) {
    this.#lines = lines;
  }

  /** Parses dictionary text. Blank lines and `;;;`/`#` comment lines are skipped. */
  static parse(text: string): PronunciationDictionary {
    const lines = new Map<string, string[]>();
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith(';;;') || line.startsWith('#')) continue;
      const space = line.search(/\s/);
      if (space <= 0) continue;
      const word = line.slice(0, space).replace(VARIANT, '');
      const entry = lines.get(word);
      if (entry) entry.push(line);
      else lines.set(word, [line]);
    }
    return new PronunciationDictionary(lines);
  }

  /** Number of distinct words (alternate pronunciations count once). */
  get size(): number {
    return this.#lines.size;
  }

  /** Whether the recogniser can hear `word` (lower case, as the dictionary spells it). */
  has(word: string): boolean {
    return this.#lines.has(word);
  }

  /**
   * The dictionary text for just these words, every pronunciation of each, sorted. Throws a
   * RangeError for a word the dictionary lacks: the caller should have filtered it out.
   */
  subset(words: Iterable<string>): string {
    const out: string[] = [];
    for (const word of [...new Set(words)].sort()) {
      const lines = this.#lines.get(word);
      if (!lines) throw new RangeError(`"${word}" is not in the pronunciation dictionary`);
      out.push(...lines);
    }
    return out.length ? `${out.join('\n')}\n` : '';
  }
}

const loaded = new Map<string, Promise<PronunciationDictionary>>();

/**
 * Reads and parses the dictionary at `path` once per process; later calls share the result.
 * A failed read is not cached, so a fixed installation is picked up on the next call.
 */
export function loadDictionary(path: string): Promise<PronunciationDictionary> {
  let pending = loaded.get(path);
  if (!pending) {
    pending = readFile(path, 'utf8').then(PronunciationDictionary.parse);
    loaded.set(path, pending);
    pending.catch(() => loaded.delete(path));
  }
  return pending;
}
