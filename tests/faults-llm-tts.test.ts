/**
 * Bounded silence when the LLM or the voice fails (issue 15, item 3): the real worker and
 * plugins against the OpenAI and ElevenLabs stand-ins' fault injection, one fault per turn of
 * one call. The LLM chain is the OpenAI stand-in alone (its attempt timeout and retry are
 * what is measured; a hung request gets the holding line); the voice chain is ElevenLabs then
 * OpenAI TTS. Every turn must still be answered with its scripted reply; the silence from the
 * end of the patient's words to the agent's first speech, and the longest gap before the reply
 * finished, are printed per fault.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgentHarness, type StartedSession } from './support/agent-harness.ts';
import { shutdownRtc } from './support/patient.ts';
import { measureSilence } from './support/silence.ts';
import { lastUserText, type ElevenLabsFault, type OpenAIFault } from './support/standins/index.ts';

const short = { firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?' };
const HOLD = 'One moment.';

interface Case {
  name: string;
  openai?: OpenAIFault[];
  elevenlabs?: ElevenLabsFault[];
  /** The reply starts with the holding line. */
  holds?: boolean;
}

describe('LLM and voice faults', () => {
  let h: AgentHarness;
  let call: StartedSession;
  const figures: string[] = [];
  let greetingMs = 0;

  beforeAll(async () => {
    h = await AgentHarness.start({
      profiles: [{ file: 'intake.yaml', override: short }],
      workerEnv: {
        SAFETY_CLASSIFIER: 'false',
        AGENT_PREEMPTIVE_GENERATION: 'false',
        // The production bounds (the harness relaxes them for other tests).
        AGENT_LLM_HOLD_AFTER_MS: '1500',
        AGENT_TTS_FIRST_AUDIO_TIMEOUT_MS: '1000',
      },
    });
    await h.startWorker();
    const t0 = performance.now();
    call = await h.startSession();
    await call.patient.waitForAgentSpeech({ timeoutMs: 30_000 });
    greetingMs = performance.now() - t0;
    await call.patient.waitForAgentSilence({ timeoutMs: 20_000 });
  }, 60_000);

  // Not the ElevenLabs stand-in: its reset forgets the record of the socket the plugin keeps
  // open across turns, and the contexts on it with it. Its faults are used up by count.
  beforeEach(() => {
    h.standins.deepgram.reset();
    h.standins.openai.reset();
  });

  afterAll(async () => {
    console.log(
      `silence per LLM/TTS fault (first speech / longest gap):\n  ${figures.join('\n  ')}`,
    );
    await h?.close();
    await shutdownRtc();
  });

  const cases: Case[] = [
    { name: 'no fault (baseline)' },
    { name: 'LLM 500', openai: [{ kind: 'status', status: 500, endpoint: 'chat' }] },
    { name: 'LLM hangs (timeout)', openai: [{ kind: 'hang', endpoint: 'chat' }], holds: true },
    { name: 'LLM socket dropped', openai: [{ kind: 'drop', endpoint: 'chat', afterChunks: 0 }] },
    { name: 'TTS socket closed', elevenlabs: [{ kind: 'close', afterAudioChunks: 0 }] },
    { name: 'TTS open and silent', elevenlabs: [{ kind: 'silent' }] },
  ];

  for (const [i, c] of cases.entries()) {
    it(`${c.name}: the turn is still answered`, async () => {
      const { patient } = call;
      const said = `this is turn number ${i + 1}`;
      const reply = `Noted turn ${i + 1}, thank you.`;
      for (const f of c.openai ?? []) h.standins.openai.injectFault(f);
      for (const f of c.elevenlabs ?? []) h.standins.elevenlabs.injectFault(f);
      h.standins.deepgram.hear(said);
      // By what was said, not by queue position: a failed attempt must not use the reply up.
      h.standins.openai.configure({
        respond: (req) => (lastUserText(req.messages) === said ? reply : undefined),
      });

      const u = await patient.say(said);
      await patient.waitForAgentSpeech({ after: u.speechEndedAt, timeoutMs: 20_000 });
      const done = await patient.waitForAgentSilence({ silenceMs: 1500, timeoutMs: 25_000 });
      const silence = measureSilence(patient, u.speechEndedAt, done);
      figures.push(
        `${c.name}: ${silence.firstSpeechMs.toFixed(0)} ms / ${silence.longestMs.toFixed(0)} ms`,
      );

      const stored = await h.eventually('the reply stored', async () => {
        const all = await h.utterances.listUtterances(call.request.sessionId);
        return all.some((x) => x.role === 'agent' && x.text.endsWith(reply)) ? all : undefined;
      });
      const last = stored.at(-1)!;
      expect(last.role).toBe('agent');
      expect(last.text).toBe(c.holds ? `${HOLD} ${reply}` : reply);
      expect(stored.at(-2)).toMatchObject({ role: 'patient', text: said });
      // The fault did happen, and the chain moved on: a failed chat request, or the reply
      // spoken by the second voice (the OpenAI stand-in's speech endpoint).
      const failedChat = h.standins.openai.chatRequests.some((r) => r.fault !== null);
      const secondVoice = h.standins.openai.speechRequests.some((r) => r.input.includes(reply));
      expect(failedChat).toBe(c.openai !== undefined);
      expect(secondVoice).toBe(c.elevenlabs !== undefined);
      // ...and the first voice was asked first (it had recovered from the previous fault).
      const firstVoiceAsked = h.standins.elevenlabs.contexts.some((x) => x.text.includes(reply));
      expect(firstVoiceAsked).toBe(true);
      if (c.elevenlabs) {
        const asked = h.standins.elevenlabs.contexts.find((x) => x.text.includes(reply))!;
        const second = h.standins.openai.speechRequests.find((r) => r.input.includes(reply))!;
        figures.push(
          `  ${c.name}: second voice asked ${(second.receivedAtMs - asked.openedAtMs).toFixed(0)} ms after the first got the text`,
        );
      }
      // Loose on purpose (a loaded 2-core box); the figures above are the measurement.
      expect(silence.longestMs).toBeLessThan(8000);
    }, 45_000);
  }

  // The voice's socket stays open across turns, so a refused handshake only happens when a
  // call (or a reconnect) opens one: here, at the greeting of a second call.
  it('TTS 503 when its socket opens: the greeting comes from the second voice', async () => {
    h.standins.elevenlabs.injectFault({ kind: 'status', status: 503, count: 3 });
    const t0 = performance.now();
    const second = await h.startSession();
    await second.patient.waitForAgentSpeech({ timeoutMs: 30_000 });
    const ms = performance.now() - t0;
    figures.push(
      `TTS 503 at connect: greeting after ${ms.toFixed(0)} ms (first call, no fault: ${greetingMs.toFixed(0)} ms)`,
    );
    await second.patient.waitForAgentSilence({ timeoutMs: 20_000 });
    expect(h.standins.elevenlabs.refusals.some((r) => r.status === 503)).toBe(true);
    expect(
      h.standins.openai.speechRequests.some((r) => r.input.includes('is now a good time')),
    ).toBe(true);
    await second.patient.leave();
  }, 45_000);
});
