import { describe, expect, it } from 'vitest';
import { tokenizeUtterance } from '../../prompts/safety-language.ts';
import { suppressedBy } from './context.ts';
import { compileSafetyRules, matchSafety, type SafetyRuleSpec } from './matcher.ts';

/** Inline rules, so each reading is tested on its own and not through the concept library. */
const RULES = [
  {
    id: 'chest-pain',
    phrases: ['chest pain', 'heart attack'],
    concepts: [
      {
        id: 'chest-discomfort',
        all: { site: ['chest'], sensation: ['pain', 'tight', 'heavy', 'squeeze', 'crush'] },
      },
    ],
  },
  {
    id: 'breathing-difficulty',
    phrases: ['short of breath', 'shortness of breath', 'cannot breathe', 'trouble breathing'],
    concepts: [
      {
        id: 'breathing-difficulty',
        all: { difficulty: ['cannot', 'struggle'], breath: ['breath', 'air'] },
        window: 4,
      },
    ],
  },
  { id: 'stroke-signs', phrases: ['having a stroke', 'face is numb'] },
  { id: 'fainting', phrases: ['passed out', 'fainted', 'blacked out'] },
  {
    id: 'severe-bleeding',
    concepts: [
      {
        id: 'uncontrolled-bleeding',
        all: { blood: ['bleeding'], stop: ['will not stop'] },
      },
    ],
  },
  {
    id: 'leg-swelling',
    concepts: [{ id: 'leg-swelling', all: { leg: ['leg', 'calf'], change: ['swell', 'red'] } }],
  },
] as const satisfies readonly SafetyRuleSpec[];
const compiled = compileSafetyRules(RULES);
const ruleFor = (text: string) => matchSafety(compiled, text)?.rule.id ?? null;

const cases = (label: string, fire: readonly (readonly [string, string])[], quiet: string[]) => {
  describe(label, () => {
    it.each(quiet)('%j does not fire', (text) => expect(ruleFor(text)).toBeNull());
    it.each(fire)('%j still fires %s', (text, rule) => expect(ruleFor(text)).toBe(rule));
  });
};

cases(
  'a denial said after the symptom, only when it clearly attaches to it',
  [
    ['chest pain no, I am not alright', 'chest-pain'],
    ['chest pain? yes, and it is spreading', 'chest-pain'],
    ['I cannot breathe, no', 'breathing-difficulty'],
    ['short of breath, not at all better, worse if anything', 'breathing-difficulty'],
    ['chest pain, no, never had it before today', 'chest-pain'],
    ['shortness of breath I do not know why', 'breathing-difficulty'],
    ['I had chest pain. No, I am not ok', 'chest-pain'],
    ['chest pain, not really sure when it started', 'chest-pain'],
  ],
  [
    'chest pain no not a bit of it',
    'any chest pain? no',
    'shortness of breath, no, none at all',
    'trouble breathing? no, thankfully not',
    'fainted? never in my life',
    'chest pain, not really, just the usual stiffness',
    'passed out, not that I know of',
    'palpitations, chest pain, no, neither',
  ],
);

cases(
  'a negation through a verb of saying or noticing',
  [
    ["I can't say much, I'm so short of breath", 'breathing-difficulty'],
    ["I wouldn't say it's bad but I have chest pain now", 'chest-pain'],
  ],
  [
    "I wouldn't say I'm short of breath",
    "I can't say I've noticed any shortness of breath",
    "I can't honestly say I've had chest pain",
    "I haven't noticed that I'm short of breath",
  ],
);

cases(
  'negative concord: a second negation inside the symptom is emphasis',
  [
    ["I can't get no air", 'breathing-difficulty'],
    ['it will not stop bleeding for nothing', 'severe-bleeding'],
    ['the bleeding, no it will not stop', 'severe-bleeding'],
  ],
  ["I ain't got no chest pain"],
);

cases(
  'fear of a future event, but never fear about a symptom now',
  [
    ["I'm scared, my chest is crushing", 'chest-pain'],
    ["I'm frightened I'm having a heart attack", 'chest-pain'],
    ["I'm worried about this chest pain I've had since lunch", 'chest-pain'],
    ["I'm scared I'll pass out", 'fainting'],
    ["I'm afraid of fainting again, I fainted twice today", 'fainting'],
    ["I'm so scared, I think I'm having a stroke", 'stroke-signs'],
  ],
  [
    "I'm scared of having a stroke like my dad",
    'do I need to worry about fainting on these new pills',
    "my daughter worries I'll pass out when I'm on my own",
    'I worry about having a heart attack like my brother did',
    "he fears he'll pass out one day when he's out",
  ],
);

cases(
  'a symptom gone now, unless it was recent, brief or is back',
  [
    ['the chest pain went away but now it is back and worse', 'chest-pain'],
    ['the chest pain has gone down my arm', 'chest-pain'],
    ["the chest pain hasn't gone away", 'chest-pain'],
    ['the chest pain I had this morning has gone now', 'chest-pain'],
    ['the chest pain I had for twenty minutes has gone', 'chest-pain'],
    ['the swelling has gone down my leg and it is red', 'leg-swelling'],
    ['I passed out when I went away', 'fainting'],
  ],
  [
    'that squeezing in my chest I had before the operation has gone completely',
    'the chest pain has settled now thank god',
    'the swelling in my leg has gone down now',
  ],
);

cases(
  'remote history said as a year in words',
  [['I had a heart attack in two thousand nineteen and it is happening again', 'chest-pain']],
  [
    'I had a heart attack in two thousand nineteen and they put in two stents',
    'my heart attack was in two thousand and twelve',
  ],
);

cases(
  'figures of speech and phrasal verbs with a thing as object',
  [
    ['these tablets are giving me a heart attack', 'chest-pain'],
    ['she passed out in the kitchen and hit her head', 'fainting'],
    ['I blacked out the whole afternoon', 'fainting'],
  ],
  [
    'the price of insulin is enough to give anyone a heart attack',
    'you nearly gave me a heart attack',
    'I blacked out the bedroom windows so I can sleep',
    'she passed out the leaflets at church',
  ],
);

describe('someone else, recently', () => {
  it('reads "she has had" as recent, not her history', () => {
    const t = tokenizeUtterance("she's had a heart attack");
    const span = { start: 4, end: 6, own: new Set([4, 5]) };
    expect(t.words.slice(4, 6)).toEqual(['heart', 'attack']);
    expect(suppressedBy(t, span)).toBeNull();
    const past = tokenizeUtterance('my mother had a heart attack');
    expect(suppressedBy(past, { start: 4, end: 6, own: new Set([4, 5]) })).toBe('someone-else');
  });
});

cases(
  'other hypotheticals, experiencers and histories',
  [
    ['feel free to call, my chest is so tight', 'chest-pain'],
    ['should I be worried, I have chest pain', 'chest-pain'],
    ['I was laughing and now I cannot breathe', 'breathing-difficulty'],
    ['my cat is on my chest and I cannot breathe', 'breathing-difficulty'],
    ['I am okay I suppose, except my chest is so tight', 'chest-pain'],
  ],
  [
    'I have been free of chest pain since the stent',
    'should I get chest pain again, what do I do',
    'suppose I fainted, what then',
    'my cat cannot breathe properly, she is at the vet',
    'when I was pregnant I fainted a lot',
    'I laughed so hard I could not breathe',
  ],
);

cases(
  'two negations make a report; "zero" denies',
  [
    ['I cannot walk to the toilet without stopping, I cannot breathe', 'breathing-difficulty'],
    ['she can not get up the stairs without being short of breath', 'breathing-difficulty'],
  ],
  ['zero chest pain', 'I walked up the hill without being short of breath'],
);

cases(
  'over and said to be over, unless anything says it is recent, back or worse',
  [
    ['my son fainted this morning but he is fine now', 'fainting'],
    ['I passed out last week and I am fine now but it happened again today', 'fainting'],
    ['he was right as rain at breakfast and now he has passed out', 'fainting'],
  ],
  [
    'I had chest pain once years ago but none since',
    'my grandson fainted at his wedding with the heat but he was grand after a glass of water',
    'my leg was a bit swollen round the scar but the surgeon said it is normal',
    'I was short of breath after the op but it settled before they let me home',
  ],
);

cases(
  'people in general, and reactions said for effect',
  [
    ['I nearly passed out in the kitchen and I feel awful', 'fainting'],
    ['it made me pass out', 'fainting'],
  ],
  [
    'some people faint at the sight of blood',
    'the gas bill nearly made me faint',
    'the price of eggs makes me wanna faint',
    'I almost fainted when I saw the hospital bill',
  ],
);

cases(
  'a fear of the future, said as a noun or by someone else',
  [["my biggest fear is that I'm having a stroke right now", 'stroke-signs']],
  [
    'my biggest fear is having a stroke like my dad did',
    "my daughter's worried I might pass out in the shower",
    "I'm worried I might faint at the op tomorrow",
  ],
);

cases(
  "a carer's report in the past tense is now; someone else's history needs a condition or a time",
  [
    ['he said his chest was tight and he is lying down now', 'chest-pain'],
    ['she was short of breath and could not get up', 'breathing-difficulty'],
  ],
  [
    'my mother had a stroke',
    'my son had chest pain last week but it was a pulled muscle',
    'my sister had a heart attack in the nineties',
  ],
);

cases(
  'history said as an age or a decade, and "used to … but now"',
  [
    ['the chest pain used to come on the stairs but now it comes sitting still', 'chest-pain'],
    ['my oxygen keeps dropping, I am short of breath in the eighties', 'breathing-difficulty'],
  ],
  [
    'I passed out when I was nineteen',
    'I had a stroke in the seventies',
    'my father had a heart attack at sixty so I like to keep an eye on things',
  ],
);

cases(
  'a turn said to be only a question',
  [["I'm just asking because my chest pain is bad right now", 'chest-pain']],
  ["does chest pain come with the new tablets, I haven't had any, I'm just asking"],
);

cases(
  'said of a thing',
  [['my husband blacked out in front of the telly', 'fainting']],
  ['the telly blacked out in the middle of the match'],
);

cases(
  'a second negation far back in the clause, and "this feels the same as last time"',
  [
    [
      'my mam cannot walk from the chair to the toilet now without being short of breath',
      'breathing-difficulty',
    ],
    [
      'my partner had a heart attack in twenty nineteen and he says this feels the same as last time',
      'chest-pain',
    ],
  ],
  ['my partner had a heart attack in twenty nineteen'],
);

cases(
  'over long since: told in the past, weeks or more back, and said to have ended',
  [
    ['I had chest pain yesterday and it is back now', 'chest-pain'],
    ['I had chest pain last year but now it has come back worse', 'chest-pain'],
    ['the chest pain from last spring had gone but now I have it again', 'chest-pain'],
    [
      'I was short of breath weeks ago and it settled but I am short of breath again',
      'breathing-difficulty',
    ],
    [
      'my son was short of breath in March and he stopped breathing just now',
      'breathing-difficulty',
    ],
    ['I had chest pain this morning and it went away after ten minutes', 'chest-pain'],
  ],
  [
    'I was short of breath after the op but that settled weeks ago',
    'I had some chest tightness in the spring but it went away and never came back',
    'the chest pain I had in the summer has completely gone',
    'I had chest pain in November but it cleared up with the antibiotics',
  ],
);

cases(
  'an episode over without a time long past, a cause or a treatment is still the red flag',
  [
    ['I think I was having a stroke but it went away', 'stroke-signs'],
    ['I had crushing chest pain on Friday and it went away', 'chest-pain'],
    ['I passed out an hour ago but I am fine now', 'fainting'],
    ['she fainted in the kitchen and she was fine after a minute', 'fainting'],
  ],
  [
    'my grandson fainted at his wedding in the heat but he was fine after a glass of water',
    'I had chest pain last year but it is fine now',
  ],
);

cases(
  'asked back: a question about a symptom in general, with a medicine or a worry',
  [
    ['is this chest pain the tablets? it is really bad', 'chest-pain'],
    ['could my chest pain be the new tablets', 'chest-pain'],
    ['should I be worried about chest pain with this medicine, I have it right now', 'chest-pain'],
    [
      'there is no point taking the tablets, I am short of breath all the time',
      'breathing-difficulty',
    ],
  ],
  [
    'is shortness of breath something to worry about with the new inhaler',
    'should I be worried about chest pain with this medicine',
    'so um would chest pain be a side effect of these tablets',
  ],
);

cases(
  'over: worn off long ago, or ended before the patient left hospital (v8)',
  [
    ['my chest was tight this morning but it wore off', 'chest-pain'],
    ['the chest pain went away before the ambulance came', 'chest-pain'],
  ],
  [
    'my chest was tight in the spring but it wore off and never came back',
    'the chest pain went away before they let me home and I have been fine since',
  ],
);

cases(
  'a feeling said first, then what it nearly did (v8)',
  [['I was so shocked, and now I have chest pain', 'chest-pain']],
  [
    'I was so shocked I nearly had a heart attack',
    'she was that happy she could have had a heart attack',
  ],
);

cases(
  'new, not history: "I never used to" (v8)',
  [['I struggle for breath on the landing, I never used to', 'breathing-difficulty']],
  ['I used to struggle for breath on the landing'],
);

cases(
  'what a symptom looks like, asked in general (v8)',
  [['my chest pain is like a heavy weight, what would a heart attack feel like', 'chest-pain']],
  ['what would a heart attack feel like'],
);

describe('drink, and over by the next day (v8)', () => {
  const rules = compileSafetyRules([
    { id: 'stroke-signs', phrases: ['slurring my words', 'face drooped'] },
  ] as const satisfies readonly SafetyRuleSpec[]);
  const fires = (text: string) => matchSafety(rules, text)?.rule.id ?? null;

  it('is quiet on slurring after drink that was fine the next morning', () => {
    expect(
      fires('I was slurring my words after a few pints at the wedding but fine the next morning'),
    ).toBeNull();
  });

  it('is quiet on "one too many" and slurring, fine today', () => {
    expect(fires('had one too many at the barbecue, slurring my words, all fine today')).toBeNull();
  });

  it('still fires without the drink: a face that drooped and was fine the next day is a TIA', () => {
    expect(fires('my face drooped on tuesday but I was fine the next day')).toBe('stroke-signs');
  });
});

cases(
  'explained after it is told, with nothing of now (v8)',
  [['the chest pain turned out to be heartburn but now it is back', 'chest-pain']],
  ['the chest pain turned out to be heartburn and it is totally gone'],
);

cases(
  'exertion said as a comparison is not exertion (v8)',
  [['I cannot breathe, like I have run up a hill', 'breathing-difficulty']],
  ['I was short of breath after the hike, it was a great day out'],
);

cases(
  'signs asked about in general (v8)',
  [],
  ['what are the signs that someone is having a heart attack'],
);

cases(
  'an episode in hospital or around the operation, said to be over (v9)',
  [
    ['I was breathless on the ward but now I am short of breath again', 'breathing-difficulty'],
    ['the chest pain I had in hospital eased off but it is back tonight', 'chest-pain'],
    ['my chest was tight on the ward an hour ago but it went away', 'chest-pain'],
    ['my chest was tight but it went away', 'chest-pain'],
  ],
  [
    'I was short of breath in hospital but I am back to my normal self now',
    'the chest pain I had in hospital has completely settled',
    'I fainted when I got home from the op but that passed',
    'the chest pain on the ward was bad but it is back to normal now',
  ],
);

cases(
  'a change is not an end: "it\'s gone" only at the end of its clause (v9)',
  [['my calf swelled up after the op and it is gone black', 'leg-swelling']],
  ['my calf swelled up after the op but it is gone now'],
);

cases(
  'faded or eased off right after the symptom (v9)',
  [['my calf is red and it has faded a bit but is still hot', 'leg-swelling']],
  ['the red on my calf has faded right down', 'the chest pain has eased off completely'],
);

cases(
  'someone the patient is not with, told in the past (v9)',
  [
    ['my husband fainted at church', 'fainting'],
    ['the man on the bridge fainted', 'fainting'],
    ['a lady on the bus fainted and she is still out, what do I do', 'fainting'],
    ['my neighbour is short of breath', 'breathing-difficulty'],
  ],
  [
    'a lady at church had a funny turn and fainted during the hymns',
    'the man in the bed opposite had chest pain all night',
    'my dog fainted in the heat',
    'my friend was short of breath at the concert',
  ],
);

cases(
  'the reason for the stay, told with nothing of now (v9)',
  [['the chest pain was why they kept me in and it is back now', 'chest-pain']],
  ['the chest pain was why they kept me in an extra night'],
);

cases(
  'Scots and Caribbean "no" deny like "no" (v9)',
  [['nae bother, but chest pain this morning', 'chest-pain']],
  ['nae chest pain at all', 'mi nuh have nuh chest pain'],
);

cases(
  'a threshold or a purpose asked about (v9)',
  [['how do I tell them my chest pain is back', 'chest-pain']],
  [
    'how high is too high for a temperature after a heart attack',
    'they said the tablet is to stop another heart attack',
    'how do I tell if it is a heart attack or just wind',
  ],
);

cases(
  'the first days home and a stay in the ER are over when the turn says so (v9)',
  [['I was short of breath the first few days home and it is still bad', 'breathing-difficulty']],
  [
    'I was short of breath the first few days home but it is all settled now',
    'the chest pain I had in the ER was my gallbladder and that has been fixed',
  ],
);

cases(
  'a stranger named only by "a" or "some", and acquaintances by name (v9)',
  [['my son had chest pain at school and he is still in pain', 'chest-pain']],
  [
    'a kid at my grandson is school was short of breath at sports day',
    'a fella at the pub fainted a while back, all fine now',
  ],
);
