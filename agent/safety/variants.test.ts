import { describe, expect, it } from 'vitest';
import { normalizeUtterance, stemWord } from '../../prompts/safety-language.ts';
import { compileSafetyRules, matchSafety, type SafetyRuleSpec } from './matcher.ts';
import { readReadings } from './readings.ts';

/** Inline rules with the library's kind of sayAlso, so each variant is tested on its own. */
const RULES = [
  {
    id: 'stroke-signs',
    concepts: [
      {
        id: 'speech-trouble',
        phrases: ['cannot get my words out'],
        sayAlso: { my: ['me', 'his', 'her'], cannot: ['could not', 'can not'] },
      },
    ],
  },
  {
    id: 'chest-pain',
    concepts: [
      {
        id: 'chest-discomfort',
        all: { site: ['my chest'], sensation: ['squeeze', 'swell'] },
        sayAlso: { my: ['me', 'his'] },
      },
    ],
  },
  {
    id: 'low-blood-sugar',
    concepts: [
      {
        id: 'hypoglycaemia',
        readings: [{ near: ['sugar', 'it says'], ranges: [{ below: 4 }, { from: 20, below: 70 }] }],
      },
    ],
  },
  {
    id: 'breathing-difficulty',
    concepts: [
      {
        id: 'low-oxygen',
        readings: [{ near: ['oxygen'], ranges: [{ from: 50, below: 90 }] }],
      },
    ],
  },
  {
    id: 'fever',
    concepts: [
      {
        id: 'fever',
        readings: [{ near: ['temp'], ranges: [{ from: 38, below: 45 }], decimalAlone: true }],
      },
    ],
  },
] as const satisfies readonly SafetyRuleSpec[];
const compiled = compileSafetyRules(RULES);
const ruleFor = (text: string) => matchSafety(compiled, text)?.rule.id ?? null;

describe('sayAlso: other forms of a term word, combined', () => {
  it.each([
    'I cannot get my words out',
    "he can't get his words out",
    'he could not get his words out',
    "i can't get me words out",
  ])('%j fires', (text) => expect(ruleFor(text)).toBe('stroke-signs'));

  it('records the forms the match relied on, in the profile words', () => {
    const m = matchSafety(compiled, 'he could not get his words out');
    expect(m?.trigger.explain?.heardAs?.join(', ')).toMatch(/could not → cannot/);
    expect(m?.trigger.explain?.heardAs?.join(', ')).toMatch(/his → my/);
  });

  it('does not invent other words: "she could not get the car out" is quiet', () => {
    expect(ruleFor('she could not get the car out')).toBeNull();
  });
});

describe('spoken forms', () => {
  it('meets a dropped g with the -ing form', () => {
    expect(stemWord('squeezin')).toBe(stemWord('squeezing'));
    expect(stemWord('swellin')).toBe(stemWord('swelling'));
    expect(stemWord('bleedin')).toBe(stemWord('bleeding'));
    expect(ruleFor('me chest is squeezin')).toBe('chest-pain');
  });

  it('leaves real words that end in -in alone', () => {
    expect(stemWord('within')).toBe('within');
    expect(stemWord('skin')).toBe('skin');
  });

  it('spells out wanna, gonna and the Scots -nae forms', () => {
    expect(normalizeUtterance("i don't wanna wake up")).toBe('i do not want to wake up');
    expect(normalizeUtterance('i cannae breathe')).toBe('i cannot breathe');
    expect(normalizeUtterance('he didnae fall')).toBe('he did not fall');
  });

  it('spells Scots and Jamaican forms of everyday words the standard way (v9)', () => {
    expect(normalizeUtterance('his mooth is doon at wan side')).toBe(
      'his mouth is down at one side',
    );
    expect(normalizeUtterance('she keeled ower, passed oot')).toBe('she keeled over passed out');
    expect(normalizeUtterance('the words winnae come')).toBe('the words will not come');
    expect(normalizeUtterance('mi tek di tablet')).toBe('mi take di tablet');
  });

  it('leaves English words that look like dialect alone', () => {
    expect(normalizeUtterance('i took the tablets out of the box')).toBe(
      'i took the tablets out of the box',
    );
  });
});

describe('readings said the American way, as a plural, or misheard', () => {
  const values = (text: string) =>
    readReadings(normalizeUtterance(text).split(' ')).map((r) => r.value);

  it('reads "one twenty" as 120 and "one thirty two" as 132, never "a hundred two" twice', () => {
    expect(values('my sugar was one twenty')).toEqual([120]);
    expect(values('one thirty two my meter says')).toEqual([132]);
    expect(values('a fever of a hundred two')).toEqual([102]);
  });

  it('reads "in the low eighties" and "in the threes" as a value in the range', () => {
    expect(values('in the low eighties')).toEqual([82]);
    expect(values('in the high eighties')).toEqual([88]);
    expect(values('sugar is in the threes')).toEqual([3.5]);
    expect(values('the ones on the left')).toEqual([]);
  });

  it('repairs a digit heard as a word after a tens word', () => {
    expect(values('thirty ate point seven')).toEqual([38.7]);
    expect(values('thirty to forty')).toEqual([30, 40]);
  });

  it.each([
    ['my sugar was one twenty this morning', null],
    ['sugar is one thirty two', null],
    ['my oxygen keeps reading in the low eighties', 'breathing-difficulty'],
    ['lows in the fifties on my sugar', 'low-blood-sugar'],
    ['sixty eight it says and i am shaky', 'low-blood-sugar'],
    ['my temp is thirty ate point seven', 'fever'],
    ['i checked my sugar and the tuesday one was still in the pack', null],
  ])('%j → %s', (text, rule) => expect(ruleFor(text)).toBe(rule));
});

describe('decimalAlone: a decimal reading with nothing else measured in its sentence', () => {
  it.each([
    ['thirty eight point two this morning and i am on the chemo', 'fever'],
    ['it was 38.6 when i woke', 'fever'],
  ])('%j → %s', (text, rule) => expect(ruleFor(text)).toBe(rule));

  it.each([
    'thirty eight this morning',
    'my weight is thirty nine point five',
    'she is thirty nine point five weeks',
    'it was not thirty eight point two',
  ])('%j does not fire', (text) => expect(ruleFor(text)).toBeNull());
});

describe('a reading read out by a device that measures something else', () => {
  const rules = compileSafetyRules([
    {
      id: 'low-blood-sugar',
      concepts: [
        {
          id: 'hypoglycaemia',
          readings: [{ near: ['sugar', 'saying'], ranges: [{ from: 20, below: 70 }] }],
        },
      ],
    },
  ]);
  it('fires for "my meter keeps saying fifty eight"', () => {
    expect(matchSafety(rules, 'my meter keeps saying fifty eight')?.rule.id).toBe(
      'low-blood-sugar',
    );
  });
  it('stays quiet for "the thermometer says thirty seven point one"', () => {
    expect(matchSafety(rules, 'the thermometer says thirty seven point one')).toBeNull();
  });
});

describe('Caribbean spoken forms (v8)', () => {
  it('spells out "cyaan" as cannot, so "mi cyaan" meets a "cannot" term', () => {
    expect(normalizeUtterance('mi cyaan lift mi arm')).toBe('mi cannot lift mi arm');
    expect(normalizeUtterance('she kyaan talk')).toBe('she cannot talk');
  });
});
