import { describe, expect, it } from 'vitest';
import { PronunciationDictionary } from './dictionary.ts';

const SAMPLE = [
  ';;; a comment line',
  'yes Y EH S',
  "don't D OW N T",
  "don't(2) D OW N",
  '',
  'chest CH EH S T',
  'pain P EY N',
].join('\n');

describe('pronunciation dictionary', () => {
  const dict = PronunciationDictionary.parse(SAMPLE);

  it('knows each word once, whatever its number of pronunciations', () => {
    expect(dict.size).toBe(4);
    expect(dict.has("don't")).toBe(true);
    expect(dict.has("don't(2)")).toBe(false);
    expect(dict.has('oxycontin')).toBe(false);
  });

  it('writes a small dictionary with every pronunciation of the words asked for', () => {
    expect(dict.subset(["don't", 'yes', 'yes'])).toBe(
      "don't D OW N T\ndon't(2) D OW N\nyes Y EH S\n",
    );
    expect(dict.subset([])).toBe('');
  });

  it('refuses to write a word it does not have', () => {
    expect(() => dict.subset(['yes', 'oxycontin'])).toThrow(/oxycontin/);
  });
});
