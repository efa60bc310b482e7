import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readProfile } from '../prompts/loader.ts';
import type { CapturedAnswer } from '../sessions/schema.ts';
import {
  engineStateFor,
  isResumedCall,
  remainingSteps,
  resumeInstructions,
  resumePoint,
} from './resume.ts';

const profile = await readProfile(
  fileURLToPath(new URL('../prompts/intake.yaml', import.meta.url)),
);

function answer(value: CapturedAnswer['value']): CapturedAnswer {
  return {
    value,
    confidence: 0.9,
    source: { method: 'llm_tool', seq: 1 },
    confirmed: false,
    needsReview: false,
    at: new Date(0),
  } as CapturedAnswer;
}

describe('resuming an interrupted call', () => {
  it('is a resume only when the session is already active', () => {
    expect(isResumedCall({ state: 'active' })).toBe(true);
    expect(isResumedCall({ state: 'dispatching' })).toBe(false);
    expect(isResumedCall(null)).toBe(false);
  });

  it('numbers on after the highest stored or spooled seq, and keeps the conversation in order', () => {
    const stored = [
      { seq: 1, role: 'patient' as const, text: 'yes' },
      { seq: 0, role: 'agent' as const, text: 'Hi' },
      { seq: 2, role: 'agent' as const, text: 'Why are you visiting?' },
    ];
    expect(resumePoint({}, stored, undefined).startSeq).toBe(3);
    expect(resumePoint({}, stored, 6).startSeq).toBe(7);
    expect(resumePoint({}, [], undefined).startSeq).toBe(0);
    expect(resumePoint({}, stored, undefined).history).toEqual([
      { role: 'assistant', text: 'Hi' },
      { role: 'user', text: 'yes' },
      { role: 'assistant', text: 'Why are you visiting?' },
    ]);
  });

  it('puts the dialogue engine at the first step without a trusted answer', () => {
    const [s0, s1] = profile.protocol;
    const answers = { [s0!.capture.field]: answer('knee pain') };
    const state = engineStateFor(profile, answers, 'Goodbye.');
    expect(state.phase).toEqual({ kind: 'asking', step: 1, failures: 0 });
    expect(state.prompt).toBe(s1!.ask.trim());
    expect(state.answers).toEqual({ [s0!.capture.field]: 'knee pain' });

    // A value heard but not trusted (null) is asked again.
    const untrusted = engineStateFor(profile, { [s0!.capture.field]: answer(null) }, 'Bye.');
    expect(untrusted.phase).toEqual({ kind: 'asking', step: 0, failures: 0 });

    const all = Object.fromEntries(profile.protocol.map((s) => [s.capture.field, answer('x')]));
    expect(engineStateFor(profile, all, 'Bye.').phase).toEqual({
      kind: 'done',
      outcome: 'completed',
    });
    expect(remainingSteps(profile.protocol, all)).toEqual([]);
  });

  it('tells the LLM what is answered and what to ask next, without greeting again', () => {
    const [s0, s1] = profile.protocol;
    const text = resumeInstructions(
      profile.protocol,
      { [s0!.capture.field]: answer('knee pain') },
      'Sorry, we were cut off.',
    );
    expect(text).toContain('Do not greet them again');
    expect(text).toContain(`Already answered, do not ask again: ${s0!.capture.field}.`);
    expect(text).toContain(s1!.ask.trim());
    // Field names only: no answer values go into the prompt a second time.
    expect(text).not.toContain('knee pain');
  });
});
