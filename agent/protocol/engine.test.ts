import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { readProfile } from '../../prompts/loader.ts';
import type { Profile } from '../../prompts/schema.ts';
import { renderProfile } from '../../prompts/template.ts';
import { minimalProfile } from '../../prompts/testing.ts';
import { DEFAULT_CLOSING } from '../agent.ts';
import {
  DEFAULT_WORDING,
  DialogueEngine,
  type DialogueEngineOptions,
  type EngineTurn,
} from './engine.ts';
import type { Expectation } from './expectation.ts';
import { checkAnswer } from './tools.ts';

// Wednesday 11 March 2026, 11:00 in New York.
const NOW = new Date('2026-03-11T15:00:00Z');

async function loadProfile(id: string): Promise<Profile> {
  const path = fileURLToPath(new URL(`../../prompts/${id}.yaml`, import.meta.url));
  return renderProfile(await readProfile(path), { 'patient.displayName': 'Ana' });
}

const profiles: Record<string, Profile> = {};
beforeAll(async () => {
  for (const id of ['intake', 'medication-adherence', 'post-discharge']) {
    profiles[id] = await loadProfile(id);
  }
});

function profile(id: string): Profile {
  const p = profiles[id];
  if (!p) throw new Error(`profile ${id} not loaded`);
  return p;
}

class RecordingBoard {
  readonly seen: Expectation[] = [];
  set(next: Expectation): void {
    this.seen.push(next);
  }
  get last(): Expectation | undefined {
    return this.seen.at(-1);
  }
}

function engineFor(p: Profile, opts: DialogueEngineOptions = {}) {
  const board = new RecordingBoard();
  const engine = new DialogueEngine(p, {
    now: () => NOW,
    timeZone: 'America/New_York',
    expectations: board,
    ...opts,
  });
  return { engine, board };
}

const talk = (engine: DialogueEngine, lines: readonly string[]): EngineTurn[] =>
  lines.map((line) => engine.respond(line));

const ask = (p: Profile, stepId: string): string => {
  const step = p.protocol.find((s) => s.id === stepId);
  if (!step) throw new Error(`no step ${stepId}`);
  return step.ask;
};

/** Moves an intake engine past the opener and onto the given step. */
function intakeAt(stepId: string, opts: DialogueEngineOptions = {}) {
  const p = profile('intake');
  const made = engineFor(p, opts);
  const answers: Record<string, string> = {
    'visit-reason': 'a check-up on my knee',
    'medication-changes': 'no',
    'new-allergies': 'no',
    'pain-score': 'three',
    'recent-hospital': 'no',
  };
  made.engine.respond('yes, go ahead');
  for (const step of p.protocol) {
    if (step.id === stepId) break;
    made.engine.respond(answers[step.id] ?? '');
    if (step.confirm) made.engine.respond('yes');
  }
  expect(made.engine.currentStep()?.id).toBe(stepId);
  return { ...made, p };
}

describe('DialogueEngine: greeting', () => {
  it('says the first message alone when it is a question, and asks step one once the patient agrees', () => {
    const p = profile('intake');
    const { engine } = engineFor(p);
    expect(engine.greeting()).toBe(p.firstMessage);
    expect(engine.greeting()).toContain('Hi Ana');
    expect(engine.currentStep()).toBeUndefined();

    const turn = engine.respond('Sure, go ahead.');
    expect(turn).toEqual({ say: ask(p, 'visit-reason') });
    expect(engine.currentStep()?.id).toBe('visit-reason');
  });

  it('ends politely, asking nothing, when the patient says no to the opening question', () => {
    const p = profile('post-discharge');
    const { engine, board } = engineFor(p);
    const turn = engine.respond('No, sorry.');
    expect(turn).toEqual({ say: p.closingMessage, done: true, outcome: 'declined' });
    expect(engine.done).toBe(true);
    expect(engine.answers()).toEqual({});
    expect(board.last).toEqual({ kind: 'open' });
  });

  it('goes on to step one when the reply to the opening question is not a clear no', () => {
    const p = profile('intake');
    const { engine } = engineFor(p);
    expect(engine.respond('Who is this?').say).toBe(ask(p, 'visit-reason'));
  });

  it('asks step one with the greeting when the first message is not a question', () => {
    const p = { ...profile('intake'), firstMessage: 'Hi Ana, this is your care team.' };
    const { engine, board } = engineFor(p);
    expect(engine.greeting()).toBe(`Hi Ana, this is your care team. ${ask(p, 'visit-reason')}`);
    expect(board.last).toMatchObject({ kind: 'capture', stepId: 'visit-reason' });
    // So the patient's first words answer step one.
    expect(engine.respond('my knee').captured).toEqual({
      field: 'visitReason',
      value: 'my knee',
    });
  });
});

describe('DialogueEngine: full runs on the real profiles', () => {
  const runs: {
    id: string;
    lines: string[];
    answers: Record<string, string | number | boolean>;
  }[] = [
    {
      id: 'intake',
      lines: [
        'Yes, now is fine.',
        "My knee's been swelling up after walking.",
        'Yeah, my doctor started me on lisinopril.',
        'No.',
        "Um, I'd say a seven.",
        "Yes, that's right.",
        'Nope.',
        'Text message, please.',
      ],
      answers: {
        visitReason: "My knee's been swelling up after walking.",
        medicationChanges: true,
        newAllergies: false,
        painScore: 7,
        recentHospitalVisit: false,
        contactPreference: 'text message',
      },
    },
    {
      id: 'medication-adherence',
      lines: [
        'Sure.',
        'Yes, a few.',
        'About three.',
        'Correct.',
        'I keep forgetting the evening ones.',
        'Yeah.',
        'I get a bit dizzy in the mornings.',
        'No, I have plenty.',
      ],
      answers: {
        missedDoses: true,
        missedDoseCount: 3,
        missedReason: 'forgot',
        sideEffects: true,
        sideEffectDetails: 'I get a bit dizzy in the mornings.',
        refillNeeded: false,
      },
    },
    {
      id: 'post-discharge',
      lines: [
        'Yes, I have a few minutes.',
        'A little better every day.',
        'Yes, my daughter picked them up.',
        'I am, yes.',
        'Yes.',
        "It's on March twentieth.",
        'Yes.',
        'Just whether I can shower with the bandage on.',
      ],
      answers: {
        overallFeeling: 'better',
        dischargeMedsFilled: true,
        takingMedsAsDirected: true,
        followUpBooked: true,
        followUpDate: '2026-03-20',
        questionsForNurse: 'Just whether I can shower with the bandage on.',
      },
    },
  ];

  it.each(runs)(
    'captures every $id field with its type, asks every step in order, then closes',
    ({ id, lines, answers }) => {
      const p = profile(id);
      const { engine } = engineFor(p);
      const turns = talk(engine, lines);

      expect(engine.answers()).toEqual(answers);
      expect(engine.unanswered()).toEqual([]);
      for (const step of p.protocol) {
        const value = engine.answers()[step.capture.field];
        // What the engine reads passes the LLM tool's checks unchanged.
        expect(checkAnswer(step, value, { today: '2026-03-11' })).toEqual({ ok: true, value });
      }
      // Every question was put, in protocol order.
      const said = turns.map((t) => t.say).join('\n');
      const positions = p.protocol.map((s) => said.indexOf(s.ask));
      expect(positions.every((at) => at >= 0)).toBe(true);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);

      const last = turns.at(-1);
      expect(last).toMatchObject({ say: p.closingMessage, done: true, outcome: 'completed' });
      expect(turns.filter((t) => t.done)).toHaveLength(1);
      expect(engine.done).toBe(true);
    },
  );

  it('reads a date back with its weekday before committing it', () => {
    const p = profile('post-discharge');
    const { engine } = engineFor(p);
    talk(engine, ['yes', 'better', 'yes', 'yes', 'yes']);
    expect(engine.respond('next Friday')).toEqual({
      say: 'I have Friday, March twentieth, is that right?',
      confirming: { field: 'followUpDate', value: '2026-03-20' },
    });
  });
});

describe('DialogueEngine: answers not understood', () => {
  it("re-asks with the step's reprompt, then captures the next answer", () => {
    const { engine, p } = intakeAt('medication-changes');
    const step = p.protocol.find((s) => s.id === 'medication-changes');
    expect(engine.respond('Hmm, let me think.')).toEqual({ say: step?.reprompt, reask: true });
    const turn = engine.respond('No, same as before.');
    expect(turn.captured).toEqual({ field: 'medicationChanges', value: false });
    expect(turn.say).toBe(ask(p, 'new-allergies'));
  });

  it('re-asks with a default prompt and a hint when the step has no reprompt', () => {
    const { engine, p } = intakeAt('new-allergies');
    expect(engine.respond('I had a rash once')).toEqual({
      say: `Sorry, I didn't catch that. ${ask(p, 'new-allergies')} Yes or no is fine.`,
      reask: true,
    });
  });

  it('names the choices in the default re-ask of a choice step', () => {
    const { engine } = intakeAt('contact-preference');
    expect(engine.respond('carrier pigeon').say).toContain(
      'You can say phone call, text message, or email.',
    );
  });

  it('re-asks when a number is outside the step’s range', () => {
    const { engine } = intakeAt('pain-score');
    const turn = engine.respond('twelve');
    expect(turn.reask).toBe(true);
    expect(turn.confirming).toBeUndefined();
  });

  it('after two failed tries leaves the step unanswered and moves on to the next question', () => {
    const { engine, p } = intakeAt('new-allergies');
    expect(engine.respond("I'm not sure").reask).toBe(true);
    const turn = engine.respond('maybe', { messageId: 'm2', confidence: 0.7 });
    expect(turn).toEqual({
      say: `${DEFAULT_WORDING.moveOn} ${ask(p, 'pain-score')}`,
      unanswered: { field: 'newAllergies' },
      givenUp: { why: 'not_understood', heard: { messageId: 'm2', confidence: 0.7 } },
    });
    expect(engine.unanswered()).toEqual(['newAllergies']);
    expect(engine.answers()).not.toHaveProperty('newAllergies');
    expect(engine.currentStep()?.id).toBe('pain-score');
  });

  it('gives as many tries as maxFailedTries allows', () => {
    const { engine } = intakeAt('new-allergies', { maxFailedTries: 3 });
    expect(engine.respond('um').reask).toBe(true);
    expect(engine.respond('hmm').reask).toBe(true);
    expect(engine.respond('yes').captured).toEqual({ field: 'newAllergies', value: true });
  });

  it('moves straight to the closing words when the last step is given up on', () => {
    const { engine, p } = intakeAt('contact-preference');
    talk(engine, ['carrier pigeon']);
    expect(engine.respond('smoke signals')).toEqual({
      say: `${DEFAULT_WORDING.moveOn} ${p.closingMessage}`,
      unanswered: { field: 'contactPreference' },
      givenUp: { why: 'not_understood', heard: {} },
      done: true,
      outcome: 'completed',
    });
  });
});

describe('DialogueEngine: read-back and confirmation', () => {
  it('reads a confirmed answer back and commits it only on yes, naming both utterances', () => {
    const { engine, p } = intakeAt('pain-score');
    expect(engine.respond('seven', { messageId: 'answer', confidence: 0.8 })).toEqual({
      say: 'I have seven out of 10, is that right?',
      confirming: { field: 'painScore', value: 7 },
    });
    expect(engine.answers()).not.toHaveProperty('painScore');
    expect(engine.respond('Yes.', { messageId: 'yes', confidence: 0.9 })).toEqual({
      say: ask(p, 'recent-hospital'),
      captured: { field: 'painScore', value: 7 },
      confirmed: true,
      evidence: {
        heard: { messageId: 'answer', confidence: 0.8 },
        confirmedBy: { messageId: 'yes', confidence: 0.9 },
        certainty: 1,
      },
    });
    expect(engine.answers()).toMatchObject({ painScore: 7 });
  });

  it('asks again when the read-back is rejected, then commits the new answer', () => {
    const { engine, p } = intakeAt('pain-score');
    const step = p.protocol.find((s) => s.id === 'pain-score');
    engine.respond('seven');
    expect(engine.respond('No.')).toEqual({
      say: `${DEFAULT_WORDING.rejected} ${step?.reprompt}`,
      reask: true,
    });
    expect(engine.respond('five')).toMatchObject({ confirming: { value: 5 } });
    expect(engine.respond('yes')).toMatchObject({
      captured: { field: 'painScore', value: 5 },
      confirmed: true,
    });
  });

  it('reads back a corrected value given in place of yes', () => {
    const { engine } = intakeAt('pain-score');
    engine.respond('seven');
    expect(engine.respond('No, eight.')).toEqual({
      say: 'I have eight out of 10, is that right?',
      confirming: { field: 'painScore', value: 8 },
    });
    expect(engine.respond("that's right").captured).toEqual({ field: 'painScore', value: 8 });
  });

  it('takes the same value said again as a yes', () => {
    const { engine } = intakeAt('pain-score');
    engine.respond('seven and a half');
    expect(engine.respond('seven and a half').captured).toEqual({
      field: 'painScore',
      value: 7.5,
    });
  });

  it('asks for a yes or no again when the reply to a read-back is unclear', () => {
    const { engine } = intakeAt('pain-score');
    engine.respond('seven');
    expect(engine.respond('hmm')).toEqual({
      say: "Sorry, I didn't catch that. I have seven out of 10, is that right?",
      reask: true,
    });
    expect(engine.respond('yes').captured).toEqual({ field: 'painScore', value: 7 });
  });

  it('leaves a step unanswered when its read-back is rejected twice', () => {
    const { engine, p } = intakeAt('pain-score');
    talk(engine, ['seven', 'no']);
    engine.respond('six');
    const turn = engine.respond('no');
    expect(turn.unanswered).toEqual({ field: 'painScore' });
    expect(turn.say).toBe(`${DEFAULT_WORDING.moveOn} ${ask(p, 'recent-hospital')}`);
    expect(engine.answers()).not.toHaveProperty('painScore');
  });

  it('says "one dose", not "one doses"', () => {
    const p = profile('medication-adherence');
    const { engine } = engineFor(p);
    talk(engine, ['yes', 'yes']);
    expect(engine.respond('just one').say).toBe('I have one dose, is that right?');
  });
});

describe('DialogueEngine: repeat requests', () => {
  it.each(['Repeat that?', 'What?', 'Sorry?', 'Could you say that again?'])(
    'repeats the waiting question on %j without spending a try',
    (request) => {
      const { engine, p } = intakeAt('new-allergies');
      expect(engine.respond(request)).toEqual({ say: ask(p, 'new-allergies'), repeated: true });
      // Still two tries left: one miss re-asks rather than moving on.
      expect(engine.respond('hmm').reask).toBe(true);
    },
  );

  it('repeats the re-ask itself, not the original question, after a re-ask', () => {
    const { engine, p } = intakeAt('medication-changes');
    const step = p.protocol.find((s) => s.id === 'medication-changes');
    engine.respond('hmm');
    expect(engine.respond('what?').say).toBe(step?.reprompt);
  });

  it('repeats the read-back while confirming', () => {
    const { engine } = intakeAt('pain-score');
    engine.respond('four');
    expect(engine.respond('sorry?').say).toBe('I have four out of 10, is that right?');
  });

  it('repeats the greeting before the first question', () => {
    const p = profile('intake');
    const { engine } = engineFor(p);
    expect(engine.respond('huh?')).toEqual({ say: p.firstMessage, repeated: true });
  });
});

describe('DialogueEngine: the end', () => {
  it('says the closing message after the last step, then nothing more unless asked to repeat', () => {
    const { engine, p } = intakeAt('contact-preference');
    expect(engine.respond('email')).toMatchObject({
      say: p.closingMessage,
      done: true,
      outcome: 'completed',
    });
    expect(engine.respond('thanks')).toEqual({ say: '', done: true, outcome: 'completed' });
    expect(engine.respond('what?')).toEqual({
      say: p.closingMessage,
      repeated: true,
      done: true,
      outcome: 'completed',
    });
  });

  it('closes with the same default words as VoiceCareAgent when the profile has none', () => {
    expect(DEFAULT_WORDING.closing).toBe(DEFAULT_CLOSING);
    const p = minimalProfile({ firstMessage: 'Hello, a test call.' });
    const { engine } = engineFor(p);
    talk(engine, ['fine']);
    expect(engine.respond('three')).toMatchObject({
      say: DEFAULT_WORDING.closing,
      done: true,
    });
  });
});

describe('DialogueEngine: expectations', () => {
  it('publishes what it expects after every turn, step by step', () => {
    const p = profile('intake');
    const { engine, board } = engineFor(p);
    expect(board.seen).toEqual([{ kind: 'open' }]);

    const script = ['yes', 'a rash', 'no', 'hmm', 'no', 'six', 'yes', 'no', 'email'];
    const after = script.map((line) => {
      engine.respond(line);
      const e = board.last;
      return e?.kind === 'open' ? 'open' : `${e?.kind}:${e?.stepId}`;
    });
    expect(after).toEqual([
      'capture:visit-reason',
      'capture:medication-changes',
      'capture:new-allergies',
      'capture:new-allergies',
      'capture:pain-score',
      'confirm:pain-score',
      'capture:recent-hospital',
      'capture:contact-preference',
      'open',
    ]);
    expect(board.seen).toHaveLength(script.length + 1);
    expect(board.seen.find((e) => e.kind === 'capture' && e.stepId === 'pain-score')).toEqual({
      kind: 'capture',
      stepId: 'pain-score',
      capture: { field: 'painScore', type: 'number', min: 0, max: 10, unit: 'out of 10' },
    });
  });
});

describe('DialogueEngine: clock, snapshots and options', () => {
  it("reads relative dates in the patient's time zone", () => {
    const p = profile('post-discharge');
    // 03:00 UTC on 11 March is still 10 March in New York.
    const late = new Date('2026-03-11T03:00:00Z');
    const script = ['yes', 'better', 'yes', 'yes', 'yes', 'tomorrow'];
    const ny = engineFor(p, { now: () => late, timeZone: 'America/New_York' }).engine;
    const utc = engineFor(p, { now: () => late, timeZone: 'UTC' }).engine;
    expect(talk(ny, script).at(-1)?.confirming?.value).toBe('2026-03-11');
    expect(talk(utc, script).at(-1)?.confirming?.value).toBe('2026-03-12');
  });

  it('goes back to an earlier snapshot and republishes its expectation', () => {
    const { engine, board } = intakeAt('new-allergies');
    const before = engine.snapshot();
    engine.respond('yes');
    expect(engine.answers()).toHaveProperty('newAllergies', true);
    engine.restore(before);
    expect(engine.answers()).not.toHaveProperty('newAllergies');
    expect(board.last).toMatchObject({ kind: 'capture', stepId: 'new-allergies' });
    expect(engine.respond('no').captured).toEqual({ field: 'newAllergies', value: false });
  });

  it('puts the current question again on resume() without reading anything', () => {
    const { engine, p } = intakeAt('new-allergies');
    expect(engine.resume()).toEqual({ say: ask(p, 'new-allergies'), resumed: true });
    expect(engine.currentStep()?.id).toBe('new-allergies');
  });

  it('rejects options it cannot honour', () => {
    const p = profile('intake');
    expect(() => new DialogueEngine(p, { maxFailedTries: 0 })).toThrow(RangeError);
    expect(() => new DialogueEngine(p, { maxFailedTries: 1.5 })).toThrow(RangeError);
    expect(() => new DialogueEngine(p, { timeZone: 'Mars/Olympus_Mons' })).toThrow(RangeError);
    expect(() => new DialogueEngine({ ...p, protocol: [] })).toThrow(TypeError);
  });
});

describe('DialogueEngine: free speech heard by the embedded recogniser', () => {
  const visitReason = (opts: DialogueEngineOptions = {}) =>
    intakeAt('visit-reason', { readBackFreeSpeech: true, ...opts });

  it('reads free text back and records it, confirmed, only after a yes', () => {
    const { engine, p } = visitReason();
    expect(engine.respond('my knee hurts', { messageId: 'm1', confidence: 0.4 })).toEqual({
      say: 'I heard: my knee hurts. Is that right?',
      confirming: { field: 'visitReason', value: 'my knee hurts' },
    });
    expect(engine.answers()).not.toHaveProperty('visitReason');
    expect(engine.respond('yes', { messageId: 'm2', confidence: 0.9 })).toEqual({
      say: ask(p, 'medication-changes'),
      captured: { field: 'visitReason', value: 'my knee hurts' },
      confirmed: true,
      evidence: {
        heard: { messageId: 'm1', confidence: 0.4 },
        confirmedBy: { messageId: 'm2', confidence: 0.9 },
        certainty: 1,
      },
    });
  });

  it('asks again after a no, and reads the new words back', () => {
    const { engine, p } = visitReason();
    engine.respond('the artist', { messageId: 'm1' });
    expect(engine.respond('no').say).toBe(`${DEFAULT_WORDING.rejected} ${p.protocol[0]?.reprompt}`);
    expect(engine.respond('my knee hurts', { messageId: 'm3' })).toMatchObject({
      confirming: { value: 'my knee hurts' },
    });
    expect(engine.respond('yes', { messageId: 'm4' })).toMatchObject({
      captured: { value: 'my knee hurts' },
      evidence: { heard: { messageId: 'm3' }, confirmedBy: { messageId: 'm4' } },
    });
  });

  it('gives up after two rejected read-backs, keeping which utterance was misheard but not its words', () => {
    const { engine, p } = visitReason();
    engine.respond('the artist', { messageId: 'm1' });
    engine.respond('no');
    engine.respond('my nice hurts', { messageId: 'm3' });
    const turn = engine.respond('no', { messageId: 'm4' });
    expect(turn).toEqual({
      say: `${DEFAULT_WORDING.moveOn} ${ask(p, 'medication-changes')}`,
      unanswered: { field: 'visitReason' },
      givenUp: { why: 'read_back_rejected', heard: { messageId: 'm3' } },
    });
    expect(engine.answers()).not.toHaveProperty('visitReason');
    expect(engine.unanswered()).toEqual(['visitReason']);
  });

  it('takes other words in place of yes or no as the corrected answer, and gives up unconfirmed when that goes on', () => {
    const { engine } = visitReason();
    engine.respond('the artist', { messageId: 'm1' });
    expect(engine.respond('my knee hurts', { messageId: 'm2' })).toMatchObject({
      say: 'I heard: my knee hurts. Is that right?',
    });
    expect(engine.respond('it is my knee', { messageId: 'm3' })).toMatchObject({
      unanswered: { field: 'visitReason' },
      givenUp: { why: 'not_confirmed', value: 'it is my knee', heard: { messageId: 'm3' } },
    });
  });

  it('records free text as heard, with the low certainty of free text, when the recogniser is not the embedded one', () => {
    const { engine } = intakeAt('visit-reason');
    expect(engine.respond('my knee hurts', { messageId: 'm1', confidence: 0.95 })).toMatchObject({
      captured: { field: 'visitReason', value: 'my knee hurts' },
      evidence: { heard: { messageId: 'm1', confidence: 0.95 }, certainty: 0.5 },
    });
  });

  it('reads dates back too, since they are free speech to the embedded recogniser', () => {
    const p = profile('post-discharge');
    const step = p.protocol.findIndex((s) => s.id === 'follow-up-date');
    const withoutConfirm = {
      ...p,
      protocol: p.protocol.map((s, i) => (i === step ? { ...s, confirm: false } : s)),
    };
    const { engine } = engineFor(withoutConfirm, { readBackFreeSpeech: true });
    talk(engine, ['yes', 'better', 'yes', 'yes', 'yes']);
    expect(engine.respond('next monday')).toMatchObject({
      confirming: { field: 'followUpDate' },
    });
  });
});

describe('education steps (a clip, then the step question)', () => {
  const withClip = (): Profile =>
    minimalProfile({
      protocol: [
        {
          id: 'feeling',
          ask: 'How are you feeling today?',
          intent: 'General wellbeing.',
          capture: { field: 'feeling', type: 'text' },
        },
        {
          id: 'wound-care',
          ask: 'Did that make sense?',
          intent: 'Teach-back after the wound care clip.',
          capture: { field: 'understood', type: 'yesno' },
          play: { script: 'knee-wound-care' },
        },
      ],
    });

  it('plays the clip when the step is reached, then asks its question', () => {
    const { engine } = engineFor(withClip());
    const reached = engine.respond('I feel fine');
    expect(reached).toMatchObject({
      say: '',
      captured: { field: 'feeling', value: 'I feel fine' },
      play: { stepId: 'wound-care', script: 'knee-wound-care' },
    });
    expect(engine.afterPlay()).toEqual({ say: 'Did that make sense?' });
    // A second, late call changes nothing.
    expect(engine.afterPlay()).toEqual({ say: '' });
    expect(engine.respond('yes')).toMatchObject({
      captured: { field: 'understood', value: true },
      done: true,
    });
  });

  it('reads nothing said over the clip as an answer: it puts the question instead', () => {
    const { engine } = engineFor(withClip());
    engine.respond('I feel fine');
    expect(engine.respond('yes okay')).toEqual({ say: 'Did that make sense?' });
    expect(engine.answers()).not.toHaveProperty('understood');
    expect(engine.respond('no')).toMatchObject({ captured: { field: 'understood', value: false } });
  });

  it('puts the question when the call resumes mid-clip', () => {
    const { engine } = engineFor(withClip());
    engine.respond('I feel fine');
    expect(engine.resume()).toEqual({ say: 'Did that make sense?', resumed: true });
  });
});
