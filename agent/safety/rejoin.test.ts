import { describe, expect, it } from 'vitest';
import { tokenizeUtterance } from '../../prompts/safety-language.ts';
import { compileSafetyRules, matchSafety, type SafetyRuleSpec } from './matcher.ts';
import { buildVocabulary, rejoinSplitWords, soundKey } from './rejoin.ts';

const vocab = buildVocabulary([
  'breathless',
  'suffocating',
  'hypo',
  'better off without me',
  'high temperature',
  'chest pain',
  'sore',
]);
const rejoined = (text: string) =>
  rejoinSplitWords(tokenizeUtterance(text), vocab)?.tokens.words.join(' ') ?? null;

describe('rejoinSplitWords', () => {
  it('puts back a word the recogniser split when the halves spell a word of the rules', () => {
    expect(rejoined('i am awful breath less today')).toBe('i am awful breathless today');
    expect(rejoined('they would be better off with out me')).toBe(
      'they would be better off without me',
    );
  });

  it('matches a long word by its sound, allowing a slip or two', () => {
    expect(rejoined('it feels like i am suffer cating')).toBe('it feels like i am suffocating');
  });

  it('matches a short word by sound only when it sounds the same', () => {
    expect(rejoined('i am having a high po')).toBe('i am having a hypo');
    expect(rejoined('i am having a high pa')).toBeNull();
  });

  it('leaves two words alone when they are said apart in the rules or make only a stem', () => {
    expect(rejoined('a high temperature of forty')).toBeNull();
    expect(rejoined('a pain in my chest')).toBeNull();
    // "so ring" stems like "sore", but a word that short is too often an accident.
    expect(rejoined('i am at my sisters so ring me monday')).toBeNull();
  });

  it('never joins across punctuation, a number word or a pronoun', () => {
    expect(rejoined('i can hardly breath, less and less')).toBeNull();
    expect(
      rejoinSplitWords(tokenizeUtterance('now her hypo'), buildVocabulary(['nowhere'])),
    ).toBeNull();
  });

  it('keys spellings of one sound together', () => {
    expect(soundKey('highpo')).toBe(soundKey('hypo'));
    expect(soundKey('suffocating')).toBe('sufocating');
  });
});

const RULES = [
  {
    id: 'breathing-difficulty',
    concepts: [{ id: 'breathless', phrases: ['breathless', 'cannot breathe'] }],
  },
  { id: 'suicidal-ideation', phrases: ['better off without me'] },
] as const satisfies readonly SafetyRuleSpec[];
const compiled = compileSafetyRules(RULES);

describe('matchSafety with split words', () => {
  it('fires on a split word and records the pair it put back', () => {
    const m = matchSafety(compiled, 'i am dead breath less this morning');
    expect(m?.rule.id).toBe('breathing-difficulty');
    expect(m?.trigger.explain?.heardAs).toEqual(['breath less → breathless']);
  });

  it('fires a rule phrase through a rejoined word', () => {
    expect(matchSafety(compiled, 'everyone would be better off with out me')?.rule.id).toBe(
      'suicidal-ideation',
    );
  });

  it('reads the words as heard first, so a match needs no rejoining', () => {
    const m = matchSafety(compiled, 'i cannot breathe, breath less');
    expect(m?.trigger.explain?.phrase).toBe('cannot breathe');
    expect(m?.trigger.explain?.heardAs).toBeUndefined();
  });

  it('stays quiet when the rejoined words say nothing either', () => {
    expect(matchSafety(compiled, 'i walked with out my stick')).toBeNull();
  });
});
