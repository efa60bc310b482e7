import { describe, expect, it } from 'vitest';
import { chunkDocument } from './chunk.ts';
import { detectFormat, extractDocumentText, KnowledgeInputError } from './extract.ts';
import { isQuestion } from './question.ts';
import { KnowledgeIndex } from './retrieval.ts';
import { SessionKnowledge } from './session-knowledge.ts';
import { MemoryKnowledgeStore } from './memory-store.ts';
import { searchTerms } from './text.ts';

const MD = `# Care

Intro words.

## Showering

You may **shower** after [48 hours](https://x). Keep it dry.

- Pat it dry.
- No baths.

## Driving

Do not drive for six weeks.
`;

describe('chunking', () => {
  it('cuts by heading into plain-word passages with stable ids under their heading path', () => {
    const p = chunkDocument(MD, { docId: 'knee', version: 3, format: 'markdown' });
    expect(p.map((x) => x.id)).toEqual(['knee@v3#0', 'knee@v3#1', 'knee@v3#2']);
    expect(p[1]).toEqual({
      id: 'knee@v3#1',
      heading: 'Care › Showering',
      text: 'You may shower after 48 hours. Keep it dry. Pat it dry. No baths.',
    });
  });

  it('keeps every passage within the bound, cutting between sentences', () => {
    const long = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} is here.`).join(' ');
    const p = chunkDocument(long, { docId: 'd', version: 1, format: 'text', maxChars: 200 });
    expect(p.length).toBeGreaterThan(4);
    expect(p.every((x) => x.text.length <= 200 && x.text.endsWith('.'))).toBe(true);
    expect(p.map((x) => x.text).join(' ')).toBe(long);
  });
});

describe('extraction', () => {
  it('refuses a file whose name and bytes disagree, and unknown types', () => {
    const pdf = new TextEncoder().encode('%PDF-1.4');
    const problem = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as KnowledgeInputError).problem;
      }
      return undefined;
    };
    expect(problem(() => detectFormat('a.pdf', '', new TextEncoder().encode('hello')))).toBe(
      'unreadable_pdf',
    );
    expect(problem(() => detectFormat('a.md', '', pdf))).toBe('unsupported_type');
    expect(problem(() => detectFormat('a.docx', 'application/msword', pdf))).toBe(
      'unsupported_type',
    );
    expect(detectFormat('notes', 'text/markdown; charset=utf-8', new Uint8Array([35]))).toBe(
      'markdown',
    );
  });

  it('refuses text that is not UTF-8', async () => {
    await expect(extractDocumentText(new Uint8Array([0xff, 0xfe, 0x41]), 'text')).rejects.toThrow(
      KnowledgeInputError,
    );
  });
});

describe('question detection', () => {
  it.each([
    'When can I shower?',
    'can I take ibuprofen with this',
    'is it ok to drive',
    'how long should I keep the bandage on',
    'I was wondering about driving',
  ])('hears a question in %j', (t) => expect(isQuestion(t)).toBe(true));
  it.each(['yes', 'no changes', 'when I walk', 'what?', 'say that again', 'my knee hurts'])(
    'hears an answer, not a question, in %j',
    (t) => expect(isQuestion(t)).toBe(false),
  );
});

describe('retrieval', () => {
  const index = new KnowledgeIndex(
    chunkDocument(MD, { docId: 'knee', version: 1, format: 'markdown' }),
  );

  it('stems and drops question words: "showering" finds "shower"', () => {
    expect(searchTerms('When can I go showering?')).toEqual(['shower']);
    expect(index.query('When can I go showering?')[0]).toMatchObject({
      passageId: 'knee@v1#1',
      score: 1,
    });
  });

  it('scores a question about something the passages never mention low, whatever else it shares', () => {
    const [hit] = index.query('can I drive after taking ibuprofen');
    expect(hit?.passageId).toBe('knee@v1#2');
    expect(hit?.score).toBeLessThan(0.5);
    expect(index.query('what is it')).toEqual([]);
  });

  it('serves a session only approved passages, and defers when the store fails', async () => {
    const store = new MemoryKnowledgeStore();
    const k = new SessionKnowledge({ store, profileId: 'intake', minScore: 0.5, timeoutMs: 500 });
    await store.addVersion({
      docId: 'knee',
      title: 'Knee',
      format: 'markdown',
      profiles: ['intake'],
      sha256: '',
      bytes: 1,
      uploaded: { by: 'a', at: new Date() },
      passages: (v) => chunkDocument(MD, { docId: 'knee', version: v, format: 'markdown' }),
    });
    expect((await k.lookup('when can I shower')).kind).toBe('defer');
    await store.approve('knee', 1, { by: 'b', at: new Date() });
    const answer = await k.lookup('when can I shower');
    expect(answer.kind === 'answer' && answer.hits[0]?.passageId).toBe('knee@v1#1');
    await store.retire('knee', { by: 'c', at: new Date() });
    expect(await k.lookup('when can I shower')).toMatchObject({
      kind: 'defer',
      reason: 'no_approved_answer',
    });
    const broken = new SessionKnowledge({
      store: { approvedSources: () => Promise.reject(new Error('down')) },
      profileId: 'intake',
      minScore: 0.5,
      timeoutMs: 500,
    });
    expect(await broken.lookup('when can I shower')).toEqual({
      kind: 'defer',
      reason: 'knowledge_unavailable',
    });
  });
});
