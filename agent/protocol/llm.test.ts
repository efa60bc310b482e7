import { fileURLToPath } from 'node:url';
import { initializeLogger, llm, voice } from '@livekit/agents';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../infra/logger.ts';
import { readProfile } from '../../prompts/loader.ts';
import type { Profile } from '../../prompts/schema.ts';
import { renderProfile } from '../../prompts/template.ts';
import { VoiceCareAgent } from '../agent.ts';
import type { AnswerReport } from './answers.ts';
import { DialogueEngine } from './engine.ts';
import { ScriptedProtocolLLM, type ScriptedProtocolLLMOptions } from './llm.ts';

let intake: Profile;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'silent' });
  const path = fileURLToPath(new URL('../../prompts/intake.yaml', import.meta.url));
  intake = renderProfile(await readProfile(path), {});
});

const ask = (stepId: string): string => {
  const step = intake.protocol.find((s) => s.id === stepId);
  if (!step) throw new Error(`no step ${stepId}`);
  return step.ask;
};

/** The LLM with recording hooks. */
function scripted(overrides: Partial<ScriptedProtocolLLMOptions> = {}) {
  const engine =
    overrides.engine ??
    new DialogueEngine(intake, {
      now: () => new Date('2026-03-11T15:00:00Z'),
      timeZone: 'UTC',
    });
  // Field and value, for short assertions; the whole reports are kept beside them.
  const onAnswer = vi.fn<(field: string, value: AnswerReport['value']) => void>();
  const reports: AnswerReport[] = [];
  const onDone = vi.fn<ScriptedProtocolLLMOptions['onDone']>();
  const onRetract = vi.fn<NonNullable<ScriptedProtocolLLMOptions['onRetract']>>();
  const model = new ScriptedProtocolLLM({
    engine,
    onAnswer: (r) => {
      reports.push(r);
      onAnswer(r.field, r.value);
    },
    onDone,
    onRetract,
    ...overrides,
  });
  return { model, engine, onAnswer, reports, onDone, onRetract };
}

async function chunksOf(stream: llm.LLMStream): Promise<string[]> {
  const out: string[] = [];
  for await (const chunk of stream) {
    if (chunk.delta?.content) out.push(chunk.delta.content);
  }
  return out;
}

const textOf = async (stream: llm.LLMStream): Promise<string> => (await chunksOf(stream)).join('');

/**
 * The agent's chat history as the framework keeps it, and its way of asking for a reply: a copy
 * of the history with the new user message inserted. The message joins the history only once
 * the reply is used (`keep`).
 */
class History {
  readonly ctx = llm.ChatContext.empty();

  constructor(greeting: string) {
    this.ctx.addMessage({ role: 'system', content: 'instructions the scripted LLM ignores' });
    this.ctx.addMessage({ role: 'assistant', content: greeting });
  }

  /** A chat context for a reply to `message`, as the framework builds one. */
  request(message: llm.ChatMessage): llm.ChatContext {
    const ctx = this.ctx.copy();
    ctx.insert(message);
    return ctx;
  }

  keep(message: llm.ChatMessage, reply: string): void {
    this.ctx.insert(message);
    if (reply) this.ctx.addMessage({ role: 'assistant', content: reply });
  }

  /** One patient turn, start to finish: the reply's text. */
  async turn(model: ScriptedProtocolLLM, text: string): Promise<string> {
    const message = llm.ChatMessage.create({ role: 'user', content: text });
    const reply = await textOf(model.chat({ chatCtx: this.request(message) }));
    this.keep(message, reply);
    return reply;
  }
}

describe('ScriptedProtocolLLM', () => {
  it('streams its words as a few chunks, one per sentence, as a streaming model would', async () => {
    const { model } = scripted();
    const history = new History(intake.firstMessage);
    const message = llm.ChatMessage.create({ role: 'user', content: 'Sorry, what?' });
    const chunks = await chunksOf(model.chat({ chatCtx: history.request(message) }));
    expect(chunks.join('')).toBe(intake.firstMessage);
    expect(chunks).toHaveLength(4);
    expect(chunks.at(-1)).toBe('Is now a good time?');
  });

  it('reports each answer with the message it was read from, the recogniser confidence and the trust verdict', async () => {
    const { model, reports } = scripted();
    const history = new History(intake.firstMessage);
    const say = async (content: string, confidence: number) => {
      const message = llm.ChatMessage.create({
        role: 'user',
        content,
        transcriptConfidence: confidence,
      });
      history.keep(message, await textOf(model.chat({ chatCtx: history.request(message) })));
      return message.id;
    };
    await say('yes', 0.9);
    const reason = await say('a sore knee', 0.95);
    const meds = await say('no', 0.3);
    await say('no', 0.9);
    const six = await say('six', 0.8);
    const yes = await say('yes', 0.85);
    expect(reports).toEqual([
      {
        field: 'visitReason',
        value: 'a sore knee',
        method: 'engine',
        heard: { messageId: reason, confidence: 0.95 },
        confirmed: false,
        parseCertainty: 0.5,
      },
      {
        field: 'medicationChanges',
        value: false,
        method: 'engine',
        heard: { messageId: meds, confidence: 0.3 },
        confirmed: false,
        parseCertainty: 0.9,
        reviewReason: 'low_confidence',
      },
      expect.objectContaining({ field: 'newAllergies', value: false }),
      {
        field: 'painScore',
        value: 6,
        method: 'engine',
        heard: { messageId: six, confidence: 0.8 },
        confirmed: true,
        confirmedBy: { messageId: yes, confidence: 0.85 },
        parseCertainty: 1,
      },
    ]);
  });

  it('with the embedded recogniser, reports free text only after the patient confirmed it, and a rejected one without its words', async () => {
    const engine = new DialogueEngine(intake, { timeZone: 'UTC', readBackFreeSpeech: true });
    const { model, reports } = scripted({ engine });
    const history = new History(intake.firstMessage);
    for (const line of ['yes', 'the artist', 'no']) await history.turn(model, line);
    expect(reports).toEqual([]);
    for (const line of ['my nice hurts', 'no']) await history.turn(model, line);
    expect(reports).toEqual([
      expect.objectContaining({
        field: 'visitReason',
        value: null,
        confirmed: false,
        reviewReason: 'read_back_rejected',
      }),
    ]);
  });

  it('names itself and its protocol in logs and metrics', async () => {
    const { model } = scripted();
    expect(model.label()).toBe('voicecare.ScriptedProtocolLLM');
    expect(model.model).toBe(`intake@${intake.version}`);
    expect(model.provider).toBe('voicecare-scripted');

    const metrics = new Promise<{ label: string; ttftMs: number; cancelled: boolean }>((resolve) =>
      model.once('metrics_collected', resolve),
    );
    const history = new History(intake.firstMessage);
    await history.turn(model, 'yes');
    expect(await metrics).toMatchObject({
      label: 'voicecare.ScriptedProtocolLLM',
      cancelled: false,
    });
    expect((await metrics).ttftMs).toBeGreaterThanOrEqual(0);
  });

  it('reports each captured answer through onAnswer and the end through onDone, once', async () => {
    const { model, onAnswer, onDone } = scripted();
    const history = new History(intake.firstMessage);
    const replies: string[] = [];
    for (const line of ['yes', 'a sore knee', 'no', 'no', 'six', 'yes', 'no', 'email']) {
      replies.push(await history.turn(model, line));
    }
    expect(onAnswer.mock.calls).toEqual([
      ['visitReason', 'a sore knee'],
      ['medicationChanges', false],
      ['newAllergies', false],
      ['painScore', 6],
      ['recentHospitalVisit', false],
      ['contactPreference', 'email'],
    ]);
    expect(replies.at(-1)).toBe(intake.closingMessage);
    expect(onDone.mock.calls).toEqual([[{ outcome: 'completed' }]]);

    // After the end: nothing more to say, and no second ending.
    expect(await history.turn(model, 'thanks, you too')).toBe('');
    expect(onDone).toHaveBeenCalledTimes(1);
  });

  it('reports a declined call through onDone', async () => {
    const { model, onDone, onAnswer } = scripted();
    const history = new History(intake.firstMessage);
    expect(await history.turn(model, 'No.')).toBe(intake.closingMessage);
    expect(onDone.mock.calls).toEqual([[{ outcome: 'declined' }]]);
    expect(onAnswer).not.toHaveBeenCalled();
  });

  it('answers a repeated call for the same user message with the same words, stepping once', async () => {
    const { model, engine, onAnswer } = scripted();
    const history = new History(intake.firstMessage);
    await history.turn(model, 'yes');
    const message = llm.ChatMessage.create({ role: 'user', content: 'my knee' });
    const chatCtx = history.request(message);

    const first = await textOf(model.chat({ chatCtx }));
    const again = await textOf(model.chat({ chatCtx }));
    expect(first).toBe(ask('medication-changes'));
    expect(again).toBe(first);
    expect(onAnswer).toHaveBeenCalledTimes(1);
    expect(engine.currentStep()?.id).toBe('medication-changes');
  });

  it('starts a cancelled stream and a fresh one for the same message without stepping twice', async () => {
    const { model, onAnswer } = scripted();
    const history = new History(intake.firstMessage);
    await history.turn(model, 'yes');
    const message = llm.ChatMessage.create({ role: 'user', content: 'my knee' });
    model.chat({ chatCtx: history.request(message) }).close();
    expect(await textOf(model.chat({ chatCtx: history.request(message) }))).toBe(
      ask('medication-changes'),
    );
    expect(onAnswer).toHaveBeenCalledTimes(1);
  });

  it('undoes a preemptive reply the framework threw away and answers the final transcript', async () => {
    const { model, engine, onAnswer, onRetract } = scripted();
    const history = new History(intake.firstMessage);
    for (const line of ['yes', 'my knee']) await history.turn(model, line);

    // Preemptive generation on an early transcript, then the patient kept talking.
    const early = llm.ChatMessage.create({ role: 'user', content: 'yes' });
    await textOf(model.chat({ chatCtx: history.request(early) }));
    expect(onAnswer).toHaveBeenLastCalledWith('medicationChanges', true);

    const reply = await history.turn(model, 'yes, well, no, nothing new');
    expect(onRetract).toHaveBeenCalledWith({ fields: ['medicationChanges'], done: false });
    // The corrected words are ambiguous, so the step is asked again: nothing stands.
    expect(reply).toBe(intake.protocol[1]?.reprompt);
    expect(engine.answers()).not.toHaveProperty('medicationChanges');
    expect(onAnswer).toHaveBeenCalledTimes(2);
  });

  it('keeps a preemptive reply the framework used, and retracts nothing', async () => {
    const { model, onRetract, onAnswer } = scripted();
    const history = new History(intake.firstMessage);
    await history.turn(model, 'yes');
    const early = llm.ChatMessage.create({ role: 'user', content: 'my knee' });
    const reply = await textOf(model.chat({ chatCtx: history.request(early) }));
    history.keep(early, reply);

    expect(await history.turn(model, 'no')).toBe(ask('new-allergies'));
    expect(onRetract).not.toHaveBeenCalled();
    expect(onAnswer.mock.calls).toEqual([
      ['visitReason', 'my knee'],
      ['medicationChanges', false],
    ]);
  });

  it('retracts the ending of a discarded reply that had closed the protocol', async () => {
    const { model, onDone, onRetract } = scripted();
    const history = new History(intake.firstMessage);
    for (const line of ['yes', 'knee', 'no', 'no', 'two', 'yes', 'no']) {
      await history.turn(model, line);
    }
    const early = llm.ChatMessage.create({ role: 'user', content: 'email' });
    await textOf(model.chat({ chatCtx: history.request(early) }));
    expect(onDone).toHaveBeenCalledTimes(1);

    expect(await history.turn(model, 'email or maybe a phone call')).toContain(
      'You can say phone call, text message, or email.',
    );
    expect(onRetract).toHaveBeenCalledWith({ fields: ['contactPreference'], done: true });
  });

  it('returns the current question, stepping nothing, for a chat context with no user message', async () => {
    const { model, engine, onAnswer } = scripted();
    const empty = llm.ChatContext.empty();
    expect(await textOf(model.chat({ chatCtx: empty }))).toBe(intake.firstMessage);

    const history = new History(intake.firstMessage);
    await history.turn(model, 'yes');
    const onlySystem = llm.ChatContext.empty();
    onlySystem.addMessage({ role: 'system', content: 'instructions' });
    expect(await textOf(model.chat({ chatCtx: onlySystem }))).toBe(ask('visit-reason'));
    expect(engine.currentStep()?.id).toBe('visit-reason');
    expect(onAnswer).not.toHaveBeenCalled();
  });

  it('puts the question again when the agent said something else since it was asked', async () => {
    const { model, onAnswer } = scripted();
    const history = new History(intake.firstMessage);
    for (const line of ['yes', 'my knee']) await history.turn(model, line);
    history.ctx.addMessage({ role: 'assistant', content: 'Are you still there?' });

    // "Yes" answers "are you still there?", not "have your medicines changed?".
    expect(await history.turn(model, 'yes')).toBe(ask('medication-changes'));
    expect(onAnswer).toHaveBeenCalledTimes(1);
    expect(await history.turn(model, 'yes')).toBe(ask('new-allergies'));
    expect(onAnswer).toHaveBeenLastCalledWith('medicationChanges', true);
  });

  it('puts the question again after a safety response, whose turn the agent kept itself', async () => {
    const { model, onAnswer } = scripted();
    const history = new History(intake.firstMessage);
    for (const line of ['yes', 'my knee']) await history.turn(model, line);
    // VoiceCareAgent answered this turn without the LLM and kept it in the history.
    history.ctx.addMessage({ role: 'user', content: 'I fainted yesterday' });
    history.ctx.addMessage({ role: 'assistant', content: intake.safety.at(-1)?.response ?? '' });

    expect(await history.turn(model, 'okay, thank you')).toBe(ask('medication-changes'));
    expect(onAnswer).toHaveBeenCalledTimes(1);
    expect(await history.turn(model, 'no')).toBe(ask('new-allergies'));
  });

  it('reads the answer when the agent was cut off part way through its question', async () => {
    const { model, onAnswer } = scripted();
    const history = new History(intake.firstMessage);
    await history.turn(model, 'yes');
    const interrupted = llm.ChatMessage.create({ role: 'user', content: 'my knee' });
    await textOf(model.chat({ chatCtx: history.request(interrupted) }));
    history.ctx.insert(interrupted);
    history.ctx.addMessage({
      role: 'assistant',
      content: 'Have any of your medicines',
      interrupted: true,
    });
    await history.turn(model, 'no');
    expect(onAnswer).toHaveBeenLastCalledWith('medicationChanges', false);
  });

  it('asks the current question again when asked to reply after its answer was already given', async () => {
    const { model } = scripted();
    const history = new History(intake.firstMessage);
    await history.turn(model, 'yes');
    await history.turn(model, 'hmm');
    // The framework asks for another reply with nothing new from the patient.
    expect(await textOf(model.chat({ chatCtx: history.ctx.copy() }))).toBe(
      intake.protocol[0]?.reprompt,
    );
  });

  it('keeps streaming when a hook throws, and logs no answer', async () => {
    const logger = { error: vi.fn() };
    const { model } = scripted({
      onAnswer: () => {
        throw new Error('store rejected visitReason=my secret knee');
      },
      logger: logger as unknown as Logger,
    });
    const history = new History(intake.firstMessage);
    await history.turn(model, 'yes');
    expect(await history.turn(model, 'my secret knee')).toBe(ask('medication-changes'));
    expect(logger.error).toHaveBeenCalledWith(
      { hook: 'onAnswer', errorName: 'Error' },
      'scripted protocol hook failed',
    );
    expect(JSON.stringify(logger.error.mock.calls)).not.toContain('secret');
  });

  it('refuses to start without an engine or its hooks', () => {
    const engine = new DialogueEngine(intake, { timeZone: 'UTC' });
    const hooks = { onAnswer: () => {}, onDone: () => {} };
    expect(() => new ScriptedProtocolLLM({ ...hooks } as never)).toThrow(TypeError);
    expect(() => new ScriptedProtocolLLM({ engine, onDone: () => {} } as never)).toThrow(TypeError);
    expect(() => new ScriptedProtocolLLM({ engine, ...hooks })).not.toThrow();
  });
});

describe('ScriptedProtocolLLM in a real AgentSession', () => {
  it('runs the intake protocol behind VoiceCareAgent, turn by turn, and ends it', async () => {
    const engine = new DialogueEngine(intake, { timeZone: 'UTC' });
    const answers: Record<string, unknown> = {};
    const onDone = vi.fn();
    const model = new ScriptedProtocolLLM({
      engine,
      onAnswer: ({ field, value }) => {
        answers[field] = value;
      },
      onDone,
    });
    const agent = new VoiceCareAgent(intake, {
      onSafetyMatch: () => {},
      onClassifierMatch: () => {},
      onHandledTurn: () => {},
      onAnswer: () => {},
      onEnd: () => {},
    });
    const session = new voice.AgentSession({ llm: model });
    const said: string[] = [];
    try {
      await session.start({ agent });
      for (const line of ['Yes.', 'My knee.', 'No.', 'No.', 'Four.', 'Yes.', 'No.', 'Email.']) {
        const result = await session.run({ userInput: line }).wait();
        for (const ev of result.events) {
          if (ev.type === 'message' && ev.item.role === 'assistant') {
            said.push(ev.item.textContent ?? '');
          }
        }
      }
    } finally {
      await session.close();
    }
    expect(said).toEqual([
      ...intake.protocol.map((s) => s.ask).slice(0, 4),
      'I have four out of 10, is that right?',
      ...intake.protocol.map((s) => s.ask).slice(4),
      intake.closingMessage,
    ]);
    expect(answers).toEqual({
      visitReason: 'My knee.',
      medicationChanges: false,
      newAllergies: false,
      painScore: 4,
      recentHospitalVisit: false,
      contactPreference: 'email',
    });
    expect(onDone).toHaveBeenCalledTimes(1);
  }, 20_000);
});

describe('ScriptedProtocolLLM and questions answered elsewhere', () => {
  it('is not stepped by a question, and reads the reply after a passage that re-asks as an answer', async () => {
    const { model, onAnswer } = scripted({ handledElsewhere: (t) => t.startsWith('can I') });
    const history = new History(intake.firstMessage);
    await history.turn(model, 'yes');
    const question = ask(intake.protocol[0]!.id);
    expect(model.currentPrompt()).toBe(question);

    // The question reaches the LLM (a preemptive generation) but is answered from a document.
    const asked = llm.ChatMessage.create({ role: 'user', content: 'can I shower tomorrow' });
    await textOf(model.chat({ chatCtx: history.request(asked) }));
    history.keep(asked, `You may shower after 48 hours. ${question}`);
    expect(onAnswer).not.toHaveBeenCalled();
    expect(model.currentPrompt()).toBe(question);

    // The patient now answers the question put again at the end of the passage.
    await history.turn(model, 'a sore knee');
    expect(onAnswer).toHaveBeenCalledWith(intake.protocol[0]!.capture.field, 'a sore knee');
  });
});
