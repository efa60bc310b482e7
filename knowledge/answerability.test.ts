import { describe, expect, it } from 'vitest';
import { qualifiersOf, refusalsOf, specificDf, type AnswerabilityInput } from './answerability.ts';
import { chunkDocument } from './chunk.ts';
import { MemoryKnowledgeStore } from './memory-store.ts';
import { KnowledgeIndex, answering, answers, refusedBy } from './retrieval.ts';
import { SessionKnowledge } from './session-knowledge.ts';
import { knowledgeTools } from './tool.ts';
import type { Hit } from './retrieval.ts';

const LEAFLET = `# Your new hip

## Swelling

Some swelling of the hip and thigh is normal for a few weeks. Rest with your leg raised.

## Your blood thinner

Take one 2.5 milligram tablet of apixaban twice a day with water.

## Alcohol

You can drink alcohol in moderation while you take apixaban.

## Storing tablets

Keep your tablets out of the reach of children.

## Reliever inhaler

Use your blue reliever inhaler when you are wheezy. Take two puffs, wait 30 seconds between them.

## Chest pain

Call 999 if you have chest pain or an attack of breathlessness.
`;

const passages = chunkDocument(LEAFLET, { docId: 'hip', version: 1, format: 'markdown' });
const index = new KnowledgeIndex(passages);
const top = (q: string) => index.query(q)[0];
const rules = (hit: Hit | undefined) => hit?.refusals.map((r) => r.rule) ?? [];

describe('qualifiers a question narrows itself with', () => {
  it('reads the other side, both, the same time, an alternative and someone else', () => {
    expect(qualifiersOf('Can they do my other knee at the same time?', 'question')).toEqual([
      'same_time',
      'other',
    ]);
    expect(
      qualifiersOf('Could both be done, or should I swap to a cream instead?', 'question'),
    ).toEqual(['both', 'instead']);
    expect(qualifiersOf("Can my friend's son use it?", 'question')).toEqual([
      'someone_else',
      'child',
    ]);
  });

  it('does not read "the other day" or "one" standing for a thing as a qualifier', () => {
    expect(qualifiersOf('I missed the other day, can I take a new one?', 'question')).toEqual([]);
    expect(qualifiersOf('one of my tablets fell', 'question')).toEqual([]);
  });

  it('reads a decimal dose as one number and carries a unit back across a range', () => {
    expect(qualifiersOf('a 2.5 mg tablet', 'question')).toEqual(['number:2.5:milligram']);
    expect(qualifiersOf('ten to fourteen days', 'question')).toEqual([
      'number:10:day',
      'number:14:day',
    ]);
    expect(qualifiersOf('take two', 'passage')).toEqual(['number:2', 'number:2:?']);
    expect(qualifiersOf('twice a day', 'question')).toEqual(['number:2']);
  });

  it('counts "drinking" as alcohol in a passage only: patients drink water too', () => {
    expect(qualifiersOf('is drinking water ok', 'question')).toEqual([]);
    expect(qualifiersOf('heavy drinking raises the risk', 'passage')).toEqual(['alcohol']);
    expect(qualifiersOf('can I have a beer', 'question')).toEqual(['alcohol']);
  });
});

describe('the rules, on their own', () => {
  const base: AnswerabilityInput = {
    terms: ['kne', 'swell'],
    held: new Set(['kne', 'swell']),
    topics: ['kne'],
    qualifiers: [],
    passageQualifiers: new Set(),
    df: () => 3,
    specificMax: 1,
  };

  it('passes a passage holding every word, topic and qualifier', () => {
    expect(refusalsOf(base)).toEqual([]);
  });

  it('names each missing topic, qualifier, word only another passage holds, and unknown word', () => {
    expect(
      refusalsOf({
        ...base,
        terms: ['kne', 'swell', 'attack', 'itch'],
        held: new Set(['swell']),
        qualifiers: ['other', 'number:5:milligram'],
        passageQualifiers: new Set(['number:5:?']),
        df: (t) => ({ kne: 3, swell: 2, attack: 1, itch: 0 })[t] ?? 0,
      }),
    ).toEqual([
      { rule: 'topic_missing', terms: ['kne'] },
      { rule: 'qualifier_missing', terms: ['other'] },
      { rule: 'term_elsewhere', terms: ['attack'] },
      { rule: 'term_unknown', terms: ['itch'] },
    ]);
  });

  it("lets a number the passage gives without a unit stand for the question's, not another unit's", () => {
    const q = { ...base, qualifiers: ['number:10:puff'] };
    expect(refusalsOf({ ...q, passageQualifiers: new Set(['number:10', 'number:10:?']) })).toEqual(
      [],
    );
    expect(
      rules({
        refusals: refusalsOf({ ...q, passageQualifiers: new Set(['number:10:day']) }),
      } as Hit),
    ).toEqual(['qualifier_missing']);
  });

  it('calls a word specific when few passages hold it, at least one whatever the size', () => {
    expect(specificDf(6)).toBe(1);
    expect(specificDf(38)).toBe(1);
    expect(specificDf(400)).toBe(12);
  });
});

describe('passages that look like answers and are not', () => {
  it('refuses the swelling passage for the other leg, and reads it for the leg', () => {
    const other = top('Is it normal for my other leg to be swollen?');
    expect(other?.heading).toMatch(/Swelling/);
    expect(other?.refusals).toEqual([{ rule: 'qualifier_missing', terms: ['other'] }]);
    expect(other && answers(other, 0)).toBe(false);
    const own = top('Is it normal for my leg to be swollen?');
    expect(own?.heading).toMatch(/Swelling/);
    expect(own && answers(own, 0.51)).toBe(true);
  });

  it('refuses the dosing passage for a dose it does not give, and reads it for its own', () => {
    const five = top('Can I take a 5 milligram apixaban tablet?');
    expect(rules(five)).toEqual(['qualifier_missing']);
    const own = top('Can I take the 2.5 milligram apixaban tablet with water?');
    expect(own && answers(own, 0.51)).toBe(true);
  });

  it('refuses a passage for a child, or for alcohol, when it says nothing of them', () => {
    expect(rules(top('Can my daughter use my blue reliever inhaler?'))).toContain(
      'qualifier_missing',
    );
    expect(rules(top('Is a beer ok with my reliever inhaler?'))).toContain('qualifier_missing');
    const own = top('Can I drink wine with apixaban?');
    expect(own?.heading).toMatch(/Alcohol/);
    expect(own && answers(own, 0.51)).toBe(true);
  });

  it('refuses a passage that lacks a word only one other passage holds', () => {
    // "attack" is in the chest pain passage only; the inhaler passage is the best match.
    const hit = top('Should I use my blue reliever inhaler during an attack?');
    expect(hit?.heading).toMatch(/Reliever/);
    expect(hit?.refusals).toEqual([{ rule: 'term_elsewhere', terms: ['attack'] }]);
  });

  it('refuses a passage for a word no passage holds: the documents do not cover it', () => {
    const hit = top('Can I use my reliever inhaler in the dishwasher?');
    expect(hit?.heading).toMatch(/Reliever/);
    expect(hit?.refusals).toEqual([{ rule: 'term_unknown', terms: ['dishwasher'] }]);
  });

  it('says which rules refuse a hit at a threshold, the score among them', () => {
    const hit = top('Is it normal for my other leg to be swollen?') as Hit;
    expect(refusedBy(hit, 0.5)).toEqual(['qualifier_missing']);
    expect(refusedBy({ ...hit, score: 0.2 }, 0.5)).toEqual(['low_score', 'qualifier_missing']);
    expect(refusedBy({ ...hit, score: 0.9, refusals: [] }, 0.5)).toEqual([]);
  });
});

describe('what a lookup may use', () => {
  const hit = (id: string, score: number, refused = false): Hit => ({
    passageId: id,
    text: id,
    score,
    bm25: score,
    topicsMissing: [],
    refusals: refused ? [{ rule: 'term_elsewhere', terms: ['x'] }] : [],
  });

  it('uses nothing when the best passage is refused, however good the next one looks', () => {
    expect(answering([hit('a', 0.9, true), hit('b', 0.9)], 0.5)).toEqual([]);
    expect(answering([hit('a', 0.3), hit('b', 0.9)], 0.5)).toEqual([]);
  });

  it('uses the best passage, then the others that pass too', () => {
    expect(
      answering([hit('a', 0.9), hit('b', 0.9, true), hit('c', 0.6)], 0.5).map((h) => h.passageId),
    ).toEqual(['a', 'c']);
  });
});

describe('both ways a call answers', () => {
  async function session(): Promise<SessionKnowledge> {
    const store = new MemoryKnowledgeStore();
    await store.addVersion({
      docId: 'hip',
      title: 'Hip',
      format: 'markdown',
      profiles: ['intake'],
      sha256: '',
      bytes: 1,
      uploaded: { by: 'a', at: new Date() },
      passages: (v) => chunkDocument(LEAFLET, { docId: 'hip', version: v, format: 'markdown' }),
    });
    await store.approve('hip', 1, { by: 'b', at: new Date() });
    return new SessionKnowledge({ store, profileId: 'intake', minScore: 0.51, timeoutMs: 500 });
  }

  it('defers a refused question, saying which rule refused the best passage', async () => {
    const k = await session();
    expect(await k.lookup('Is it normal for my other leg to be swollen?')).toMatchObject({
      kind: 'defer',
      reason: 'no_approved_answer',
      best: { heading: expect.stringMatching(/Swelling/) },
      refusedBy: ['qualifier_missing'],
    });
    expect((await k.lookup('Is it normal for my leg to be swollen?')).kind).toBe('answer');
  });

  it('gives the LLM no passage at all for a refused question, only what to say instead', async () => {
    const k = await session();
    const deferred: string[][] = [];
    const answered: string[] = [];
    const { lookup_knowledge } = knowledgeTools({
      lookup: (q) => k.lookup(q),
      onAnswer: (hits) => answered.push(...hits.map((h) => h.passageId)),
      onDefer: (l) => deferred.push(l.refusedBy ?? []),
    });
    const result = String(
      await lookup_knowledge.execute(
        { question: 'Is it normal for my other leg to be swollen?' },
        {} as never,
      ),
    );
    expect(result).toMatch(/^No approved answer/);
    expect(result).not.toMatch(/swelling/i);
    expect(deferred).toEqual([['qualifier_missing']]);
    expect(answered).toEqual([]);
  });
});
