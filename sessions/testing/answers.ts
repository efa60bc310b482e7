/** A well-formed captured answer for tests: heard with confidence, taken from utterance 1. */
import type { CapturedAnswer } from '../schema.ts';

export function capturedAnswer(
  value: CapturedAnswer['value'],
  overrides: Partial<CapturedAnswer> = {},
): CapturedAnswer {
  return {
    value,
    confidence: 0.9,
    sttConfidence: 0.9,
    source: { method: 'engine', seq: 1 },
    confirmed: false,
    needsReview: false,
    at: new Date('2026-01-05T10:00:05.000Z'),
    ...overrides,
  };
}
