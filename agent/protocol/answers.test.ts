import { describe, expect, it } from 'vitest';
import { CapturedAnswer } from '../../sessions/schema.ts';
import { toCapturedAnswer, unansweredRequired, type AnswerReport } from './answers.ts';

const AT = new Date('2026-03-11T15:00:00Z');
const seqs = new Map([
  ['m1', 3],
  ['m2', 5],
]);
const seqOf = (id: string) => seqs.get(id);

describe('toCapturedAnswer', () => {
  it('stores the value with the lowest known confidence, both seqs and the confirmation', () => {
    const report: AnswerReport = {
      field: 'painScore',
      value: 4,
      method: 'engine',
      heard: { messageId: 'm1', confidence: 0.62 },
      confirmed: true,
      confirmedBy: { messageId: 'm2', confidence: 0.9 },
      parseCertainty: 1,
    };
    const answer = toCapturedAnswer(report, seqOf, AT);
    expect(answer).toEqual({
      value: 4,
      confidence: 0.62,
      sttConfidence: 0.62,
      source: { method: 'engine', seq: 3, confirmedSeq: 5 },
      confirmed: true,
      needsReview: false,
      at: AT,
    });
    expect(CapturedAnswer.safeParse(answer).success).toBe(true);
  });

  it('never implies certainty: no known confidence is 0, and a missing value needs review', () => {
    const bare = toCapturedAnswer(
      {
        field: 'f',
        value: 'x',
        method: 'llm_tool',
        confirmed: false,
        reviewReason: 'confidence_unknown',
      },
      seqOf,
      AT,
    );
    expect(bare).toMatchObject({
      confidence: 0,
      needsReview: true,
      source: { method: 'llm_tool' },
    });
    expect(bare.source).not.toHaveProperty('seq');

    const nothing = toCapturedAnswer(
      {
        field: 'f',
        value: null,
        method: 'engine',
        heard: { messageId: 'm1', confidence: 0.9 },
        confirmed: false,
      },
      seqOf,
      AT,
    );
    expect(nothing).toMatchObject({
      value: null,
      confidence: 0,
      needsReview: true,
      reviewReason: 'not_understood',
      source: { seq: 3 },
    });
  });

  it('leaves the seq out until the utterance is in the transcript', () => {
    const answer = toCapturedAnswer(
      {
        field: 'f',
        value: true,
        method: 'engine',
        heard: { messageId: 'later' },
        confirmed: false,
      },
      seqOf,
      AT,
    );
    expect(answer.source).toEqual({ method: 'engine' });
  });
});

describe('unansweredRequired', () => {
  const steps = [
    { id: 'a', ask: 'q', intent: 'i', capture: { field: 'a', type: 'yesno' as const } },
    {
      id: 'b',
      ask: 'q',
      intent: 'i',
      capture: { field: 'b', type: 'yesno' as const },
      required: false,
    },
    { id: 'c', ask: 'q', intent: 'i', capture: { field: 'c', type: 'text' as const } },
  ];

  it('lists required fields with no value, in protocol order, and counts flagged ones as answered', () => {
    expect(unansweredRequired(steps, {})).toEqual(['a', 'c']);
    expect(unansweredRequired(steps, { a: { value: false }, c: { value: null } })).toEqual(['c']);
    expect(unansweredRequired(steps, { a: { value: true }, c: { value: 'doubtful' } })).toEqual([]);
  });
});
