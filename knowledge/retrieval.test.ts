import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { chunkDocument } from './chunk.ts';
import { KnowledgeIndex, answers } from './retrieval.ts';
import { MemoryKnowledgeStore } from './memory-store.ts';
import { SessionKnowledge } from './session-knowledge.ts';
import { searchTerms, topicOf } from './text.ts';

const LEAFLET = `# Apixaban: your blood-thinning medicine

## How to take apixaban

Take one tablet in the morning and one tablet in the evening, with water.

## Other painkillers

Do not take ibuprofen or aspirin while you take apixaban. Paracetamol is safe.

## Stitches and staples

Your stitches are removed at the clinic after 10 days.
`;

const index = new KnowledgeIndex(
  chunkDocument(LEAFLET, { docId: 'apix', version: 1, format: 'markdown' }),
);

describe('lay vocabulary', () => {
  it('gives a patient word and the leaflet word one term, phrases included', () => {
    expect(searchTerms('when do the staples come out')).toContain('stitch');
    expect(searchTerms('my blood thinner')).toEqual(['anticoagulant']);
    expect(searchTerms('Advil')).toEqual(['ibuprofen']);
    expect(searchTerms('my flu jab')).toEqual(['flu', 'vaccin']);
  });

  it('keeps a phrase whole, so "sleeping tablets" is a medicine and not sleep plus tablet', () => {
    expect(searchTerms('can I take sleeping tablets')).toEqual(['tak', 'hypnotic']);
    expect(topicOf('hypnotic')).toBe('medicine');
    expect(topicOf('tablet')).toBeUndefined();
  });
});

describe('abstention on topic words', () => {
  it('does not answer about a medicine the documents never mention, however many words it shares', () => {
    const [hit] = index.query('Can I take my blood pressure tablet in the morning?');
    expect(hit?.passageId).toBe('apix@v1#0');
    expect(hit?.topicsMissing).toEqual(['blood_pressur']);
    expect(hit && answers(hit, 0)).toBe(false);
  });

  it('answers when the passage holds every topic word, through a wider concept for a lay name', () => {
    const [hit] = index.query('Is it safe to take Advil with my blood thinner?');
    expect(hit).toMatchObject({ passageId: 'apix@v1#1', topicsMissing: [] });
    expect(hit && answers(hit, 0.5)).toBe(true);
  });

  it('does not let a wider concept stand in for a different medicine', () => {
    const hits = index.query('Can I take warfarin instead?');
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((h) => h.topicsMissing.includes('warfarin'))).toBe(true);
  });

  it('ranks a passage holding the topic words above a higher BM25 one that does not', () => {
    // "tablet" and "morning" favour the dosing passage; only the painkiller passage holds aspirin.
    const [hit] = index.query('aspirin tablet in the morning');
    expect(hit).toMatchObject({ passageId: 'apix@v1#1', topicsMissing: [] });
  });

  it('still needs the score: a topic word alone among unknown words is not an answer', () => {
    const [hit] = index.query('will apixaban make my hair fall out');
    expect(hit?.topicsMissing).toEqual(['hair']);
    const weak = index.query('can the clinic post the stitches leaflet in braille')[0];
    expect(weak?.topicsMissing).toEqual([]);
    expect(weak && answers(weak, 0.51)).toBe(false);
  });

  it('makes a session defer a question whose topic no approved passage holds, naming the best passage', async () => {
    const store = new MemoryKnowledgeStore();
    await store.addVersion({
      docId: 'apix',
      title: 'Apixaban',
      format: 'markdown',
      profiles: ['intake'],
      sha256: '',
      bytes: 1,
      uploaded: { by: 'a', at: new Date() },
      passages: (v) => chunkDocument(LEAFLET, { docId: 'apix', version: v, format: 'markdown' }),
    });
    await store.approve('apix', 1, { by: 'b', at: new Date() });
    const k = new SessionKnowledge({ store, profileId: 'intake', minScore: 0.3, timeoutMs: 500 });
    expect(await k.lookup('Can I take sleeping tablets in the evening?')).toMatchObject({
      kind: 'defer',
      reason: 'no_approved_answer',
      best: { topicsMissing: ['hypnotic'] },
    });
    const answered = await k.lookup('Can I take ibuprofen with apixaban?');
    expect(answered.kind === 'answer' && answered.hits[0]?.passageId).toBe('apix@v1#1');
  });
});

describe('what a patient says around the question', () => {
  const KNEE = `# After your knee replacement

## Driving

Do not drive for at least six weeks after your operation.

## Your wound and dressing

Leave the dressing in place until your follow-up appointment at about 10 to 14 days.

## Sleeping

Sleep on your back with your leg straight.
`;
  const knee = new KnowledgeIndex(
    chunkDocument(KNEE, { docId: 'knee', version: 1, format: 'markdown' }),
  );

  it('drops the day the patient has in mind, so a reworded answerable question is answered', () => {
    expect(searchTerms('is it ok to drive next week')).toEqual(['driv']);
    expect(searchTerms('I skipped a dose yesterday, should I take two today?')).toEqual([
      'miss',
      'dos',
      'tak',
      'two',
    ]);
    const [hit] = knee.query('Is it ok to drive tomorrow?');
    expect(hit?.passageId).toBe('knee@v1#0');
    expect(hit && answers(hit, 0.4)).toBe(true);
  });

  it('keeps "next" that names a thing, so an on-topic question no passage answers is deferred', () => {
    expect(searchTerms('When is my next appointment?')).toEqual(['next', 'appointment']);
    const [hit] = knee.query('When is my next appointment?');
    expect(hit?.passageId).toBe('knee@v1#1');
    expect(hit?.topicsMissing).toEqual([]);
    expect(hit && answers(hit, 0.4)).toBe(false);
  });

  it('drops verbs of arranging and coping, leaving what is arranged', () => {
    expect(searchTerms('how do I manage the stairs at home')).toEqual(['stair']);
    expect(searchTerms('we have a long flight booked')).toEqual(['fly']);
  });
});

describe('the passage a session reads', () => {
  it('is the one the index ranks first, not the one holding more of the common words', async () => {
    const store = new MemoryKnowledgeStore();
    for (const docId of ['apixaban-leaflet', 'inhaler-technique', 'knee-aftercare']) {
      const markdown = await readFile(new URL(`./samples/${docId}.md`, import.meta.url), 'utf8');
      await store.addVersion({
        docId,
        title: docId,
        format: 'markdown',
        profiles: ['intake'],
        sha256: '',
        bytes: 1,
        uploaded: { by: 'a', at: new Date() },
        passages: (v) => chunkDocument(markdown, { docId, version: v, format: 'markdown' }),
      });
      await store.approve(docId, 1, { by: 'b', at: new Date() });
    }
    const k = new SessionKnowledge({ store, profileId: 'intake', minScore: 0.4, timeoutMs: 500 });
    // The showering passage holds "take" ("take a bath") and "stitches" too: more of the words.
    const answer = await k.lookup('Who takes my stitches out?');
    const hits = answer.kind === 'answer' ? answer.hits : [];
    expect(hits[0]?.passageId).toBe('knee-aftercare@v1#3');
    const showering = hits.find((h) => h.passageId === 'knee-aftercare@v1#1');
    expect(showering?.score).toBeGreaterThan(hits[0]?.score ?? 1);
  });
});
