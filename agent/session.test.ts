import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readProfile } from '../prompts/loader.ts';
import { renderProfile, TemplateError, templateValuesFor } from '../prompts/template.ts';
import { readRequest } from '../sessions/intake.ts';
import type { SessionRequest } from '../sessions/schema.ts';
import { closeOutcome, finalOutcome } from './session.ts';

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

describe('finalOutcome', () => {
  it('keeps a completed ending as it is when every required step was answered', () => {
    const done = { state: 'completed' as const, reason: 'protocol_complete' };
    expect(finalOutcome(done, [])).toEqual(done);
  });

  it('never lets an ending with required steps unanswered read as a finished protocol', () => {
    for (const reason of ['end_tool', 'protocol_complete', 'patient_left', 'end_phrase']) {
      expect(finalOutcome({ state: 'completed', reason }, ['painScore', 'newAllergies'])).toEqual({
        state: 'completed',
        reason: 'incomplete',
        endedBy: reason,
        unanswered: ['painScore', 'newAllergies'],
      });
    }
  });

  it('keeps a safety ending as safety, listing what was never asked', () => {
    expect(finalOutcome({ state: 'completed', reason: 'safety' }, ['painScore'])).toEqual({
      state: 'completed',
      reason: 'safety',
      unanswered: ['painScore'],
    });
  });

  it('lists the unanswered fields of a failed or interrupted call without changing its reason', () => {
    expect(finalOutcome({ state: 'interrupted', reason: 'job_shutdown' }, ['painScore'])).toEqual({
      state: 'interrupted',
      reason: 'job_shutdown',
      unanswered: ['painScore'],
    });
  });
});
