/**
 * An unsure red flag through the real worker with the embedded engines (pocketsphinx, the
 * dialogue engine, espeak-ng): a red flag heard through the closed yes/no grammar is reported as
 * suspected at once, one confirming question is asked, and the answer decides.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProfile } from '../prompts/loader.ts';
import type { Escalation } from '../sessions/schema.ts';
import { AgentHarness } from './support/agent-harness.ts';
import { shutdownRtc } from './support/patient.ts';

afterAll(async () => {
  await shutdownRtc();
});

describe('confirming an unsure red flag, end to end with local engines', () => {
  let h: AgentHarness;

  beforeAll(async () => {
    const intake = await readProfile(
      fileURLToPath(new URL('../prompts/intake.yaml', import.meta.url)),
    );
    // The yes/no step first: its grammar is what makes the hit unsure.
    const yesNo = intake.protocol.find((s) => s.id === 'medication-changes')!;
    h = await AgentHarness.start({
      workerEnv: { STT_PROVIDERS: 'local', LLM_PROVIDERS: 'local', TTS_PROVIDERS: 'local' },
      profiles: [
        {
          file: 'intake.yaml',
          override: {
            // Not a question, so the first thing asked is the yes/no step.
            firstMessage: 'Hi, this is your care team.',
            protocol: [yesNo, ...intake.protocol.filter((s) => s !== yesNo)],
          },
        },
      ],
    });
    await h.startWorker();
  });

  afterAll(async () => {
    await h?.close();
  });

  async function escalations(sessionId: string, n: number): Promise<Escalation[]> {
    return h.eventually(
      `${n} escalations`,
      async () => {
        const e = (await h.sessions.get(sessionId))?.escalations ?? [];
        return e.length >= n ? e : undefined;
      },
      40_000,
    );
  }

  it('reports a suspicion at once, asks, and acts on a yes', async () => {
    const { request, patient } = await h.startSession();
    await patient.waitForAgentSpeech({ timeoutMs: 30_000 });
    await patient.waitForAgentSilence({ timeoutMs: 30_000, silenceMs: 800 });

    await patient.say('I have chest pain');
    const [suspected] = await escalations(request.sessionId, 1);
    expect(suspected).toMatchObject({ ruleId: 'chest-pain', status: 'suspected' });
    expect(suspected!.id).toMatch(/:chest-pain:suspected$/);
    // The call goes on: the confirming question, not the rule's response.
    await patient.waitForAgentSpeech({ timeoutMs: 15_000 });
    await patient.waitForAgentSilence({ timeoutMs: 30_000, silenceMs: 800 });

    await patient.say('yes');
    const session = await h.eventually(
      'session ended by the confirmed rule',
      async () => {
        const s = await h.sessions.get(request.sessionId);
        return s?.state === 'completed' ? s : undefined;
      },
      60_000,
    );
    expect(session.endReason).toBe('safety');
    expect(session.escalations?.map((e) => [e.ruleId, e.status])).toEqual([
      ['chest-pain', 'suspected'],
      ['chest-pain', 'confirmed'],
    ]);
    const rule = h.profile.safety.find((r) => r.id === 'chest-pain')!;
    const agentSaid = (await h.utterances.listUtterances(request.sessionId))
      .filter((u) => u.role === 'agent')
      .map((u) => u.text);
    expect(agentSaid.some((t) => t.includes('I want to be sure I heard you'))).toBe(true);
    expect(agentSaid[agentSaid.length - 1]).toBe(rule.response);
  });

  it('records a clear no as denied and goes on with the protocol', async () => {
    const { request, patient } = await h.startSession();
    await patient.waitForAgentSpeech({ timeoutMs: 30_000 });
    await patient.waitForAgentSilence({ timeoutMs: 30_000, silenceMs: 800 });

    await patient.say('I have chest pain');
    await escalations(request.sessionId, 1);
    await patient.waitForAgentSpeech({ timeoutMs: 15_000 });
    await patient.waitForAgentSilence({ timeoutMs: 30_000, silenceMs: 800 });

    const u = await patient.say('no');
    const all = await escalations(request.sessionId, 2);
    expect(all.map((e) => [e.ruleId, e.status])).toEqual([
      ['chest-pain', 'suspected'],
      ['chest-pain', 'denied'],
    ]);
    // The agent speaks again (the thanks, then the question again) and the call stays open.
    await patient.waitForAgentSpeech({ after: u.speechEndedAt, timeoutMs: 15_000 });
    await patient.waitForAgentSilence({ timeoutMs: 30_000, silenceMs: 800 });
    const s = await h.sessions.get(request.sessionId);
    expect(s?.state).toBe('active');
    const agentSaid = (await h.utterances.listUtterances(request.sessionId))
      .filter((x) => x.role === 'agent')
      .map((x) => x.text);
    expect(agentSaid.join(' ')).toContain('Let us carry on');
    expect(agentSaid[agentSaid.length - 1]).toContain('medicines');
    await patient.leave();
  });
});
