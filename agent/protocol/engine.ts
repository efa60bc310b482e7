/**
 * The deterministic dialogue engine: runs a profile's protocol with no generative model, so every
 * word the agent says is the clinician's text or one of a few fixed phrases (`EngineWording`).
 *
 * A pure, synchronous state machine. Give it the patient's final utterance; it answers with what
 * to say next and what happened. It never reads the clock except through `now`, never logs, and
 * keeps no hidden state: `snapshot()` and `restore()` cover all of it.
 *
 * The rules:
 * - **Greeting.** If the profile's `firstMessage` ends in a question mark ("Is now a good time?")
 *   it is said alone, and the patient's reply is read as yes or no: a clear no ends the call
 *   politely (`declined`); anything else goes on to the first step. Otherwise the first step's
 *   question follows the first message in the same turn. The agent never asks two questions at
 *   once.
 * - **Steps** are asked in order, each with its `ask`. An answer is read by its capture type
 *   (parse.ts). A step with `confirm: true` reads the answer back and waits for yes (commit) or
 *   no (ask again). A new value in place of yes ("no, eight") is read back in turn.
 * - **Free speech through the embedded recogniser** (`readBackFreeSpeech`): text and date
 *   answers are read back as if their step said `confirm: true` ("I heard: my knee hurts. Is
 *   that right?"), since its general language model mishears free speech.
 * - **Retries.** Not understood, or a read-back rejected: the step is asked again with its
 *   `reprompt` (or a default with a hint: "Yes or no is fine."). After `maxFailedTries` failed
 *   tries (2) the step is recorded as unanswered and the call moves on; `givenUp` says why and
 *   what was last heard, for the reviewer.
 * - **Evidence.** Each captured answer comes with the utterance it was read from (and the yes
 *   that confirmed it), as handed to `respond`, and the engine's certainty in its reading.
 * - **Repeat.** "Repeat that", "what?", "sorry?" repeat the question now waiting for an answer,
 *   and cost no try.
 * - **End.** After the last step: the profile's `closingMessage` (or a default), and `done`.
 *
 * Safety rules and end phrases are not the engine's job: VoiceCareAgent checks them on every
 * turn before any LLM, this one included.
 */
import type { Capture, Profile, ProtocolStep } from '../../prompts/schema.ts';
import { assertTimeZone, dateIn, fromIso, toIso, weekday } from './calendar.ts';
import { PARSE_CERTAINTY, isFreeSpeech, type HeardUtterance } from './answers.ts';
import type { Expectation } from './expectation.ts';
import { spokenNumber, spokenOrdinal } from './numbers.ts';
import {
  isRepeatRequest,
  parseAnswer,
  parseText,
  parseYesNo,
  tokenize,
  type AnswerValue,
} from './parse.ts';

export type ProtocolOutcome = 'completed' | 'declined';

export interface Answer {
  field: string;
  value: AnswerValue;
}

/** Where a captured answer came from, and how sure the engine is of its reading. */
export interface AnswerEvidence {
  /** The utterance the value was read from. */
  heard: HeardUtterance;
  /** The patient's yes at the read-back, for a confirmed answer. */
  confirmedBy?: HeardUtterance;
  /** 0–1; see PARSE_CERTAINTY. */
  certainty: number;
}

/**
 * A step given up on. `not_understood`: no answer could be read; `read_back_rejected`: the patient
 * said no to the read-back; `not_confirmed`: the read-back got neither yes nor no (or a fresh value
 * each time), so `value` is what was last heard, unconfirmed.
 */
export interface GivenUp {
  why: 'not_understood' | 'read_back_rejected' | 'not_confirmed';
  value?: AnswerValue;
  heard: HeardUtterance;
}

/** One turn of the engine: what to say, and what happened. */
export interface EngineTurn {
  /** What the agent says next. Empty once the call is over and nothing more is to be said. */
  say: string;
  /** An answer committed this turn. */
  captured?: Answer;
  /** The committed answer was read back and the patient said yes. */
  confirmed?: boolean;
  /** For `captured`: where it came from. */
  evidence?: AnswerEvidence;
  /** An answer was read back; the engine waits for yes or no. */
  confirming?: Answer;
  /** The same step is asked again: not understood, or the read-back was rejected. */
  reask?: boolean;
  /** The step was given up on after `maxFailedTries`: its field stays unanswered. */
  unanswered?: { field: string };
  /** For `unanswered`: why, and what was last heard. */
  givenUp?: GivenUp;
  /** The patient asked to hear the question again. */
  repeated?: boolean;
  /** The question was put again without reading the utterance (see `resume()`). */
  resumed?: boolean;
  /**
   * An education step was reached: after `say`, play the approved clip of `script` (barge-in
   * allowed), then call `afterPlay()` for the step's question. Anything the patient says
   * before that (talking over the clip) puts the question too, and is not read as an answer.
   */
  play?: { stepId: string; script: string };
  /** The protocol is over; `say` holds the closing words. */
  done?: boolean;
  outcome?: ProtocolOutcome;
}

export type EnginePhase =
  | { kind: 'opener' }
  | { kind: 'asking'; step: number; failures: number }
  /** An education step's clip is playing; its question comes after. */
  | { kind: 'playing'; step: number }
  | {
      kind: 'confirming';
      step: number;
      failures: number;
      value: AnswerValue;
      /** The utterance the value was read from. */
      heard?: HeardUtterance;
    }
  | { kind: 'done'; outcome: ProtocolOutcome };

/** Everything the engine knows. Immutable: each turn makes a new one. */
export interface EngineState {
  readonly phase: EnginePhase;
  readonly answers: Readonly<Record<string, AnswerValue>>;
  /** Fields of steps given up on, in protocol order. */
  readonly unanswered: readonly string[];
  /** The question now waiting for an answer, as last put: what "repeat that" repeats. */
  readonly prompt: string;
}

/** Where the engine publishes what it expects next (an ExpectationBoard). */
export interface ExpectationSink {
  set(next: Expectation): void;
}

/**
 * The engine's own words, for the moments a profile has no text for. Override per deployment
 * (another language, a house style); a profile's `reprompt` and `closingMessage` always win.
 */
export interface EngineWording {
  /** @defaultValue "Sorry, I didn't catch that." */
  notUnderstood: string;
  /** Appended to a default re-ask. @defaultValue "Yes or no is fine." and the like */
  hint(capture: Capture): string;
  /** The read-back. `answer` is spoken form: "seven out of 10", "Monday, March ninth". */
  confirm(answer: string, capture: Capture): string;
  /** Before asking again when the patient said the read-back was wrong. */
  rejected: string;
  /** Before the next question when a step is given up on. */
  moveOn: string;
  /** The closing words when the profile has none. */
  closing: string;
}

const listed = (items: readonly string[]): string =>
  items.length <= 2
    ? items.join(' or ')
    : `${items.slice(0, -1).join(', ')}, or ${items[items.length - 1] ?? ''}`;

export const DEFAULT_WORDING: Readonly<EngineWording> = Object.freeze({
  notUnderstood: "Sorry, I didn't catch that.",
  hint(capture: Capture): string {
    switch (capture.type) {
      case 'yesno':
        return 'Yes or no is fine.';
      case 'number':
        return capture.min !== undefined && capture.max !== undefined
          ? `Just a number from ${spokenNumber(capture.min)} to ${spokenNumber(capture.max)} is fine.`
          : 'Just a number is fine.';
      case 'choice':
        return `You can say ${listed(capture.choices)}.`;
      case 'date':
        return 'Just the day and month is fine.';
      case 'text':
        return '';
    }
  },
  confirm(answer: string, capture: Capture): string {
    if (capture.type === 'text') return `I heard: ${answer}. Is that right?`;
    if (capture.type === 'yesno') return `I have that as a ${answer}, is that right?`;
    return `I have ${answer}, is that right?`;
  },
  rejected: 'Sorry about that.',
  moveOn: "That's all right, let's move on.",
  closing: 'Thank you for your time. Goodbye.',
});

export interface DialogueEngineOptions {
  /** @defaultValue `() => new Date()` */
  now?: () => Date;
  /**
   * The patient's IANA time zone, for "today" and "tomorrow".
   * @defaultValue the host's zone
   */
  timeZone?: string;
  /**
   * Failed tries (not understood, or read-back rejected) before a step is left unanswered.
   * @defaultValue 2
   */
  maxFailedTries?: number;
  /**
   * Read free-speech answers (text and dates) back before recording them, as if their step said
   * `confirm: true`. Set it when the recogniser is the embedded one, whose general language model
   * mishears free speech. @defaultValue false
   */
  readBackFreeSpeech?: boolean;
  /** Receives the current expectation after every turn (for a local recogniser's grammar). */
  expectations?: ExpectationSink;
  wording?: Partial<EngineWording>;
}

const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;
const WEEKDAY_NAMES = [
  'Monday',
  'Tuesday',
  'Wednesday',
  'Thursday',
  'Friday',
  'Saturday',
  'Sunday',
] as const;

/** An answer as it is read back: "seven out of 10", "one dose", "Monday, March ninth". */
export function spokenAnswer(capture: Capture, value: AnswerValue, todayIso: string): string {
  switch (capture.type) {
    case 'yesno':
      return value === true ? 'yes' : 'no';
    case 'number': {
      const n = Number(value);
      if (!capture.unit) return spokenNumber(n);
      // "one dose", not "one doses".
      const unit =
        n === 1 && /^[a-z]+s$/i.test(capture.unit) ? capture.unit.slice(0, -1) : capture.unit;
      return `${spokenNumber(n)} ${unit}`;
    }
    case 'date': {
      const d = fromIso(String(value));
      const day = `${WEEKDAY_NAMES[weekday(d)]}, ${MONTH_NAMES[d.month - 1]} ${spokenOrdinal(d.day)}`;
      return d.year === fromIso(todayIso).year ? day : `${day}, ${d.year}`;
    }
    case 'choice':
    case 'text':
      return String(value);
  }
}

const join = (...parts: (string | undefined)[]): string => parts.filter(Boolean).join(' ');

export class DialogueEngine {
  readonly profile: Profile;
  private readonly now: () => Date;
  private readonly timeZone: string;
  private readonly maxFailedTries: number;
  private readonly sink: ExpectationSink | undefined;
  private readonly wording: EngineWording;
  private readonly opensWithQuestion: boolean;
  /** Free speech is read back: the recogniser is the embedded one (see the option). */
  readonly readBackFreeSpeech: boolean;
  private state: EngineState;
  /** The utterance `respond` is reading (not state: it is the input, not memory). */
  private heard: HeardUtterance = {};

  constructor(profile: Profile, opts: DialogueEngineOptions = {}) {
    if (profile.protocol.length === 0) {
      throw new TypeError('DialogueEngine: the profile has no protocol steps');
    }
    const maxFailedTries = opts.maxFailedTries ?? 2;
    if (!Number.isInteger(maxFailedTries) || maxFailedTries < 1) {
      throw new RangeError('DialogueEngine: maxFailedTries must be a whole number of at least 1');
    }
    const timeZone = opts.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    assertTimeZone(timeZone);

    this.profile = profile;
    this.now = opts.now ?? (() => new Date());
    this.timeZone = timeZone;
    this.maxFailedTries = maxFailedTries;
    this.sink = opts.expectations;
    this.wording = { ...DEFAULT_WORDING, ...opts.wording };
    this.opensWithQuestion = profile.firstMessage.trim().endsWith('?');
    this.readBackFreeSpeech = opts.readBackFreeSpeech ?? false;
    const phase: EnginePhase = this.opensWithQuestion
      ? { kind: 'opener' }
      : { kind: 'asking', step: 0, failures: 0 };
    this.state = Object.freeze({
      phase,
      answers: Object.freeze({}),
      unanswered: Object.freeze([]),
      prompt: this.greeting(),
    });
    this.publish();
  }

  /**
   * The agent's first words: the first message, followed by the first question unless the first
   * message is itself a question. Pure: say it once, when the call starts.
   */
  greeting(): string {
    const first = this.profile.firstMessage.trim();
    return this.opensWithQuestion ? first : join(first, this.ask(0));
  }

  /** The question now waiting for an answer (the greeting before the first turn). */
  currentPrompt(): string {
    return this.state.prompt;
  }

  /** The step now being asked or confirmed, if any. */
  currentStep(): ProtocolStep | undefined {
    const { phase } = this.state;
    return phase.kind === 'asking' || phase.kind === 'confirming' || phase.kind === 'playing'
      ? this.profile.protocol[phase.step]
      : undefined;
  }

  get done(): boolean {
    return this.state.phase.kind === 'done';
  }

  answers(): Readonly<Record<string, AnswerValue>> {
    return this.state.answers;
  }

  unanswered(): readonly string[] {
    return this.state.unanswered;
  }

  /** What the patient is expected to say now. */
  expectation(): Expectation {
    const { phase } = this.state;
    const step = this.currentStep();
    if (!step) return { kind: 'open' };
    return phase.kind === 'confirming'
      ? { kind: 'confirm', stepId: step.id }
      : { kind: 'capture', stepId: step.id, capture: step.capture };
  }

  snapshot(): EngineState {
    return this.state;
  }

  /** Goes back to an earlier snapshot (a turn the conversation did not keep). */
  restore(state: EngineState): void {
    this.state = state;
    this.publish();
  }

  /**
   * Puts the current question again without reading anything: for when something else was said
   * in between (a safety message, "Are you still there?") and the patient's reply answers that.
   */
  resume(): EngineTurn {
    const { phase, prompt } = this.state;
    if (phase.kind === 'done') return { say: '', done: true, outcome: phase.outcome };
    if (phase.kind === 'playing') return { ...this.afterPlay(), resumed: true };
    return { say: prompt, resumed: true };
  }

  /**
   * The education clip has played (or could not be): the step's question, now waiting for an
   * answer. Nothing (an empty `say`) when no clip is playing, so a late call is harmless.
   */
  afterPlay(): EngineTurn {
    const { phase } = this.state;
    if (phase.kind !== 'playing') return { say: '' };
    const question = this.ask(phase.step);
    this.set({ phase: { kind: 'asking', step: phase.step, failures: 0 }, prompt: question });
    this.publish();
    return { say: question };
  }

  /**
   * Reads the patient's final utterance and moves the protocol on. `heard` identifies the
   * utterance (message id, recogniser confidence) in the evidence for any answer read from it.
   */
  respond(utterance: string, heard: HeardUtterance = {}): EngineTurn {
    this.heard = { ...heard };
    try {
      const turn = this.step(utterance);
      this.publish();
      return turn;
    } finally {
      this.heard = {};
    }
  }

  private step(utterance: string): EngineTurn {
    const { phase, prompt } = this.state;
    // Nothing heard at all is not a failed try.
    const repeat = tokenize(utterance).length === 0 || isRepeatRequest(utterance);

    if (phase.kind === 'done') {
      return repeat
        ? { say: prompt, repeated: true, done: true, outcome: phase.outcome }
        : { say: '', done: true, outcome: phase.outcome };
    }
    // Talked over the clip (or said anything before its question): the question, no answer read.
    if (phase.kind === 'playing') return this.afterPlay();
    if (repeat) return { say: prompt, repeated: true };

    switch (phase.kind) {
      case 'opener': {
        // Only a clear no ends the call here; "who is this?" goes on to the first question.
        const yn = parseYesNo(utterance);
        return yn.ok && !yn.value ? this.finish('declined') : this.advance(-1);
      }
      case 'asking':
        return this.readAnswer(phase.step, phase.failures, utterance);
      case 'confirming':
        return this.readConfirmation(
          phase.step,
          phase.failures,
          phase.value,
          utterance,
          phase.heard ?? {},
        );
    }
  }

  private readAnswer(index: number, failures: number, utterance: string): EngineTurn {
    const step = this.stepAt(index);
    const parsed = parseAnswer(step.capture, utterance, { today: this.today() });
    if (!parsed.ok) return this.failedTry(index, failures + 1, 'notUnderstood');
    if (this.readsBack(step)) return this.readBack(index, failures, parsed.value);
    const captured = { field: step.capture.field, value: parsed.value };
    this.commit(captured);
    const certainty = isFreeSpeech(step.capture)
      ? PARSE_CERTAINTY.freeText
      : PARSE_CERTAINTY.constrained;
    return { ...this.advance(index), captured, evidence: { heard: this.heard, certainty } };
  }

  private readsBack(step: ProtocolStep): boolean {
    return step.confirm === true || (this.readBackFreeSpeech && isFreeSpeech(step.capture));
  }

  private readConfirmation(
    index: number,
    failures: number,
    pending: AnswerValue,
    utterance: string,
    from: HeardUtterance,
  ): EngineTurn {
    const step = this.stepAt(index);
    const { capture } = step;
    // A fresh value in place of yes or no ("no, eight", "the fifteenth") corrects the read-back.
    // Not for yes/no steps, where "no" is the answer to the read-back, nor for free text,
    // where any words parse: those are read after yes and no, below.
    if (capture.type !== 'yesno' && capture.type !== 'text') {
      const fresh = parseAnswer(capture, utterance, { today: this.today() });
      if (fresh.ok && fresh.value !== pending) {
        if (failures + 1 >= this.maxFailedTries) {
          return this.giveUp(index, {
            why: 'not_confirmed',
            value: fresh.value,
            heard: this.heard,
          });
        }
        return this.readBack(index, failures + 1, fresh.value);
      }
      if (fresh.ok && parseYesNo(utterance).ok === false) {
        // The same value said again: that is a yes.
        return this.accept(index, pending, from);
      }
    }
    const yn = parseYesNo(utterance);
    if (yn.ok && yn.value) return this.accept(index, pending, from);
    if (yn.ok) {
      return this.failedTry(index, failures + 1, 'rejected', {
        why: 'read_back_rejected',
        heard: from,
      });
    }
    if (capture.type === 'text') {
      // Free text said again in place of yes or no ("my knee hurts") is the corrected answer.
      const fresh = parseText(utterance);
      if (fresh.ok && fresh.value !== pending) {
        if (failures + 1 >= this.maxFailedTries) {
          return this.giveUp(index, {
            why: 'not_confirmed',
            value: fresh.value,
            heard: this.heard,
          });
        }
        return this.readBack(index, failures + 1, fresh.value);
      }
    }
    if (failures + 1 >= this.maxFailedTries) {
      return this.giveUp(index, { why: 'not_confirmed', value: pending, heard: from });
    }
    const question = this.wording.confirm(spokenAnswer(capture, pending, this.today()), capture);
    this.set({
      phase: {
        kind: 'confirming',
        step: index,
        failures: failures + 1,
        value: pending,
        heard: from,
      },
      prompt: question,
    });
    return { say: join(this.wording.notUnderstood, question), reask: true };
  }

  private accept(index: number, value: AnswerValue, from: HeardUtterance): EngineTurn {
    const captured = { field: this.stepAt(index).capture.field, value };
    this.commit(captured);
    const evidence = { heard: from, confirmedBy: this.heard, certainty: PARSE_CERTAINTY.confirmed };
    return { ...this.advance(index), captured, confirmed: true, evidence };
  }

  private readBack(index: number, failures: number, value: AnswerValue): EngineTurn {
    const { capture } = this.stepAt(index);
    const question = this.wording.confirm(spokenAnswer(capture, value, this.today()), capture);
    this.set({
      phase: { kind: 'confirming', step: index, failures, value, heard: this.heard },
      prompt: question,
    });
    return { say: question, confirming: { field: capture.field, value } };
  }

  /** One more failed try: ask again, or give up once the tries are spent. */
  private failedTry(
    index: number,
    failures: number,
    why: 'notUnderstood' | 'rejected',
    givenUp: GivenUp = { why: 'not_understood', heard: this.heard },
  ): EngineTurn {
    if (failures >= this.maxFailedTries) return this.giveUp(index, givenUp);
    const step = this.stepAt(index);
    let question: string;
    let preface: string | undefined;
    if (why === 'rejected') {
      question = step.reprompt ?? step.ask;
      preface = this.wording.rejected;
    } else if (step.reprompt) {
      // The clinician's re-ask is complete as written.
      question = step.reprompt;
    } else {
      question = join(step.ask, this.wording.hint(step.capture));
      preface = this.wording.notUnderstood;
    }
    this.set({ phase: { kind: 'asking', step: index, failures }, prompt: question });
    return { say: join(preface, question), reask: true };
  }

  private giveUp(index: number, givenUp: GivenUp): EngineTurn {
    const { field } = this.stepAt(index).capture;
    this.set({ unanswered: Object.freeze([...this.state.unanswered, field]) });
    return { ...this.advance(index, this.wording.moveOn), unanswered: { field }, givenUp };
  }

  /** On to the step after `index` (-1: the first step), or the end. */
  private advance(index: number, preface?: string): EngineTurn {
    const next = index + 1;
    if (next >= this.profile.protocol.length) return this.finish('completed', preface);
    const play = this.stepAt(next).play;
    if (play) {
      this.set({ phase: { kind: 'playing', step: next }, prompt: this.ask(next) });
      return { say: preface ?? '', play: { stepId: this.stepAt(next).id, script: play.script } };
    }
    const question = this.ask(next);
    this.set({ phase: { kind: 'asking', step: next, failures: 0 }, prompt: question });
    return { say: join(preface, question) };
  }

  private finish(outcome: ProtocolOutcome, preface?: string): EngineTurn {
    const closing = this.profile.closingMessage?.trim() || this.wording.closing;
    this.set({ phase: { kind: 'done', outcome }, prompt: closing });
    return { say: join(preface, closing), done: true, outcome };
  }

  private commit({ field, value }: Answer): void {
    this.set({ answers: Object.freeze({ ...this.state.answers, [field]: value }) });
  }

  private set(patch: Partial<EngineState>): void {
    this.state = Object.freeze({ ...this.state, ...patch });
  }

  private stepAt(index: number): ProtocolStep {
    const step = this.profile.protocol[index];
    if (!step) throw new RangeError(`DialogueEngine: no protocol step ${index}`);
    return step;
  }

  private ask(index: number): string {
    return this.stepAt(index).ask.trim();
  }

  private today(): string {
    return toIso(dateIn(this.now(), this.timeZone));
  }

  private publish(): void {
    this.sink?.set(this.expectation());
  }
}
