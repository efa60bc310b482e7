import { describe, expect, it } from 'vitest';
import {
  IDLE,
  RecognitionJournal,
  certaintyOf,
  confirmQuestion,
  stepConfirmation,
  type ConfirmState,
  type ConfirmableRule,
} from './confirm.ts';
import type { SafetyMatch } from './matcher.ts';

const chest: ConfirmableRule = { id: 'chest-pain', phrases: ['chest pain'] };
const stroke: ConfirmableRule = {
  id: 'stroke-signs',
  phrases: ['weak on one side'],
  confirm: 'I want to be sure I heard you. Is one side of your body weak or numb right now?',
};
const hit = (rule: ConfirmableRule): SafetyMatch<ConfirmableRule> => ({
  rule,
  trigger: { kind: 'phrase', value: rule.phrases?.[0] ?? '' },
});
const turn = (
  match: SafetyMatch<ConfirmableRule> | null,
  answer?: boolean,
  certainty: 'sure' | 'unsure' = 'unsure',
) => ({ type: 'turn' as const, match, certainty, answer });

function suspect(rule: ConfirmableRule): ConfirmState<ConfirmableRule> {
  return stepConfirmation<ConfirmableRule>(IDLE, turn(hit(rule))).state;
}

describe('stepConfirmation', () => {
  it('acts at once on a sure red flag', () => {
    const { state, decisions } = stepConfirmation<ConfirmableRule>(
      IDLE,
      turn(hit(chest), undefined, 'sure'),
    );
    expect(decisions).toEqual([{ kind: 'act', match: hit(chest), status: 'confirmed' }]);
    expect(state.pending).toBeUndefined();
  });

  it('reports an unsure red flag as suspected and asks the rule’s question', () => {
    const { state, decisions } = stepConfirmation<ConfirmableRule>(IDLE, turn(hit(stroke)));
    expect(decisions).toEqual([
      { kind: 'ask', match: hit(stroke), status: 'suspected', question: stroke.confirm },
    ]);
    expect(state.pending?.rule.id).toBe('stroke-signs');
  });

  it('decides nothing on an ordinary turn', () => {
    expect(stepConfirmation<ConfirmableRule>(IDLE, turn(null, true)).decisions).toEqual([]);
    expect(stepConfirmation<ConfirmableRule>(IDLE, { type: 'timeout' }).decisions).toEqual([]);
  });

  it('confirms on yes, on no usable answer and on silence', () => {
    for (const event of [turn(null, true), turn(null, undefined), { type: 'timeout' as const }]) {
      const { state, decisions } = stepConfirmation(suspect(chest), event);
      expect(decisions).toEqual([{ kind: 'act', match: hit(chest), status: 'confirmed' }]);
      expect(state.pending).toBeUndefined();
    }
  });

  it('confirms on any red flag in the answer, even a negated one, and acts on a second rule too', () => {
    const same = stepConfirmation(suspect(chest), turn(hit(chest), false));
    expect(same.decisions.map((d) => [d.kind, d.match.rule.id])).toEqual([['act', 'chest-pain']]);
    const other = stepConfirmation(suspect(chest), turn(hit(stroke), false));
    expect(other.decisions.map((d) => [d.kind, d.match.rule.id])).toEqual([
      ['act', 'chest-pain'],
      ['act', 'stroke-signs'],
    ]);
  });

  it('records a clear no as denied and leaves the confirmation', () => {
    const { state, decisions } = stepConfirmation(suspect(stroke), turn(null, false));
    expect(decisions).toEqual([{ kind: 'deny', match: hit(stroke), status: 'denied' }]);
    expect(state.pending).toBeUndefined();
  });
});

describe('confirmQuestion', () => {
  it('uses the profile’s question, or makes a plain one from the rule id', () => {
    expect(confirmQuestion(stroke)).toBe(stroke.confirm);
    expect(confirmQuestion(chest)).toBe(
      'I want to be sure I heard you. Are you having chest pain right now? Please say yes or no.',
    );
  });
});

describe('certaintyOf', () => {
  it('is unsure of anything heard through a closed grammar, or with low confidence', () => {
    expect(certaintyOf([{ text: 'chest pain', mode: 'grammar', confidence: 0.99 }], 0.99)).toBe(
      'unsure',
    );
    expect(certaintyOf([{ text: 'my chest hurts', mode: 'lm', confidence: 0.2 }], 0.2)).toBe(
      'unsure',
    );
    expect(certaintyOf([{ text: 'my chest hurts', mode: 'lm', confidence: 0.9 }], 0.9)).toBe(
      'sure',
    );
  });

  it('trusts typed text and confident cloud transcripts, not unsure ones', () => {
    expect(certaintyOf([], undefined)).toBe('sure');
    expect(certaintyOf([], 0.97)).toBe('sure');
    expect(certaintyOf([], 0.3)).toBe('unsure');
  });
});

describe('RecognitionJournal', () => {
  it('gives a turn the notes its text was made of, and drops older ones', () => {
    const j = new RecognitionJournal();
    j.note({ text: 'stale', mode: 'lm', confidence: 0.9 });
    j.note({ text: 'yes', mode: 'grammar', confidence: 0.8 });
    j.note({ text: 'chest pain', mode: 'grammar', confidence: 0.6 });
    expect(j.take('yes  chest pain').map((n) => n.text)).toEqual(['yes', 'chest pain']);
    expect(j.take('stale')).toEqual([]);
  });

  it('gives nothing for a turn it never heard, such as typed text', () => {
    const j = new RecognitionJournal();
    j.note({ text: 'no', mode: 'grammar', confidence: 0.8 });
    expect(j.take('I have chest pain')).toEqual([]);
    expect(j.take('no')).toHaveLength(1);
  });

  it('keeps at most its bound of untaken notes', () => {
    const j = new RecognitionJournal(2);
    for (const text of ['a', 'b', 'c']) j.note({ text, mode: 'lm', confidence: 1 });
    expect(j.take('a')).toEqual([]);
    expect(j.take('b c')).toHaveLength(2);
  });
});
