import { describe, expect, it } from 'vitest';
import {
  isRepeatRequest,
  parseAnswer,
  parseChoice,
  parseDate,
  parseNumber,
  parseText,
  parseYesNo,
  type ParseMiss,
} from './parse.ts';

const ok = <T>(value: T) => ({ ok: true, value });
const no = (why: ParseMiss) => ({ ok: false, miss: why });

describe('parseYesNo', () => {
  it.each([
    'yes',
    'Yes.',
    'yeah',
    'Yep!',
    'yup',
    'uh huh',
    'Mm-hmm.',
    'sure',
    'Right.',
    'correct',
    "That's right",
    "That's correct.",
    'Absolutely',
    'of course',
    'I think so',
    'Yeah, I did.',
    'I did, twice last week',
    'I have.',
    'Okay.',
    'Yes please, go ahead',
    'No problem, go ahead',
    'I do have a new one, penicillin',
  ])('hears yes in %j', (text) => {
    expect(parseYesNo(text)).toEqual(ok(true));
  });

  it.each([
    'no',
    'No.',
    'nope',
    'nah',
    'Not really.',
    'not at all',
    'never',
    "I haven't",
    'I have not.',
    "I didn't",
    "I don't think so",
    'I do not',
    'Nothing has changed',
    'none',
    'Absolutely not.',
    "no, I haven't missed any",
    'uh-uh',
    "Nope, I'm good",
  ])('hears no in %j', (text) => {
    expect(parseYesNo(text)).toEqual(ok(false));
  });

  it.each([
    ["I'm not sure", 'ambiguous'],
    ["I don't know", 'ambiguous'],
    ['no idea', 'ambiguous'],
    ['maybe', 'ambiguous'],
    ['yes and no', 'ambiguous'],
    ['yes, nothing has changed', 'ambiguous'],
    ['Yeah no', 'ambiguous'],
    ['my right arm is sore', 'no_match'],
    ["I'm fine", 'no_match'],
    ['I have a question', 'no_match'],
    ['um', 'no_match'],
    ['', 'no_match'],
  ] as const)('does not guess from %j (%s)', (text, why) => {
    expect(parseYesNo(text)).toEqual(no(why));
  });
});

describe('parseNumber', () => {
  it.each([
    ['7', 7],
    ['seven', 7],
    ['Seven.', 7],
    ['um, seven I guess', 7],
    ["I'd say a 7", 7],
    ['zero', 0],
    ['none', 0],
    ['10', 10],
    ['ten out of ten', 10],
    ['7 out of 10', 7],
    ['7/10', 7],
    ['on a scale of one to ten, seven', 7],
    ['twenty one', 21],
    ['twenty-one', 21],
    ['7.5', 7.5],
    ['seven and a half', 7.5],
    ['seven point five', 7.5],
    ['a couple', 2],
    ['a couple of doses', 2],
    ['twice', 2],
    ['maybe three', 3],
    ['three, three doses', 3],
  ])('reads %j as %d', (text, value) => {
    expect(parseNumber(text, { min: 0, max: 50 })).toEqual(ok(value));
  });

  it('reads large numbers in words and digits', () => {
    expect(parseNumber('one hundred and five')).toEqual(ok(105));
    expect(parseNumber('a hundred')).toEqual(ok(100));
    expect(parseNumber('two thousand three hundred')).toEqual(ok(2300));
    expect(parseNumber('1,250 steps')).toEqual(ok(1250));
  });

  it.each([
    ['two or three', 'ambiguous'],
    ['between five and six', 'ambiguous'],
    ['2-3', 'ambiguous'],
    ['seven, no, six', 'ambiguous'],
    ['eleven', 'out_of_range'],
    ['11 out of 10', 'out_of_range'],
    ["I don't know", 'no_match'],
    ['a few', 'no_match'],
    ['the second one', 'no_match'],
    ['', 'no_match'],
  ] as const)('does not guess from %j (%s)', (text, why) => {
    expect(parseNumber(text, { min: 0, max: 10 })).toEqual(no(why));
  });

  it('applies min and max only when the step sets them', () => {
    expect(parseNumber('eleven')).toEqual(ok(11));
    expect(parseNumber('three', { min: 5 })).toEqual(no('out_of_range'));
  });
});

describe('parseChoice', () => {
  const contact = ['phone call', 'text message', 'email'];
  const reasons = ['forgot', 'side effects', 'cost', 'ran out', 'something else'];
  const feeling = ['better', 'about the same', 'worse'];

  it.each([
    ['phone call', contact, 'phone call'],
    ['Phone calls are best', contact, 'phone call'],
    ['just call me', contact, 'phone call'],
    ['By text, please.', contact, 'text message'],
    ['texting is easiest', contact, 'text message'],
    ['a text message', contact, 'text message'],
    ['e-mail', contact, 'email'],
    ['Email me', contact, 'email'],
    ['I just forget', reasons, 'forgot'],
    ['I keep forgetting', reasons, 'forgot'],
    ['I forgot', reasons, 'forgot'],
    ['the side effects', reasons, 'side effects'],
    ['a side effect, I think', reasons, 'side effects'],
    ['it was the cost', reasons, 'cost'],
    ['I ran out', reasons, 'ran out'],
    ['running out before the refill', reasons, 'ran out'],
    ['something else', reasons, 'something else'],
    ["I didn't forget, it was the cost", reasons, 'cost'],
    ['Better, thanks', feeling, 'better'],
    ["I'm getting better", feeling, 'better'],
    ['about the same', feeling, 'about the same'],
    ['the same really', feeling, 'about the same'],
    ['a little worse', feeling, 'worse'],
    ['not better, worse', feeling, 'worse'],
    ['No, better.', feeling, 'better'],
  ])('matches %j to a choice', (text, choices, expected) => {
    expect(parseChoice(text, choices)).toEqual(ok(expected));
  });

  it.each([
    ['phone or text', contact, 'ambiguous'],
    ['about the same, maybe a bit better', feeling, 'ambiguous'],
    ['I was out of town', reasons, 'no_match'],
    ['carrier pigeon', contact, 'no_match'],
    ['not better', feeling, 'no_match'],
    ['', contact, 'no_match'],
  ] as const)('does not guess from %j (%s)', (text, choices, why) => {
    expect(parseChoice(text, choices)).toEqual(no(why));
  });

  it('returns the choice exactly as the profile writes it', () => {
    expect(parseChoice('PHONE', ['Phone Call', 'Text Message'])).toEqual(ok('Phone Call'));
  });
});

describe('parseDate', () => {
  // Wednesday, 11 March 2026.
  const today = '2026-03-11';

  it.each([
    ['today', '2026-03-11'],
    ['tonight', '2026-03-11'],
    ['tomorrow', '2026-03-12'],
    ['the day after tomorrow', '2026-03-13'],
    ['yesterday', '2026-03-10'],
    ['in three days', '2026-03-14'],
    ['in 2 weeks', '2026-03-25'],
    ['a week from today', '2026-03-18'],
    ['in a couple of days', '2026-03-13'],
    ['three days ago', '2026-03-08'],
    ['Friday', '2026-03-13'],
    ['on Friday', '2026-03-13'],
    ['this Monday', '2026-03-16'],
    ['Wednesday', '2026-03-18'],
    ['next Monday', '2026-03-16'],
    ['next Friday', '2026-03-20'],
    ['Tuesday next week', '2026-03-17'],
    ['last Monday', '2026-03-09'],
    ['last Wednesday', '2026-03-04'],
    ['March third', '2026-03-03'],
    ['March 3rd', '2026-03-03'],
    ['march the twenty first', '2026-03-21'],
    ['the 3rd of March', '2026-03-03'],
    ['14 April', '2026-04-14'],
    ['April fourteenth, 2027', '2027-04-14'],
    ['april fourteenth twenty twenty seven', '2027-04-14'],
    ['March 3, 2025', '2025-03-03'],
    ['3/14', '2026-03-14'],
    ['3/14/25', '2025-03-14'],
    ['on the 14th', '2026-03-14'],
    ['the second', '2026-03-02'],
    ['Monday the 16th', '2026-03-16'],
    ['December 30th', '2025-12-30'],
    ['September 2nd', '2026-09-02'],
    ["I think it's on the 20th, in the morning", '2026-03-20'],
  ])('reads %j as %s', (text, iso) => {
    expect(parseDate(text, today)).toEqual(ok(iso));
  });

  it('picks the nearest year when none is said, across a new year', () => {
    expect(parseDate('January 5th', '2026-12-20')).toEqual(ok('2027-01-05'));
    expect(parseDate('December 28th', '2027-01-03')).toEqual(ok('2026-12-28'));
  });

  it.each([
    ['next week', 'no_match'],
    ['sometime in March', 'no_match'],
    ["I don't have one yet", 'no_match'],
    ['February 30th', 'no_match'],
    ['wait a second', 'no_match'],
    ['March 3rd or March 4th', 'ambiguous'],
    ['Monday or Tuesday', 'ambiguous'],
    ['', 'no_match'],
  ] as const)('does not guess from %j (%s)', (text, why) => {
    expect(parseDate(text, today)).toEqual(no(why));
  });
});

describe('parseText', () => {
  it("keeps the patient's own words, trimmed", () => {
    expect(parseText('  My knee has been   hurting.  ')).toEqual(ok('My knee has been hurting.'));
    expect(parseText('No')).toEqual(ok('No'));
  });

  it.each(['', '   ', 'um', 'uh, well', 'thank you'])('hears no answer in %j', (text) => {
    expect(parseText(text)).toEqual(no('no_match'));
  });
});

describe('isRepeatRequest', () => {
  it.each([
    'what?',
    'What?',
    'Sorry?',
    'sorry, what?',
    'huh?',
    'pardon?',
    'Excuse me?',
    'Can you repeat that?',
    'could you say that again please',
    'come again?',
    "I didn't hear you",
    "Sorry, I didn't catch that",
    'what was the question?',
    'one more time please',
  ])('hears a request to repeat in %j', (text) => {
    expect(isRepeatRequest(text)).toBe(true);
  });

  it.each([
    'I need a repeat prescription',
    'what I want is a refill',
    "I'm sorry to hear that, but no",
    'yes',
    'seven',
  ])('does not take %j as a request to repeat', (text) => {
    expect(isRepeatRequest(text)).toBe(false);
  });
});

describe('parseAnswer', () => {
  it('reads each capture type with its own parser', () => {
    const ctx = { today: '2026-03-11' };
    expect(parseAnswer({ field: 'a', type: 'yesno' }, 'yep', ctx)).toEqual(ok(true));
    expect(parseAnswer({ field: 'a', type: 'number', min: 0, max: 10 }, 'six', ctx)).toEqual(ok(6));
    expect(parseAnswer({ field: 'a', type: 'number', min: 0, max: 10 }, '12', ctx)).toEqual(
      no('out_of_range'),
    );
    expect(parseAnswer({ field: 'a', type: 'date' }, 'tomorrow', ctx)).toEqual(ok('2026-03-12'));
    expect(
      parseAnswer({ field: 'a', type: 'choice', choices: ['red', 'blue'] }, 'blue one', ctx),
    ).toEqual(ok('blue'));
    expect(parseAnswer({ field: 'a', type: 'text' }, 'anything at all', ctx)).toEqual(
      ok('anything at all'),
    );
  });
});
