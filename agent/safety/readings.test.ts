import { describe, expect, it } from 'vitest';
import { normalizeUtterance } from '../../prompts/safety-language.ts';
import { compileSafetyRules, matchSafety, type SafetyRuleSpec } from './matcher.ts';
import { readReadings, repairNumberWords } from './readings.ts';

const values = (text: string) =>
  readReadings(normalizeUtterance(text).split(' ')).map((r) => r.value);

describe('reading numbers off a device', () => {
  it('reads numbers said as words, as digits and with a decimal point', () => {
    expect(values('fifty two')).toEqual([52]);
    expect(values('two point nine')).toEqual([2.9]);
    expect(values('thirty nine point five')).toEqual([39.5]);
    expect(values('it was 38.6')).toEqual([38.6]);
    expect(values('a hundred and two')).toEqual([102]);
  });

  it('repairs what the recogniser makes of "and" and digits inside a number', () => {
    expect(values('a hundred in two')).toEqual([102]);
    expect(values('hundred an three')).toEqual([103]);
    expect(values('one oh one')).toEqual([101]);
    expect(values('a hundred and to')).toEqual([102]);
    // "to point eight" is 2.8, but "came down to point eight" is where it went.
    expect(values('it said to point eight')).toEqual([2.8]);
    expect(repairNumberWords(['came', 'down', 'to', 'point', 'eight'])).toEqual([
      'came',
      'down',
      'to',
      'point',
      'eight',
    ]);
    expect(repairNumberWords(['i', 'went', 'in', 'to', 'town'])).toEqual([
      'i',
      'went',
      'in',
      'to',
      'town',
    ]);
  });
});

const SUGAR = {
  id: 'low-blood-sugar',
  concepts: [
    {
      id: 'hypoglycaemia',
      readings: [
        {
          near: ['sugar', 'glucose', 'meter', 'reading'],
          ranges: [{ below: 4 }, { from: 20, below: 70 }],
        },
      ],
      heardAs: { shugar: 'sugar' },
    },
  ],
} as const satisfies SafetyRuleSpec;
const FEVER = {
  id: 'fever',
  concepts: [
    {
      id: 'fever',
      readings: [
        {
          near: ['temperature', 'temp', 'thermometer'],
          ranges: [
            { from: 38, below: 45 },
            { from: 100.4, below: 112 },
          ],
        },
      ],
    },
  ],
} as const satisfies SafetyRuleSpec;
const rules = compileSafetyRules<SafetyRuleSpec>([SUGAR, FEVER]);
const fired = (text: string) => matchSafety(rules, text)?.rule.id ?? null;

describe('readings against a threshold', () => {
  it('fires on a low glucose in either unit, with or without symptoms', () => {
    expect(fired('my meter says fifty two and i feel funny')).toBe('low-blood-sugar');
    expect(fired('my sugar was two point nine')).toBe('low-blood-sugar');
    expect(fired('blood shugar is 48')).toBe('low-blood-sugar');
  });

  it('does not fire on a normal or high glucose, or on numbers that count something else', () => {
    expect(fired('my sugar was 110 this morning')).toBeNull();
    expect(fired('my sugar was six point two')).toBeNull();
    expect(fired('my sugar was a hundred and forty')).toBeNull();
    expect(fired('I take two sugars in my tea')).toBeNull();
    expect(fired('I take sixty units of insulin for my sugar')).toBeNull();
    expect(fired('I am sixty two years old and my sugar is fine')).toBeNull();
    expect(fired('my blood pressure reading was ninety over sixty')).toBeNull();
  });

  it('fires on a fever from 38 °C or 100.4 °F, heard however the recogniser wrote it', () => {
    expect(fired('a hundred in two on the thermometer this morning')).toBe('fever');
    expect(fired('my temperature is hundred an three')).toBe('fever');
    expect(fired('temp was thirty nine point five')).toBe('fever');
  });

  it('does not fire on a normal temperature or a denied one', () => {
    expect(fired('my temperature is ninety eight point six')).toBeNull();
    expect(fired('my temperature is thirty six point eight')).toBeNull();
    expect(fired('my temperature is not 38')).toBeNull();
  });

  it('explains itself with the profile range, never the patient number', () => {
    const m = matchSafety(rules, 'my meter says fifty two');
    expect(m?.trigger.explain?.terms).toEqual({ reading: 'meter', range: 'from 20 below 70' });
  });
});

describe('readings: dose schedules, medicine names and units', () => {
  it('does not read a dose schedule as a reading', () => {
    expect(fired('the blood sugar tablet is one a day with breakfast')).toBeNull();
    expect(fired('my sugar pill is one in the morning and one at night')).toBeNull();
    expect(fired('for my sugar I take two twice a day')).toBeNull();
    expect(fired('for my sugar she took three of them')).toBeNull();
    expect(fired('for the sugar, metformin one with meals')).toBeNull();
    expect(fired('for the sugar, gliclazide two in the morning')).toBeNull();
    expect(fired('for my sugar, one at bedtime')).toBeNull();
    expect(fired('for my sugar three a day')).toBeNull();
    expect(fired('my sugar was two at night')).toBe('low-blood-sugar');
    // The same numbers as readings still fire.
    expect(fired('my sugar is three this morning')).toBe('low-blood-sugar');
    expect(fired('my sugar was two point eight at night')).toBe('low-blood-sugar');
  });

  it('does not read a term that names a medicine ("sugar tablets") as the measurement', () => {
    expect(fired('my sugar tablets are two')).toBeNull();
    expect(fired('my sugar is two')).toBe('low-blood-sugar');
  });

  const OXYGEN = {
    id: 'breathing-difficulty',
    concepts: [
      {
        id: 'low-oxygen',
        readings: [
          {
            near: ['oxygen', 'sats', 'thing on my finger'],
            ranges: [{ from: 50, below: 90 }],
            units: ['percent', 'per cent'],
          },
        ],
      },
    ],
  } as const satisfies SafetyRuleSpec;
  const oxygen = compileSafetyRules<SafetyRuleSpec>([OXYGEN]);
  const low = (text: string) => matchSafety(oxygen, text)?.rule.id ?? null;

  it('accepts the reading\'s own unit words, which otherwise say "this counts something"', () => {
    expect(low('my oxygen is eighty four percent')).toBe('breathing-difficulty');
    expect(low('the thing on my finger says 86 per cent')).toBe('breathing-difficulty');
    expect(low('oxygen sats eighty five')).toBe('breathing-difficulty');
    expect(matchSafety(rules, 'my sugar is 3 percent')).toBeNull();
  });

  it('leaves a number that belongs to another measurement alone', () => {
    expect(low('my pulse was eighty two and my oxygen ninety eight')).toBeNull();
    expect(low('my oxygen is ninety six percent')).toBeNull();
  });
});

describe('readings v5: bare answers, dropped points, trends', () => {
  it('reads a temperature with its "point" dropped, and only a body temperature', () => {
    expect(values('thirty nine five')).toEqual([39.5]);
    expect(values('thirty eight six')).toEqual([38.6]);
    expect(values('twenty five six')).toEqual([25, 6]);
    expect(values('thirty nine five six')).toEqual([39, 5, 6]);
  });

  const BARE = {
    id: 'fever',
    concepts: [
      {
        id: 'fever',
        readings: [
          {
            near: ['temperature'],
            ranges: [
              { from: 38, below: 43 },
              { from: 100.4, below: 106 },
            ],
            numberAlone: true,
          },
        ],
      },
    ],
  } as const satisfies SafetyRuleSpec;
  const bare = compileSafetyRules<SafetyRuleSpec>([BARE]);
  const hot = (text: string) => matchSafety(bare, text)?.trigger.explain?.terms ?? null;

  it('fires on a number said as the whole answer, with filler and time words only', () => {
    expect(hot('a hundred and two')).toEqual({
      reading: 'a number said alone',
      range: 'from 100.4 below 106',
    });
    expect(hot('it said a hundred and three this morning')).not.toBeNull();
    expect(hot('um one oh three')).not.toBeNull();
  });

  it('does not fire on a number with anything else said, or out of range', () => {
    expect(hot('a hundred and two pounds')).toBeNull();
    expect(hot('a hundred and twenty over eighty')).toBeNull();
    expect(hot('ninety eight point six')).toBeNull();
    expect(hot('flat a hundred and two on the third floor')).toBeNull();
  });

  it('does not read an age as a reading', () => {
    expect(fired("I'm sixty five and my sugar is fine")).toBeNull();
  });

  const OXYGEN = {
    id: 'breathing-difficulty',
    concepts: [
      {
        id: 'low-oxygen',
        readings: [{ near: ['sats', 'oxygen'], ranges: [{ from: 50, below: 90 }] }],
      },
    ],
  } as const satisfies SafetyRuleSpec;
  const oxygen = compileSafetyRules<SafetyRuleSpec>([OXYGEN]);
  const low = (text: string) => matchSafety(oxygen, text)?.rule.id ?? null;

  it('follows a trend from the named reading to a later number ("ninety one … now eighty seven")', () => {
    expect(low('my sats were ninety one yesterday and now it says eighty seven')).toBe(
      'breathing-difficulty',
    );
    expect(low('my oxygen was ninety three earlier but now the thing says eighty six')).toBe(
      'breathing-difficulty',
    );
    expect(low('my sats were ninety six. i walked the dog for about eighty yards')).toBeNull();
  });
});

describe('readings v5: a number told with signs must stand bare; a recovery later wins', () => {
  const SIGNS = {
    id: 'low-blood-sugar',
    concepts: [
      {
        id: 'hypoglycaemia',
        readings: [
          { near: ['sugar', 'meter'], ranges: [{ below: 4 }, { from: 20, below: 70 }] },
          {
            near: ['sweating', 'shaky'],
            ranges: [
              { from: 1.5, below: 4 },
              { from: 20, below: 70 },
            ],
            window: 8,
            bareNumber: true,
          },
        ],
      },
    ],
  } as const satisfies SafetyRuleSpec;
  const signs = compileSafetyRules<SafetyRuleSpec>([SIGNS]);
  const hypo = (text: string) => matchSafety(signs, text)?.rule.id ?? null;

  it('fires on a bare low number with the signs of a hypo', () => {
    expect(hypo("forty nine this morning and I'm sweating")).toBe('low-blood-sugar');
    expect(hypo('two point nine and shaky')).toBe('low-blood-sugar');
    expect(hypo('it went to forty something and i am shaky')).toBe('low-blood-sugar');
  });

  it('does not read a number that counts something as a reading', () => {
    expect(hypo("I climbed fifty stairs and I'm sweating")).toBeNull();
    expect(hypo('forty nine stitches out and a bit shaky')).toBeNull();
  });

  it('does not fire when a later number says the reading has come back up', () => {
    expect(hypo('my sugar was sixty and after the juice it is a hundred and ten now')).toBeNull();
    expect(hypo('my sugar was sixty at seven this morning')).toBe('low-blood-sugar');
  });
});

describe('a number a person says, not a meter (v8)', () => {
  const rules = compileSafetyRules([
    {
      id: 'low-blood-sugar',
      concepts: [
        {
          id: 'hypoglycaemia',
          readings: [{ near: ['saying', 'it said'], ranges: [{ below: 4 }] }],
        },
      ],
    },
  ] as const satisfies readonly SafetyRuleSpec[]);
  const fires = (text: string) => matchSafety(rules, text)?.rule.id ?? null;

  it('reads a score the patient gives as a score', () => {
    expect(fires("pain out of ten, i'd say a three")).toBeNull();
    expect(fires('i would say about a two')).toBeNull();
  });

  it('still reads what the meter is saying', () => {
    expect(fires('the meter is saying three point one')).toBe('low-blood-sugar');
  });
});
