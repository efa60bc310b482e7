/**
 * Resumed jobs continue (issue 15, item 2). A worker is SIGKILLed in the middle of a call; the
 * job LiveKit gives to another worker finds the session `active` and continues it: the
 * transcript numbers on after the stored utterances (nothing dropped as a "duplicate"), the
 * captured answer is kept, the LLM gets the conversation so far and is told what is left, and
 * the patient hears the resume line instead of the greeting.
 */
import { AgentDispatchClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastUserText } from './support/standins/index.ts';
import { AgentHarness } from './support/agent-harness.ts';
import { shutdownRtc } from './support/patient.ts';

const GREETING = 'Hi Ann, is now a good time?';
const short = { firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?' };
const RESUME = 'Sorry, we were cut off.';
const NEXT = 'Have any of your medicines changed?';
/**
 * livekit-server 1.13.5 (--dev) did not re-offer the killed worker's job within 20 s in our
 * runs; the test then dispatches it again itself, which is the same job to the agent.
 */
const REOFFER_WAIT_MS = 8000;

describe('a job resumed after its worker died', () => {
  let h: AgentHarness;

  beforeAll(async () => {
    h = await AgentHarness.start({
      profiles: [{ file: 'intake.yaml', override: short }],
      workerEnv: { SAFETY_CLASSIFIER: 'false', AGENT_PREEMPTIVE_GENERATION: 'false' },
    });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    await shutdownRtc();
  });

  it('continues seq, answers and protocol, and says it was cut off instead of greeting again', async () => {
    const first = await h.startWorker();
    const { request, room, patient } = await h.startSession();
    await patient.waitForAgentSpeech({ timeoutMs: 30_000 });
    // The job is placed: a second worker now can only take it over (it starts meanwhile).
    const starting = h.startWorker();
    await patient.waitForAgentSilence({ timeoutMs: 20_000 });

    // One answered step: the LLM records it through its tool, then moves on.
    const SAID = 'my knee hurts when I walk';
    h.standins.openai.configure({
      respond: (req) => {
        const last = req.messages.at(-1);
        const all = JSON.stringify(req.messages);
        if (all.includes('cut off by a technical fault')) return NEXT;
        if (lastUserText(req.messages) !== SAID) return undefined;
        if (last?.role === 'tool') return 'Thanks. And how long has it hurt?';
        return {
          toolCalls: [
            { name: 'record_answer', arguments: { field: 'visitReason', value: 'knee pain' } },
          ],
        };
      },
    });
    h.standins.deepgram.hear(SAID);
    const u = await patient.say(SAID);
    await patient.waitForAgentSpeech({ after: u.speechEndedAt, timeoutMs: 15_000 });
    await patient.waitForAgentSilence({ timeoutMs: 20_000 });
    const before = await h.eventually('the first job’s transcript and answer', async () => {
      const [stored, s] = await Promise.all([
        h.utterances.listUtterances(request.sessionId),
        h.sessions.get(request.sessionId),
      ]);
      return stored.length >= 3 && s?.answers?.['visitReason'] ? stored : undefined;
    });
    expect(before.map((x) => x.seq)).toEqual([0, 1, 2]);

    // The worker dies with the call in progress; another takes the job.
    const second = await starting;
    first.killHard();
    await first.exited;
    const heardAfter = performance.now();
    const reoffered = await patient
      .waitForAgentSpeech({ after: heardAfter, timeoutMs: REOFFER_WAIT_MS })
      .catch(() => undefined);
    if (!reoffered) {
      // This LiveKit did not re-offer the job: dispatch it again, as LiveKit would.
      const dispatch = new AgentDispatchClient(
        h.cfg.livekit.url.replace(/^ws/, 'http'),
        h.cfg.livekit.apiKey,
        h.cfg.livekit.apiSecret,
      );
      await dispatch.createDispatch(room, h.agentName, { metadata: JSON.stringify(request) });
      await patient.waitForAgentSpeech({ after: heardAfter, timeoutMs: 30_000 });
    }
    console.log(`job re-offered by LiveKit: ${reoffered ? 'yes' : 'no (dispatched again)'}`);
    await patient.waitForAgentSilence({ silenceMs: 1500, timeoutMs: 20_000 });

    const stored = await h.eventually('the resumed job’s utterances', async () => {
      const all = await h.utterances.listUtterances(request.sessionId);
      return all.some((x) => x.text === NEXT) ? all : undefined;
    });
    expect(stored.map((x) => [x.seq, x.role, x.text])).toEqual([
      [0, 'agent', GREETING],
      [1, 'patient', SAID],
      [2, 'agent', 'Thanks. And how long has it hurt?'],
      [3, 'agent', RESUME],
      [4, 'agent', NEXT],
    ]);
    // The resumed LLM saw the conversation so far.
    const resumedRequest = h.standins.openai.chatRequests.find((r) =>
      JSON.stringify(r.messages).includes('cut off by a technical fault'),
    );
    expect(JSON.stringify(resumedRequest?.messages)).toContain(SAID);
    expect(JSON.stringify(resumedRequest?.messages)).toContain('visitReason');

    await patient.leave();
    const session = await h.eventually('session completed', async () => {
      const s = await h.sessions.get(request.sessionId);
      return s?.state === 'completed' ? s : undefined;
    });
    expect(session.answers?.['visitReason']?.value).toBe('knee pain');
    expect(session.unanswered ?? []).not.toContain('visitReason');
    await second.stop(5000);
  }, 85_000);
});
