/**
 * The whole path a backend, a patient and a clinician take through the API: a backend creates a
 * session with its API key; the real dispatcher places it and a real agent worker joins; the
 * backend gets a join link; the patient opens it and joins with the token it returns (rtc-node);
 * they talk (the AI vendors are stand-ins); the patient hangs up; a clinician reads the transcript.
 *
 * The patient answers the greeting after it has played, as the other end-to-end tests do. The
 * framework discards input audio during the first 3 s of agent speech (`aecWarmupDuration`, so a
 * client's not-yet-converged echo canceller cannot interrupt the greeting): words spoken over the
 * start of the greeting never reach speech-to-text.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../infra/time.ts';
import { readProfile } from '../prompts/loader.ts';
import { PatientTimeoutError, shutdownRtc, SimulatedPatient } from '../sim/patient.ts';
import type { AgentHarness } from './support/agent-harness.ts';
import type { AgentWorker } from './support/agent-worker.ts';
import { json, type ApiFixture } from './support/api.ts';
import { uniqueName } from './support/env.ts';
import { startFullStack, type FullStack } from './support/full-stack.ts';

/** The framework's participant attribute for the agent's state (not exported by 1.9's index). */
const ATTRIBUTE_AGENT_STATE = 'lk.agent.state';
const intake = await readProfile(fileURLToPath(new URL('../prompts/intake.yaml', import.meta.url)));
const override = {
  firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?',
  // Long enough that the patient's silence while an intruder talks never asks "still there?".
  limits: { ...intake.limits, silenceTimeoutMs: 60_000 },
};
const GREETING = 'agent: Hi Ann, is now a good time?';

interface Joined {
  livekitUrl: string;
  token: string;
  room: string;
  identity: string;
}

describe('the session API, end to end', () => {
  let stack: FullStack;
  let h: AgentHarness;
  let worker: AgentWorker;
  let f: ApiFixture;
  let backend: string;
  const people: SimulatedPatient[] = [];

  beforeAll(async () => {
    stack = await startFullStack([{ file: 'intake.yaml', override }]);
    ({ h, worker, api: f } = stack);
    backend = `ApiKey ${await f.apiKey(['sessions:create', 'sessions:read'])}`;
  });

  afterAll(async () => {
    await Promise.allSettled(people.map((p) => p.leave()));
    await stack?.close();
    await shutdownRtc();
  });

  /** Creates a session as the backend, gets its join link and opens it as the patient's page. */
  async function createAndOpenLink(): Promise<{ sessionId: string; joined: Joined }> {
    const created = await f.fetch('/v1/sessions', {
      ...json({ profile: { id: 'intake' }, patient: { ref: 'pt-0001', displayName: 'Ann' } }),
      auth: backend,
    });
    expect(created.status).toBe(202);
    const { sessionId } = (await created.json()) as { sessionId: string };

    const link = (await (
      await f.fetch(`/v1/sessions/${sessionId}/join-link`, { method: 'POST', auth: backend })
    ).json()) as { path: string };

    // The patient's page retries while the call is being set up, as the problem says to.
    let joined: Joined | undefined;
    for (let i = 0; i < 90 && !joined; i++) {
      const res = await f.fetch(link.path, { method: 'POST' });
      if (res.status === 200) joined = (await res.json()) as Joined;
      else {
        expect(res.status).toBe(409);
        expect(res.headers.get('retry-after')).toBe('2');
        await sleep(1000);
      }
    }
    if (!joined) throw new Error('the session was never placed');
    expect(joined.room).toMatch(new RegExp(`^session-${sessionId}-\\d+$`));
    return { sessionId, joined };
  }

  async function joinWithLink(joined: Joined): Promise<SimulatedPatient> {
    const patient = await SimulatedPatient.join({
      livekit: { ...h.cfg.livekit, url: joined.livekitUrl },
      room: joined.room,
      identity: joined.identity,
      token: joined.token,
    });
    people.push(patient);
    return patient;
  }

  /**
   * Until the agent has finished speaking. A pause in its audio is not enough: on this loaded
   * machine the job's event loop stalls for over a second, leaving gaps mid-sentence, and words
   * said into such a gap in the first 3 s are discarded (see the top of the file). The agent
   * publishes its state as a participant attribute; `listening` means playout is over.
   */
  async function hearOut(patient: SimulatedPatient): Promise<void> {
    await patient.waitForAgentSilence({ timeoutMs: 20_000 });
    const agent = await patient.waitForParticipant('agent-', { timeoutMs: 5000 });
    await h.eventually(
      'the agent to listen',
      async () => (agent.attributes[ATTRIBUTE_AGENT_STATE] === 'listening' ? true : undefined),
      20_000,
    );
  }

  /** The patient answers the greeting (already heard out) and hears the reply out. */
  async function answerGreeting(patient: SimulatedPatient): Promise<void> {
    h.standins.deepgram.hear('yes this is a good time');
    h.standins.openai.reply('Great. What is the main reason for your visit?');
    const u = await patient.say('yes this is a good time');
    await patient.waitForAgentSpeech({ after: u.speechEndedAt, timeoutMs: 20_000 });
    await hearOut(patient);
  }

  async function readSession(sessionId: string): Promise<Record<string, unknown>> {
    const res = await f.fetch(`/v1/sessions/${sessionId}`, { auth: backend });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  }

  /** The patient hangs up; the agent ends the session and flushes the transcript. */
  async function hangUpAndAwaitEnd(
    patient: SimulatedPatient,
    sessionId: string,
  ): Promise<Record<string, unknown>> {
    await patient.leave();
    return h.eventually(
      'the session to end',
      async () => {
        const s = await readSession(sessionId);
        return s.state === 'active' ? undefined : s;
      },
      30_000,
    );
  }

  async function transcript(sessionId: string): Promise<string[]> {
    const clinician = `Bearer ${await f.staffToken(['clinician'])}`;
    const res = await f.fetch(`/v1/sessions/${sessionId}/transcript`, { auth: clinician });
    expect(res.status).toBe(200);
    const t = (await res.json()) as { utterances: { role: string; text: string }[] };
    return t.utterances.map((x) => `${x.role}: ${x.text}`);
  }

  const segmentsHeard = (): number =>
    h.standins.deepgram.connections.reduce((n, c) => n + c.segments.length, 0);

  it('creates, places, joins, talks and reads back the transcript', async () => {
    const { sessionId, joined } = await createAndOpenLink();
    const patient = await joinWithLink(joined);
    await patient.waitForAgentSpeech({ timeoutMs: 30_000 });
    await hearOut(patient);
    await answerGreeting(patient);
    expect(await readSession(sessionId)).toMatchObject({ state: 'active', room: joined.room });

    const ended = await hangUpAndAwaitEnd(patient, sessionId);
    expect(ended).toMatchObject({ state: 'completed', summary: { intruders: 0 } });

    // The backend's key may read the session but never what the patient said.
    expect((await f.fetch(`/v1/sessions/${sessionId}/transcript`, { auth: backend })).status).toBe(
      403,
    );
    expect(await transcript(sessionId)).toEqual([
      GREETING,
      'patient: yes this is a good time',
      'agent: Great. What is the main reason for your visit?',
    ]);
  }, 240_000);

  it('ignores an uninvited participant in the room, before and after the patient joins, and records that one was there', async () => {
    const { sessionId, joined } = await createAndOpenLink();
    // Someone with a token of their own for the room (a leaked key, a misrouted client), in it
    // before the patient: an agent linked to whoever came first would take them for the patient.
    const intruderIdentity = uniqueName('intruder');
    const intruder = await SimulatedPatient.join({
      livekit: h.cfg.livekit,
      room: joined.room,
      identity: intruderIdentity,
    });
    people.push(intruder);
    const heardBefore = segmentsHeard();
    await intruder.say('hello is anyone there');

    const patient = await joinWithLink(joined);
    await patient.waitForAgentSpeech({ timeoutMs: 30_000 });
    await hearOut(patient);
    const spoken = await intruder.say('my chest hurts and I need help now');
    // The agent's VAD lags behind real time on this machine: give a reply time to start.
    await expect(
      patient.waitForAgentSpeech({ after: spoken.speechEndedAt, timeoutMs: 5000 }),
    ).rejects.toBeInstanceOf(PatientTimeoutError);
    // None of the intruder's audio reached speech-to-text.
    expect(segmentsHeard()).toBe(heardBefore);
    await intruder.leave();

    // The patient is heard and answered as in a call of their own.
    await answerGreeting(patient);
    const ended = await hangUpAndAwaitEnd(patient, sessionId);
    expect(ended).toMatchObject({ state: 'completed', summary: { intruders: 1 } });
    expect(ended.escalations ?? []).toEqual([]);
    expect(await transcript(sessionId)).toEqual([
      GREETING,
      'patient: yes this is a good time',
      'agent: Great. What is the main reason for your visit?',
    ]);

    const log = worker.output.join('');
    expect(log).toContain('ignoring a participant who is not the patient');
    expect(log).not.toContain(intruderIdentity);
  }, 240_000);
});
