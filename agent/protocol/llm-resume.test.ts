/** The dialogue engine picking up a call another job started (`agent/resume.ts`). */
import { fileURLToPath } from 'node:url';
import { initializeLogger, llm } from '@livekit/agents';
import { beforeAll, describe, expect, it } from 'vitest';
import { readProfile } from '../../prompts/loader.ts';
import type { Profile } from '../../prompts/schema.ts';
import { renderProfile } from '../../prompts/template.ts';
import type { CapturedAnswer } from '../../sessions/schema.ts';
import { engineStateFor } from '../resume.ts';
import type { AnswerReport } from './answers.ts';
import { DialogueEngine } from './engine.ts';
import { ScriptedProtocolLLM } from './llm.ts';

let intake: Profile;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'silent' });
  const path = fileURLToPath(new URL('../../prompts/intake.yaml', import.meta.url));
  intake = renderProfile(await readProfile(path), {});
});

const captured = (value: CapturedAnswer['value']) =>
  ({
    value,
    confidence: 0.9,
    source: { method: 'engine', seq: 1 },
    confirmed: false,
    needsReview: false,
    at: new Date(0),
  }) as CapturedAnswer;

async function reply(model: ScriptedProtocolLLM, ctx: llm.ChatContext, text: string) {
  const message = llm.ChatMessage.create({ role: 'user', content: text });
  const req = ctx.copy();
  req.insert(message);
  let out = '';
  for await (const chunk of model.chat({ chatCtx: req })) out += chunk.delta?.content ?? '';
  return out;
}

describe('ScriptedProtocolLLM resumed at an interrupted call', () => {
  it('opens with the resume line and the next question, and reads the reply as its answer', async () => {
    const reports: AnswerReport[] = [];
    const model = new ScriptedProtocolLLM({
      engine: new DialogueEngine(intake, {
        now: () => new Date('2026-03-11T15:00:00Z'),
        timeZone: 'UTC',
      }),
      onAnswer: (r) => reports.push(r),
      onDone: () => undefined,
    });
    const state = engineStateFor(intake, { visitReason: captured('a sore knee') }, 'Bye.');
    const opening = model.resumeAt(state, (prompt) => `Sorry, we were cut off. ${prompt}`);
    const meds = intake.protocol.find((s) => s.capture.field === 'medicationChanges')!;
    expect(opening).toBe(`Sorry, we were cut off. ${meds.ask.trim()}`);

    const ctx = llm.ChatContext.empty();
    ctx.addMessage({ role: 'assistant', content: opening });
    await reply(model, ctx, 'no');
    // Answered the resumed question, not taken for a reply to something else.
    expect(reports.map((r) => [r.field, r.value])).toEqual([['medicationChanges', false]]);
  });
});
