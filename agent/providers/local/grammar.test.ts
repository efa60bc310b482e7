import { describe, expect, it } from 'vitest';
import type { Capture } from '../../../prompts/schema.ts';
import type { Expectation } from '../../protocol/expectation.ts';
import {
  NO_PHRASES,
  YES_PHRASES,
  type Grammar,
  type RecognitionPlan,
  type WordSet,
  grammarKey,
  grammarWords,
  matchHypothesis,
  planRecognition,
  toGrammarWords,
  toJsgf,
} from './grammar.ts';

/** A dictionary that knows every word made of letters and apostrophes, except `unknown`. */
function wordsExcept(...unknown: string[]): WordSet {
  return { has: (w) => /^[a-z']+$/.test(w) && !unknown.includes(w) };
}

const capture = (c: Capture): Expectation => ({ kind: 'capture', stepId: 'step', capture: c });
const yesno = capture({ field: 'a', type: 'yesno' });
const pain = capture({ field: 'pain', type: 'number', min: 0, max: 10 });
const contact = capture({
  field: 'contact',
  type: 'choice',
  choices: ['phone call', 'text message', 'E-mail'],
});
const phrases = { safety: ['chest pain', "can't breathe"], end: ['goodbye', 'hang up'] };

function grammarOf(plan: RecognitionPlan): Grammar {
  if (plan.mode !== 'grammar') throw new Error(`expected a grammar, got ${plan.reason}`);
  return plan.grammar;
}

describe('phrases as recogniser words', () => {
  const dict = wordsExcept('icu', 'oxycontin', 'e-mail');

  it('lower-cases, drops punctuation and keeps apostrophes', () => {
    expect(toGrammarWords('I can’t BREATHE!!', dict)).toEqual({
      words: ['i', "can't", 'breathe'],
      unknown: [],
    });
  });

  it('spells out numbers: one or two digits as a number, longer ones digit by digit', () => {
    expect(toGrammarWords('2 weeks', dict).words).toEqual(['two', 'weeks']);
    expect(toGrammarWords('call 911', dict).words).toEqual(['call', 'nine', 'one', 'one']);
  });

  it('spells acronyms the dictionary lacks letter by letter, and splits unknown hyphenations', () => {
    expect(toGrammarWords('the ICU', dict).words).toEqual(['the', 'i', 'c', 'u']);
    expect(toGrammarWords('E-mail', dict).words).toEqual(['e', 'mail']);
  });

  it('reports words it cannot hear instead of dropping them from the phrase', () => {
    expect(toGrammarWords('took my OxyContin', dict)).toEqual({
      words: ['took', 'my'],
      unknown: ['oxycontin'],
    });
  });
});

describe('recognition plan for an expectation', () => {
  const dict = wordsExcept();

  it('listens for yes and no variants, the red flags and the end phrases during a yes/no question', () => {
    const g = grammarOf(planRecognition(yesno, phrases, dict));
    expect(g.kind).toBe('yesno');
    const expected = g.alternatives.filter((a) => a.role === 'expected');
    expect(expected).toHaveLength(YES_PHRASES.length + NO_PHRASES.length);
    expect(expected.find((a) => a.text === "I don't")?.value).toBe(false);
    expect(expected.find((a) => a.text === 'yeah')?.value).toBe(true);
    expect(g.alternatives.filter((a) => a.role === 'safety').map((a) => a.text)).toEqual([
      'chest pain',
      "can't breathe",
    ]);
    expect(g.alternatives.filter((a) => a.role === 'end').map((a) => a.value)).toEqual([
      'goodbye',
      'hang up',
    ]);
  });

  it('uses the yes/no grammar to confirm a read-back answer', () => {
    const plan = planRecognition({ kind: 'confirm', stepId: 'pain' }, phrases, dict);
    expect(grammarOf(plan).key).toBe(grammarOf(planRecognition(yesno, phrases, dict)).key);
  });

  it('listens for exactly the numbers in the step range, valued', () => {
    const g = grammarOf(planRecognition(pain, phrases, dict));
    const numbers = g.alternatives.filter((a) => a.role === 'expected');
    expect(numbers.map((a) => a.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(numbers.find((a) => a.value === 7)?.text).toBe('seven');
  });

  it('listens for the choices as the profile writes them', () => {
    const g = grammarOf(planRecognition(contact, phrases, dict));
    const choices = g.alternatives.filter((a) => a.role === 'expected');
    expect(choices.map((a) => [a.words.join(' '), a.value])).toEqual([
      ['phone call', 'phone call'],
      ['text message', 'text message'],
      ['e mail', 'E-mail'],
    ]);
  });

  it('falls back to the language model for free speech', () => {
    expect(planRecognition({ kind: 'open' }, phrases, dict)).toMatchObject({
      mode: 'lm',
      reason: 'open',
    });
    expect(planRecognition(capture({ field: 't', type: 'text' }), phrases, dict)).toMatchObject({
      mode: 'lm',
      reason: 'text',
    });
    expect(planRecognition(capture({ field: 'd', type: 'date' }), phrases, dict)).toMatchObject({
      mode: 'lm',
      reason: 'date',
    });
    const huge = capture({ field: 'n', type: 'number', min: 5000 });
    expect(planRecognition(huge, phrases, dict)).toMatchObject({
      mode: 'lm',
      reason: 'unspeakable',
    });
  });

  it('leaves out phrases it cannot hear, and names them', () => {
    const unknownDrug = wordsExcept('oxycontin', 'zzz');
    const plan = planRecognition(
      capture({ field: 'm', type: 'choice', choices: ['OxyContin', 'aspirin'] }),
      { safety: ['chest pain', 'zzz attack'], end: ['goodbye'] },
      unknownDrug,
    );
    const g = grammarOf(plan);
    expect(g.alternatives.map((a) => a.text)).toEqual(['chest pain', 'aspirin', 'goodbye']);
    expect(g.dropped).toEqual(['zzz attack', 'OxyContin']);
  });

  it('falls back to the language model when no answer can be heard', () => {
    const plan = planRecognition(
      capture({ field: 'm', type: 'choice', choices: ['OxyContin', 'Zzzquil'] }),
      phrases,
      wordsExcept('oxycontin', 'zzzquil'),
    );
    expect(plan).toMatchObject({
      mode: 'lm',
      reason: 'unspeakable',
      dropped: ['OxyContin', 'Zzzquil'],
    });
  });

  it('hears a phrase that is both a red flag and an answer as a red flag', () => {
    const g = grammarOf(
      planRecognition(
        capture({ field: 's', type: 'choice', choices: ['chest pain', 'headache'] }),
        phrases,
        dict,
      ),
    );
    const chestPain = g.alternatives.filter((a) => a.words.join(' ') === 'chest pain');
    expect(chestPain).toHaveLength(1);
    expect(chestPain[0]?.role).toBe('safety');
  });
});

describe('grammar cache key', () => {
  it('is shared by questions with the same answers and differs otherwise', () => {
    const otherYesNo = { ...yesno, stepId: 'other' } as Expectation;
    expect(grammarKey(otherYesNo)).toBe(grammarKey(yesno));
    expect(grammarKey({ kind: 'confirm', stepId: 'x' })).toBe(grammarKey(yesno));
    expect(grammarKey(pain)).not.toBe(
      grammarKey(capture({ field: 'p', type: 'number', min: 0, max: 5 })),
    );
    expect(grammarKey({ kind: 'open' })).toBeUndefined();
    expect(grammarKey(capture({ field: 't', type: 'text' }))).toBeUndefined();
  });
});

describe('JSGF for pocketsphinx', () => {
  const g = grammarOf(planRecognition(pain, phrases, wordsExcept()));
  const jsgf = toJsgf(g, { expected: 1, safety: 0.5, end: 0.0000001 });

  it('is one public rule of weighted alternatives, each starting with a word', () => {
    const lines = jsgf.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['#JSGF V1.0;', 'grammar voicecare;']);
    expect(lines[2]).toBe('public <utterance> = /0.5/ chest pain');
    expect(jsgf).toContain("| /0.5/ can't breathe");
    expect(jsgf).toContain('| /1/ seven');
    expect(jsgf).toContain('| /0.0000001/ hang up;');
    expect(jsgf).not.toMatch(/\/\s*[<(]/);
    expect(jsgf).not.toMatch(/e-/);
  });

  it('refuses a weight that is not positive', () => {
    expect(() => toJsgf(g, { expected: 1, safety: 0, end: 1 })).toThrow(RangeError);
  });

  it('lists every word it uses once, for the small dictionary', () => {
    const words = grammarWords(g);
    expect(words).toContain("can't");
    expect(words).toContain('seven');
    expect(new Set(words).size).toBe(words.length);
  });

  it('maps the recogniser words back to the alternative', () => {
    expect(matchHypothesis(g, ['seven'])).toMatchObject({ role: 'expected', value: 7 });
    expect(matchHypothesis(g, ['CHEST', 'pain'])).toMatchObject({ role: 'safety' });
    expect(matchHypothesis(g, ['seven', 'eight'])).toBeUndefined();
    expect(matchHypothesis(g, [])).toBeUndefined();
  });
});
