/**
 * When a captured answer can be trusted, and what a reviewer is told when it cannot. Shared by
 * both ways of capturing answers (the dialogue engine, the LLM's record_answer tool), so one
 * policy decides `needsReview` whatever produced the value.
 *
 * The rule: a value is a fact only if the patient confirmed it at a read-back, or the recogniser
 * was confident of the words it came from and those words were not free speech through the
 * embedded recogniser's general language model (which turned "my knee hurts" into "the artist").
 */
import type { Capture, ProtocolStep } from '../../prompts/schema.ts';
import type { AnswerMethod, CapturedAnswer, ReviewReason } from '../../sessions/schema.ts';
import type { AnswerValue } from './parse.ts';

/**
 * Below this recogniser confidence an unconfirmed answer needs review. The embedded recogniser's
 * score crosses 0.5 at the median of its wrong answers (stt.ts `confidenceOf`); cloud
 * recognisers report 0.9 and above for clear speech.
 */
export const MIN_CONFIDENCE = 0.5;

/**
 * The dialogue engine's certainty in reading a value from words, before any read-back. Its
 * parsers refuse anything that points two ways, so a constrained answer is nearly certain; free
 * text is taken as heard and the engine cannot judge it at all.
 */
export const PARSE_CERTAINTY = Object.freeze({ constrained: 0.9, freeText: 0.5, confirmed: 1 });

/** A patient utterance as the framework handed it over: its message id and STT confidence. */
export interface HeardUtterance {
  /** The chat message id; the session runner maps it to the transcript's `seq`. */
  messageId?: string;
  /** The recogniser's confidence, 0–1, when it reported one. */
  confidence?: number;
}

/**
 * An answer as the capturing side reports it to the session runner, which adds the transcript
 * `seq`s and the time to make a CapturedAnswer.
 */
export interface AnswerReport {
  field: string;
  /** null: nothing trustworthy was heard; `reviewReason` says why. */
  value: AnswerValue | null;
  method: AnswerMethod;
  /** The utterance the value was taken from. */
  heard?: HeardUtterance;
  /** The value was read back and the patient said yes. */
  confirmed: boolean;
  /** The patient's yes to the read-back. */
  confirmedBy?: HeardUtterance;
  /** The engine's certainty in its reading; absent for the LLM (the model does not say). */
  parseCertainty?: number;
  reviewReason?: ReviewReason;
}

/** Capture types the embedded recogniser hears through its general model (grammar.ts). */
export function isFreeSpeech(capture: Capture): boolean {
  return capture.type === 'text' || capture.type === 'date';
}

export interface ReviewInput {
  confirmed: boolean;
  sttConfidence: number | undefined;
  /** Heard by the embedded recogniser's general language model. */
  generalModel: boolean;
  /** @defaultValue MIN_CONFIDENCE */
  minConfidence?: number;
}

/** Why an answer with a value needs review, or undefined when it can be relied on. */
export function reviewReasonFor(input: ReviewInput): ReviewReason | undefined {
  if (input.confirmed) return undefined;
  if (input.generalModel) return 'general_model_unconfirmed';
  if (input.sttConfidence === undefined) return 'confidence_unknown';
  if (input.sttConfidence < (input.minConfidence ?? MIN_CONFIDENCE)) return 'low_confidence';
  return undefined;
}

/** A valid 0–1 confidence, or undefined (the framework reports 0 when the STT gave none). */
export function sttConfidenceOf(heard: HeardUtterance | undefined): number | undefined {
  const c = heard?.confidence;
  return c !== undefined && Number.isFinite(c) && c >= 0 && c <= 1 ? c : undefined;
}

/** The stored answer for a report, once the runner knows the seqs of the utterances it names. */
export function toCapturedAnswer(
  report: AnswerReport,
  seqOf: (messageId: string) => number | undefined,
  at: Date,
): CapturedAnswer {
  const sttConfidence = sttConfidenceOf(report.heard);
  const known = [sttConfidence, report.parseCertainty].filter((c) => c !== undefined);
  const seq = report.heard?.messageId ? seqOf(report.heard.messageId) : undefined;
  const confirmedSeq = report.confirmedBy?.messageId
    ? seqOf(report.confirmedBy.messageId)
    : undefined;
  const reviewReason =
    report.value === null ? (report.reviewReason ?? 'not_understood') : report.reviewReason;
  return {
    value: report.value,
    // Nothing known is no confidence at all, never an implied certainty.
    confidence: report.value === null || known.length === 0 ? 0 : Math.min(...known),
    ...(sttConfidence !== undefined ? { sttConfidence } : {}),
    source: {
      method: report.method,
      ...(seq !== undefined ? { seq } : {}),
      ...(confirmedSeq !== undefined ? { confirmedSeq } : {}),
    },
    confirmed: report.confirmed,
    needsReview: reviewReason !== undefined,
    ...(reviewReason ? { reviewReason } : {}),
    at,
  };
}

/** Whether a step must be answered for the call to count as complete. */
export const isRequired = (step: ProtocolStep): boolean => step.required !== false;

/**
 * Required fields with no value when the call ended, in protocol order. An answer flagged for
 * review still counts as answered (the reviewer sees the flag); one with a null value does not.
 */
export function unansweredRequired(
  steps: readonly ProtocolStep[],
  answers: Readonly<Record<string, { value: unknown } | undefined>>,
): string[] {
  return steps
    .filter(isRequired)
    .map((s) => s.capture.field)
    .filter((f) => {
      const v = answers[f]?.value;
      return v === undefined || v === null;
    });
}
