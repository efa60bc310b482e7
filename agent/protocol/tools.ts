/**
 * The protocol as the LLM sees it: the brief appended to its instructions, and the two tools it
 * may call. `record_answer` checks every value against its step (type, range, length, plausible
 * dates) and stores nothing it rejects; the model is told why, in words it can act on.
 * `end_call` always ends the call: refusing would keep a patient who wants to stop on the line.
 * Whether the protocol was finished is the session's to record (an `incomplete` ending).
 */
import { llm } from '@livekit/agents';
import { z } from 'zod';
import type { ProtocolStep } from '../../prompts/schema.ts';
import { normalizeUtterance } from '../safety/matcher.ts';
import {
  isFreeSpeech,
  isRequired,
  reviewReasonFor,
  sttConfidenceOf,
  type AnswerReport,
  type HeardUtterance,
} from './answers.ts';
import { daysBetween, fromIso, makeDate, type CalendarDate } from './calendar.ts';
import { parseChoice, type AnswerValue } from './parse.ts';

/** Longer than any answer a patient speaks to one question; longer text is not an answer. */
export const MAX_TEXT_CHARS = 300;
/** Dates outside this window are not plausible for a patient's answer (birth dates included). */
export const DATE_WINDOW = Object.freeze({ pastYears: 120, futureYears: 5 });

/** Control characters, and the bidirectional overrides and isolates that can disguise text. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

export type Checked = { ok: true; value: AnswerValue } | { ok: false; problem: string };

const fail = (problem: string): Checked => ({ ok: false, problem });
const pass = (value: AnswerValue): Checked => ({ ok: true, value });

export interface CheckContext {
  /** Today, `YYYY-MM-DD`, in the patient's time zone: for plausible dates. */
  today: string;
}

function checkDate(value: unknown, today: string): Checked {
  const m = typeof value === 'string' ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim()) : null;
  if (!m) return fail('expected a date as YYYY-MM-DD');
  const d = makeDate(Number(m[1]), Number(m[2]), Number(m[3]));
  if (!d) return fail(`${value as string} is not a real calendar date`);
  const now = fromIso(today);
  const shifted = (years: number): CalendarDate =>
    makeDate(now.year + years, now.month, Math.min(now.day, 28)) ?? now;
  if (daysBetween(shifted(-DATE_WINDOW.pastYears), d) < 0) {
    return fail(`the date is more than ${DATE_WINDOW.pastYears} years ago; check the year`);
  }
  if (daysBetween(shifted(DATE_WINDOW.futureYears), d) > 0) {
    return fail(`the date is more than ${DATE_WINDOW.futureYears} years ahead; check the year`);
  }
  return pass(`${m[1]}-${m[2]}-${m[3]}`);
}

/**
 * Checks a value against its step and returns it normalised (yes/no as a boolean, a choice as
 * the profile spells it, text trimmed), or the problem in words the LLM can act on.
 */
export function checkAnswer(step: ProtocolStep, value: unknown, ctx: CheckContext): Checked {
  const c = step.capture;
  switch (c.type) {
    case 'yesno': {
      if (typeof value === 'boolean') return pass(value);
      const word = typeof value === 'string' ? normalizeUtterance(value) : '';
      if (word === 'yes' || word === 'true') return pass(true);
      if (word === 'no' || word === 'false') return pass(false);
      return fail('expected true for yes or false for no');
    }
    case 'number': {
      const n =
        typeof value === 'number'
          ? value
          : typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)
            ? Number(value)
            : NaN;
      if (!Number.isFinite(n)) return fail('expected a number, in digits');
      if (c.min !== undefined && n < c.min) return fail(`must be at least ${c.min}`);
      if (c.max !== undefined && n > c.max) return fail(`must be at most ${c.max}`);
      return pass(n);
    }
    case 'choice': {
      const options = `expected one of: ${c.choices.join(', ')}`;
      if (typeof value !== 'string' || FORBIDDEN_CHARS.test(value)) return fail(options);
      const said = normalizeUtterance(value);
      const exact = c.choices.find((x) => normalizeUtterance(x) === said);
      if (exact) return pass(exact);
      // "text" for "text message": the dialogue engine's reading, which refuses anything
      // that could mean two choices.
      const read = parseChoice(value, c.choices);
      return read.ok ? pass(read.value) : fail(options);
    }
    case 'date':
      return checkDate(value, ctx.today);
    case 'text': {
      if (typeof value !== 'string') return fail('expected the answer as text');
      if (FORBIDDEN_CHARS.test(value)) {
        return fail('the text holds control or direction-changing characters; use plain words');
      }
      const text = value.normalize('NFC').trim().replace(/\s+/g, ' ');
      if (!text) return fail('expected some text');
      if (text.length > MAX_TEXT_CHARS) {
        return fail(`too long (at most ${MAX_TEXT_CHARS} characters); record a short summary`);
      }
      return pass(text);
    }
  }
}

function describeAnswer(step: ProtocolStep): string {
  const c = step.capture;
  switch (c.type) {
    case 'choice':
      return `one of: ${c.choices.join(', ')}`;
    case 'number':
      return `a number${c.unit ? ` (${c.unit})` : ''}${c.min !== undefined ? `, min ${c.min}` : ''}${c.max !== undefined ? `, max ${c.max}` : ''}`;
    case 'yesno':
      return 'yes or no';
    case 'date':
      return 'a date as YYYY-MM-DD';
    case 'text':
      return `a few words in the patient's own words (at most ${MAX_TEXT_CHARS} characters)`;
  }
}

/** The protocol as instructions for the LLM, appended to the profile's own. */
export function protocolBrief(steps: readonly ProtocolStep[]): string {
  const lines = steps.map((s, i) => {
    const optional = isRequired(s) ? '' : ' (Optional: skip it when it does not apply.)';
    const lesson = s.play
      ? ` First call play_education with step "${s.id}": a recorded lesson from the care team plays to the patient. Do not read, sum up or describe the lesson yourself; ask the question once the tool says it is playing.`
      : '';
    return `${i + 1}. [${s.capture.field}]${lesson} Ask: "${s.ask}" Purpose: ${s.intent}. Answer: ${describeAnswer(s)}.${s.confirm ? ' Confirm the answer back before moving on.' : ''}${optional}`;
  });
  return [
    'Follow this protocol in order, one question at a time.',
    'After each answer, call record_answer with the field name in brackets and the answer.',
    'If record_answer says the answer was not recorded, ask the question again.',
    'When every step is done, say the closing words and call end_call.',
    ...lines,
  ].join('\n');
}

export interface ProtocolToolsOptions {
  steps: readonly ProtocolStep[];
  /** The patient turn the LLM is answering (see VoiceCareAgent): where an answer came from. */
  heard: () => HeardUtterance | undefined;
  /**
   * The recogniser is the embedded one: its free speech is a guess, flagged for review (the LLM
   * path cannot prove a read-back happened).
   */
  embeddedStt: boolean;
  /** Today, `YYYY-MM-DD`, in the patient's time zone. */
  today: () => string;
  /** A checked answer. Must not throw or block. */
  onAnswer: (report: AnswerReport) => void;
  /** The LLM asked to end the call. Must not throw or block. */
  onEndCall: () => void;
  /** @defaultValue MIN_CONFIDENCE (answers.ts) */
  minConfidence?: number;
  /**
   * Plays an education step's approved clip (queued after what is being said), or says there is
   * none. Needed for `play_education`, offered only when a step plays a clip. Must not throw.
   */
  onPlay?: (stepId: string) => 'playing' | 'no_clip';
}

/**
 * `play_education`: an education step's clip, played to the patient once the words being said
 * now have played (the framework queues speech in order, so the question the model puts after
 * the tool answers comes after the clip). Barge-in stops it like any agent speech.
 */
function educationTool(
  steps: readonly ProtocolStep[],
  onPlay: (stepId: string) => 'playing' | 'no_clip',
) {
  const lessons = new Map(steps.filter((s) => s.play).map((s) => [s.id, s]));
  return {
    play_education: llm.tool({
      description:
        "Play an education step's recorded lesson to the patient. Call it where the protocol says, before that step's question.",
      parameters: z.object({
        step: z.string().describe('The step id the protocol names for the lesson'),
      }),
      execute: async ({ step }) => {
        const s = lessons.get(step);
        if (!s) {
          return `Not played: no lesson for step "${step.slice(0, 40)}". Use one of: ${[...lessons.keys()].join(', ')}.`;
        }
        return onPlay(s.id) === 'playing'
          ? `The lesson is playing to the patient. Now ask, in these words: "${s.ask}"`
          : `No approved recording is available for this lesson. Do not describe it; ask now: "${s.ask}"`;
      },
    }),
  };
}

/**
 * `record_answer` and `end_call`, for the agent's tool context, and `play_education` when a step
 * plays a clip.
 */
export function protocolTools(opts: ProtocolToolsOptions) {
  const byField = new Map(opts.steps.map((s) => [s.capture.field, s]));
  const onPlay = opts.onPlay;
  return {
    ...(onPlay && opts.steps.some((s) => s.play) ? educationTool(opts.steps, onPlay) : {}),
    record_answer: llm.tool({
      description:
        "Record the patient's answer to a protocol question. Use yes/no as true/false, numbers as numbers, dates as YYYY-MM-DD.",
      parameters: z.object({
        field: z.string().describe('The field name shown in brackets for the question'),
        value: z.union([z.string(), z.number(), z.boolean()]),
      }),
      execute: async ({ field, value }) => {
        const step = byField.get(field);
        if (!step) {
          return `Not recorded: unknown field "${field.slice(0, 40)}". Use one of: ${[...byField.keys()].join(', ')}.`;
        }
        const checked = checkAnswer(step, value, { today: opts.today() });
        if (!checked.ok) return `Not recorded: ${checked.problem}. Ask the question again.`;
        const heard = opts.heard();
        const reviewReason = reviewReasonFor({
          confirmed: false,
          sttConfidence: sttConfidenceOf(heard),
          generalModel: opts.embeddedStt && isFreeSpeech(step.capture),
          ...(opts.minConfidence !== undefined ? { minConfidence: opts.minConfidence } : {}),
        });
        opts.onAnswer({
          field,
          value: checked.value,
          method: 'llm_tool',
          confirmed: false,
          ...(heard ? { heard } : {}),
          ...(reviewReason ? { reviewReason } : {}),
        });
        return 'Recorded.';
      },
    }),
    end_call: llm.tool({
      description: 'End the call after the closing words have been said.',
      execute: async () => {
        opts.onEndCall();
        return 'Call ending.';
      },
    }),
  };
}
