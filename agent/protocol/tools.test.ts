import { describe, expect, it } from 'vitest';
import type { ProtocolStep } from '../../prompts/schema.ts';
import type { AnswerReport, HeardUtterance } from './answers.ts';
import { MAX_TEXT_CHARS, checkAnswer, protocolBrief, protocolTools } from './tools.ts';

const TODAY = { today: '2026-03-11' };
const step = (
  capture: ProtocolStep['capture'],
  extra: Partial<ProtocolStep> = {},
): ProtocolStep => ({
  id: 's',
  ask: 'q',
  intent: 'i',
  capture,
  ...extra,
});
const yesno = step({ field: 'f', type: 'yesno' });
const pain = step({ field: 'painScore', type: 'number', min: 0, max: 10 });
const contact = step({
  field: 'contact',
  type: 'choice',
  choices: ['phone call', 'text message', 'email'],
});
const date = step({ field: 'd', type: 'date' });
const text = step({ field: 'reason', type: 'text' });

describe('checkAnswer', () => {
  it('takes yes and no as booleans, also when the model spells them out', () => {
    expect(checkAnswer(yesno, true, TODAY)).toEqual({ ok: true, value: true });
    expect(checkAnswer(yesno, 'No', TODAY)).toEqual({ ok: true, value: false });
    expect(checkAnswer(yesno, 'maybe', TODAY)).toMatchObject({
      ok: false,
      problem: /true for yes/,
    });
    expect(checkAnswer(yesno, 1, TODAY)).toMatchObject({ ok: false });
  });

  it('keeps numbers within the step’s min and max, and reads digits given as text', () => {
    expect(checkAnswer(pain, 7, TODAY)).toEqual({ ok: true, value: 7 });
    expect(checkAnswer(pain, '4', TODAY)).toEqual({ ok: true, value: 4 });
    expect(checkAnswer(pain, 11, TODAY)).toMatchObject({
      ok: false,
      problem: 'must be at most 10',
    });
    expect(checkAnswer(pain, -1, TODAY)).toMatchObject({
      ok: false,
      problem: 'must be at least 0',
    });
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 'four', '4 or 5', true]) {
      expect(checkAnswer(pain, bad, TODAY)).toMatchObject({ ok: false, problem: /a number/ });
    }
  });

  it('normalises a choice to the profile’s spelling and refuses one not on the list', () => {
    expect(checkAnswer(contact, 'Text Message', TODAY)).toEqual({
      ok: true,
      value: 'text message',
    });
    expect(checkAnswer(contact, 'e-mail', TODAY)).toEqual({ ok: true, value: 'email' });
    expect(checkAnswer(contact, 'text', TODAY)).toEqual({ ok: true, value: 'text message' });
    expect(checkAnswer(contact, 'carrier pigeon', TODAY)).toMatchObject({
      ok: false,
      problem: 'expected one of: phone call, text message, email',
    });
    expect(checkAnswer(contact, 'phone call or email', TODAY)).toMatchObject({ ok: false });
  });

  it('takes real calendar dates within a plausible window and refuses the rest', () => {
    expect(checkAnswer(date, '2026-03-20', TODAY)).toEqual({ ok: true, value: '2026-03-20' });
    expect(checkAnswer(date, '1950-07-04', TODAY)).toEqual({ ok: true, value: '1950-07-04' });
    expect(checkAnswer(date, '2026-02-30', TODAY)).toMatchObject({
      ok: false,
      problem: /not a real calendar date/,
    });
    expect(checkAnswer(date, '1850-01-01', TODAY)).toMatchObject({
      ok: false,
      problem: /years ago/,
    });
    expect(checkAnswer(date, '2036-01-01', TODAY)).toMatchObject({
      ok: false,
      problem: /years ahead/,
    });
    expect(checkAnswer(date, 'next Monday', TODAY)).toMatchObject({
      ok: false,
      problem: /YYYY-MM-DD/,
    });
  });

  it('trims free text and refuses empty, overlong, control and direction-changing text', () => {
    expect(checkAnswer(text, '  my   knee hurts ', TODAY)).toEqual({
      ok: true,
      value: 'my knee hurts',
    });
    expect(checkAnswer(text, '   ', TODAY)).toMatchObject({
      ok: false,
      problem: 'expected some text',
    });
    expect(checkAnswer(text, 'x'.repeat(MAX_TEXT_CHARS + 1), TODAY)).toMatchObject({
      ok: false,
      problem: /too long/,
    });
    for (const hidden of ['knee\u0000', 'knee\u001b[2J', 'knee \u202Eevil', 'a\u2066b\u2069']) {
      expect(checkAnswer(text, hidden, TODAY)).toMatchObject({ ok: false, problem: /control/ });
    }
    expect(checkAnswer(text, 42, TODAY)).toMatchObject({ ok: false });
  });
});

describe('protocolBrief', () => {
  it('lists every step with its field, the answer it expects, and which ones are optional', () => {
    const brief = protocolBrief([
      pain,
      step({ field: 'details', type: 'text' }, { required: false }),
    ]);
    expect(brief).toContain('[painScore]');
    expect(brief).toContain('a number, min 0, max 10');
    expect(brief).toMatch(/\[details\].*Optional/);
    expect(brief).toContain(
      'If record_answer says the answer was not recorded, ask the question again.',
    );
  });
});

describe('record_answer and end_call', () => {
  function tools(opts: { heard?: HeardUtterance; embeddedStt?: boolean } = {}) {
    const reports: AnswerReport[] = [];
    let ended = 0;
    const t = protocolTools({
      steps: [pain, text, contact],
      heard: () => opts.heard,
      embeddedStt: opts.embeddedStt ?? false,
      today: () => TODAY.today,
      onAnswer: (r) => reports.push(r),
      onEndCall: () => {
        ended += 1;
      },
    });
    const record = (field: string, value: string | number | boolean) =>
      t.record_answer.execute({ field, value }, {
        ctx: {} as never,
        toolCallId: 'call_1',
      } as never) as Promise<string>;
    const end = () => t.end_call.execute({}, { ctx: {} as never, toolCallId: 'call_2' } as never);
    return { record, end, reports, ended: () => ended };
  }

  it('tells the model why a value was refused, and stores nothing', async () => {
    const { record, reports } = tools({ heard: { messageId: 'm1', confidence: 0.9 } });
    expect(await record('painScore', 12)).toBe(
      'Not recorded: must be at most 10. Ask the question again.',
    );
    expect(await record('mood', 'fine')).toMatch(
      /^Not recorded: unknown field "mood". Use one of: painScore, reason, contact\./,
    );
    expect(reports).toEqual([]);
  });

  it('records a checked value with the patient turn it answers and that turn’s confidence', async () => {
    const { record, reports } = tools({ heard: { messageId: 'm1', confidence: 0.92 } });
    expect(await record('contact', 'Email')).toBe('Recorded.');
    expect(reports).toEqual([
      {
        field: 'contact',
        value: 'email',
        method: 'llm_tool',
        confirmed: false,
        heard: { messageId: 'm1', confidence: 0.92 },
      },
    ]);
  });

  it('flags an answer for review when the recogniser was unsure or gave no confidence', async () => {
    const unsure = tools({ heard: { messageId: 'm1', confidence: 0.3 } });
    await unsure.record('painScore', 4);
    expect(unsure.reports[0]).toMatchObject({ value: 4, reviewReason: 'low_confidence' });

    const unknown = tools({ heard: { messageId: 'm1' } });
    await unknown.record('painScore', 4);
    expect(unknown.reports[0]).toMatchObject({ reviewReason: 'confidence_unknown' });
  });

  it('flags free text heard by the embedded recogniser however confident it was', async () => {
    const { record, reports } = tools({
      heard: { messageId: 'm1', confidence: 0.99 },
      embeddedStt: true,
    });
    await record('reason', 'the artist');
    await record('painScore', 4);
    expect(reports.map((r) => r.reviewReason)).toEqual(['general_model_unconfirmed', undefined]);
  });

  it('ends the call when asked, whatever is unanswered: the session records that', async () => {
    const { end, ended } = tools();
    expect(await end()).toBe('Call ending.');
    expect(ended()).toBe(1);
  });
});

describe('play_education', () => {
  const lesson = step(
    { field: 'understood', type: 'yesno' },
    { id: 'wound-care', ask: 'Did that make sense?', play: { script: 'knee-wound-care' } },
  );
  const base = {
    heard: () => undefined,
    embeddedStt: false,
    today: () => TODAY.today,
    onAnswer: () => undefined,
    onEndCall: () => undefined,
  };

  it('is offered only when a step plays a clip and the agent can play one', () => {
    const onPlay = () => 'playing' as const;
    expect(Object.keys(protocolTools({ ...base, steps: [pain, lesson], onPlay }))).toContain(
      'play_education',
    );
    expect(Object.keys(protocolTools({ ...base, steps: [pain], onPlay }))).not.toContain(
      'play_education',
    );
    expect(Object.keys(protocolTools({ ...base, steps: [pain, lesson] }))).not.toContain(
      'play_education',
    );
    expect(protocolBrief([pain, lesson])).toMatch(
      /\[understood\] First call play_education with step "wound-care".*Do not read.*Ask: "Did that make sense\?"/,
    );
    expect(protocolBrief([pain])).not.toContain('play_education');
  });

  it('plays the step’s clip and gives the model the question to put after it, or says there is none', async () => {
    const played: string[] = [];
    let available = true;
    const t = protocolTools({
      ...base,
      steps: [pain, lesson],
      onPlay: (id) => {
        played.push(id);
        return available ? 'playing' : 'no_clip';
      },
    });
    const play = (s: string) =>
      t.play_education!.execute({ step: s }, {
        ctx: {} as never,
        toolCallId: 'call_3',
      } as never) as Promise<string>;
    expect(await play('wound-care')).toBe(
      'The lesson is playing to the patient. Now ask, in these words: "Did that make sense?"',
    );
    available = false;
    expect(await play('wound-care')).toMatch(
      /^No approved recording is available.*"Did that make sense\?"$/,
    );
    expect(await play('s')).toMatch(
      /^Not played: no lesson for step "s". Use one of: wound-care\./,
    );
    expect(played).toEqual(['wound-care', 'wound-care']);
  });
});
