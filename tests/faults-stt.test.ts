/**
 * Bounded silence when the recogniser fails (issue 15, item 3): the real worker and plugins
 * against the Deepgram stand-in's fault injection. A socket dropped without a close frame (which
 * the plugin does not notice), a socket that stays open and says nothing, and a reconnect that
 * the vendor first refuses with a 5xx. In each, the patient's words go unheard; the watchdog
 * must reconnect and ask again, and the repeated answer must get its reply. Prints the silence
 * the patient heard from the end of their words to the agent's next speech.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgentHarness, type StartedSession } from './support/agent-harness.ts';
import { shutdownRtc } from './support/patient.ts';
import { measureSilence } from './support/silence.ts';
import type { DeepgramFault } from './support/standins/index.ts';

const REPROMPT = "Sorry, I didn't catch that. Could you say it again?";
const short = { firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?' };

describe('recogniser faults', () => {
  let h: AgentHarness;
  let call: StartedSession;
  const figures: string[] = [];

  beforeAll(async () => {
    h = await AgentHarness.start({
      profiles: [{ file: 'intake.yaml', override: short }],
      workerEnv: { SAFETY_CLASSIFIER: 'false', AGENT_STT_WATCHDOG_MS: '1200' },
    });
    await h.startWorker();
    call = await h.startSession();
    await call.patient.waitForAgentSpeech({ timeoutMs: 30_000 });
    await call.patient.waitForAgentSilence({ timeoutMs: 20_000 });
  }, 60_000);

  beforeEach(() => h.standins.reset());

  afterAll(async () => {
    console.log(`longest silence per recogniser fault:\n  ${figures.join('\n  ')}`);
    await h?.close();
    await shutdownRtc();
  });

  const cases: { name: string; faults: DeepgramFault[] }[] = [
    { name: 'socket dropped (no close frame)', faults: [{ kind: 'drop' }] },
    { name: 'socket open and silent', faults: [{ kind: 'silent' }] },
    {
      name: 'socket dropped, then the reconnect refused with 503',
      faults: [{ kind: 'drop' }, { kind: 'reject', status: 503 }],
    },
  ];

  for (const [i, c] of cases.entries()) {
    it(`${c.name}: reconnects, asks again, and answers the repeat`, async () => {
      const { patient } = call;
      const said = `my answer number ${i + 1}`;
      const reply = `Thank you for answer ${i + 1}.`;
      for (const f of c.faults) h.standins.deepgram.injectFault(f);
      h.standins.deepgram.hear(said);

      const lost = await patient.say(said);
      const reprompt = await patient.waitForAgentSpeech({
        after: lost.speechEndedAt,
        timeoutMs: 15_000,
      });
      const repromptDone = await patient.waitForAgentSilence({ timeoutMs: 15_000 });
      const silence = measureSilence(patient, lost.speechEndedAt, reprompt.at);
      figures.push(`${c.name}: ${silence.firstSpeechMs.toFixed(0)} ms to the agent asking again`);

      // A connection opened since the fault (the records were reset before it) carries the
      // repeat: the call's first one was replaced.
      expect(h.standins.deepgram.connections.length).toBeGreaterThanOrEqual(1);
      h.standins.deepgram.hear(said);
      h.standins.openai.reply(reply);
      const again = await patient.say(said, {});
      const answered = await patient.waitForAgentSpeech({
        after: Math.max(again.speechEndedAt, repromptDone),
        timeoutMs: 15_000,
      });
      await patient.waitForAgentSilence({ timeoutMs: 15_000 });
      expect(answered.at - again.speechEndedAt).toBeLessThan(8000);
      expect(silence.firstSpeechMs).toBeLessThan(8000);

      const stored = await h.eventually('reprompt and reply stored', async () => {
        const all = await h.utterances.listUtterances(call.request.sessionId);
        return all.some((u) => u.text === reply) ? all : undefined;
      });
      const tail = stored.slice(-3).map((u) => [u.role, u.text]);
      expect(tail).toEqual([
        ['agent', REPROMPT],
        ['patient', said],
        ['agent', reply],
      ]);
    }, 45_000);
  }
});
