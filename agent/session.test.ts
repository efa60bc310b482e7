import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readProfile } from '../prompts/loader.ts';
import { renderProfile, TemplateError, templateValuesFor } from '../prompts/template.ts';
import { checkAnswer } from './agent.ts';
import { readRequest } from '../sessions/intake.ts';
import type { SessionRequest } from '../sessions/schema.ts';
import { closeOutcome } from './session.ts';

const intakePath = fileURLToPath(new URL('../prompts/intake.yaml', import.meta.url));
const request = {
  sessionId: 'sess-1',
  profile: { id: 'intake' },
  patient: { ref: 'pt-123', displayName: 'Ann' },
  requestedAt: '2026-11-22T10:00:00Z',
};

/** The request as the agent reads it from its job metadata. */
function requestFromMetadata(metadata: string): SessionRequest {
  const intake = readRequest(metadata);
  if (!intake.ok) throw new Error(`not a request: ${intake.rejection.code}`);
  return intake.request;
}

describe('rendering a profile for a session request', () => {
  it('fills the patient variables into the spoken text', async () => {
    const profile = await readProfile(intakePath);
    const rendered = renderProfile(
      profile,
      templateValuesFor(requestFromMetadata(JSON.stringify(request)).patient),
    );
    expect(rendered.firstMessage).toMatch(/^Hi Ann,/);
    expect(rendered.instructions).toContain('You are speaking with Ann.');
    expect(rendered.firstMessage).not.toContain('{{');
  });

  it('uses the fallback when the display name is not given', async () => {
    const profile = await readProfile(intakePath);
    const anonymous = { ...request, patient: { ref: 'pt-123' } };
    const rendered = renderProfile(
      profile,
      templateValuesFor(requestFromMetadata(JSON.stringify(anonymous)).patient),
    );
    expect(rendered.firstMessage).toMatch(/^Hi there,/);
  });

  it('refuses to render a variable with no value and no fallback', async () => {
    const profile = await readProfile(intakePath);
    const strict = { ...profile, firstMessage: 'Hello {{patient.displayName}}.' };
    const anonymous = requestFromMetadata(JSON.stringify({ ...request, patient: { ref: 'pt-1' } }));
    expect(() => renderProfile(strict, templateValuesFor(anonymous.patient))).toThrow(
      TemplateError,
    );
  });
});

describe('checkAnswer', () => {
  const step = (capture: object) =>
    ({ id: 's', ask: 'q', intent: 'i', capture }) as Parameters<typeof checkAnswer>[0];

  it('accepts values of the captured type and rejects the rest', () => {
    expect(checkAnswer(step({ field: 'f', type: 'yesno' }), true)).toBeNull();
    expect(checkAnswer(step({ field: 'f', type: 'yesno' }), 'yes')).toMatch(/true for yes/);
    expect(checkAnswer(step({ field: 'f', type: 'number', min: 0, max: 10 }), 7)).toBeNull();
    expect(checkAnswer(step({ field: 'f', type: 'number', min: 0, max: 10 }), 11)).toMatch(
      /at most 10/,
    );
    expect(
      checkAnswer(step({ field: 'f', type: 'choice', choices: ['Daily', 'Weekly'] }), 'daily'),
    ).toBeNull();
    expect(
      checkAnswer(step({ field: 'f', type: 'choice', choices: ['Daily', 'Weekly'] }), 'never'),
    ).toMatch(/one of/);
    expect(checkAnswer(step({ field: 'f', type: 'date' }), '2026-11-30')).toBeNull();
    expect(checkAnswer(step({ field: 'f', type: 'date' }), 'soon')).toMatch(/YYYY-MM-DD/);
    expect(checkAnswer(step({ field: 'f', type: 'text' }), '  ')).toMatch(/some text/);
  });
});

describe('closeOutcome', () => {
  it('completes the call when the patient leaves', () => {
    expect(closeOutcome({ reason: 'participant_disconnected', error: null }, undefined)).toEqual({
      state: 'completed',
      reason: 'patient_left',
    });
  });

  it('keeps the reason of an ending the conversation asked for', () => {
    const requested = { state: 'completed' as const, reason: 'end_phrase' };
    expect(closeOutcome({ reason: 'user_initiated', error: null }, requested)).toBe(requested);
  });

  it('marks a session the framework closed under us (drain, job shutdown) as interrupted', () => {
    expect(closeOutcome({ reason: 'user_initiated', error: null }, undefined)).toEqual({
      state: 'interrupted',
      reason: 'job_shutdown',
    });
  });

  it('fails the session on a pipeline error, naming its source', () => {
    expect(closeOutcome({ reason: 'error', error: { type: 'tts_error' } }, undefined)).toEqual({
      state: 'failed',
      code: 'pipeline_error',
      reason: 'tts_error',
    });
  });
});
