import { describe, expect, it } from 'vitest';
import { answerFor, PATIENT_SCRIPTS } from './patient-scripts.ts';

const intake = PATIENT_SCRIPTS.intake!;

describe('answerFor', () => {
  it('answers the last question the agent asked', () => {
    expect(
      answerFor(intake, 'Got it. Do you have any new allergies to medicines, foods, or latex?'),
    ).toBe('no');
    expect(
      answerFor(
        intake,
        'Last question. How should we reach you with updates about your visit, by phone call, text message, or email?',
      ),
    ).toBe('text message');
  });

  it('confirms a read-back only when it repeats what the patient said', () => {
    expect(answerFor(intake, 'I have four out of 10, is that right?', 'four')).toBe('yes');
    expect(answerFor(intake, 'I have two out of 10, is that right?', 'four')).toBe('no');
  });

  it('has nothing to say to words outside its script', () => {
    expect(answerFor(intake, 'The weather is nice.')).toBeUndefined();
  });
});
