import { describe, expect, it } from 'vitest';
import {
  MAX_SPOKEN_NUMBER,
  numberPhrases,
  numberToWords,
  spokenRange,
  wordsToNumber,
} from './numbers.ts';

describe('number words', () => {
  it('says numbers the way people do', () => {
    expect(numberToWords(0)).toBe('zero');
    expect(numberToWords(7)).toBe('seven');
    expect(numberToWords(12)).toBe('twelve');
    expect(numberToWords(40)).toBe('forty');
    expect(numberToWords(42)).toBe('forty two');
    expect(numberToWords(100)).toBe('one hundred');
    expect(numberToWords(105)).toBe('one hundred five');
    expect(numberToWords(999)).toBe('nine hundred ninety nine');
  });

  it('accepts "a hundred" and "hundred and" variants, the usual form first', () => {
    expect(numberPhrases(9)).toEqual(['nine']);
    expect(numberPhrases(100)).toEqual(['one hundred', 'a hundred']);
    expect(numberPhrases(120)).toEqual([
      'one hundred twenty',
      'one hundred and twenty',
      'a hundred twenty',
      'a hundred and twenty',
    ]);
    expect(numberPhrases(250)).toEqual(['two hundred fifty', 'two hundred and fifty']);
  });

  it('reads every spoken form back to its number', () => {
    for (let n = 0; n <= MAX_SPOKEN_NUMBER; n++) {
      for (const phrase of numberPhrases(n)) expect(wordsToNumber(phrase)).toBe(n);
    }
  });

  it('reads nothing from words that are not a whole number', () => {
    for (const words of ['', 'yes', 'seven eight', 'zero zero', 'hundred', 'twenty ten', 'a']) {
      expect(wordsToNumber(words)).toBeUndefined();
    }
  });

  it('refuses negatives, fractions and numbers above the spoken range', () => {
    for (const n of [-1, 2.5, MAX_SPOKEN_NUMBER + 1, Number.NaN]) {
      expect(() => numberToWords(n)).toThrow(RangeError);
    }
  });
});

describe('spoken range of a number question', () => {
  it('uses the step bounds, rounded inwards', () => {
    expect(spokenRange(0, 10)).toEqual({ lo: 0, hi: 10 });
    expect(spokenRange(0.5, 9.5)).toEqual({ lo: 1, hi: 9 });
  });

  it('defaults to zero to one hundred, or a hundred above a high minimum', () => {
    expect(spokenRange(undefined, undefined)).toEqual({ lo: 0, hi: 100 });
    expect(spokenRange(30, undefined)).toEqual({ lo: 30, hi: 100 });
    expect(spokenRange(150, undefined)).toEqual({ lo: 150, hi: 250 });
  });

  it('clamps to what can be spoken and reports an empty range', () => {
    expect(spokenRange(-20, 300)).toEqual({ lo: 0, hi: 300 });
    expect(spokenRange(900, 5000)).toEqual({ lo: 900, hi: MAX_SPOKEN_NUMBER });
    expect(spokenRange(1000, 2000)).toBeUndefined();
    expect(spokenRange(2.2, 2.8)).toBeUndefined();
  });
});
