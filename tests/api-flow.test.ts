/**
 * The whole path a backend, a patient and a clinician take through the API: a backend creates a
 * session with its API key; the real dispatcher places it and a real agent worker joins; the
 * backend gets a join link; the patient opens it and joins with the token it returns (rtc-node);
 * they talk (the AI vendors are stand-ins); the patient hangs up; a clinician reads the transcript.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDispatcher, type RunningDispatcher } from '../dispatcher/index.ts';
import { AgentHarness } from './support/agent-harness.ts';
import { json, startApi, type ApiFixture } from './support/api.ts';
import { testConfig, uniqueName } from './support/env.ts';
import { shutdownRtc, SimulatedPatient } from './support/patient.ts';

const short = { firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?' };

describe('the session API, end to end', () => {
  let h: AgentHarness;
  let dispatcher: RunningDispatcher;
  let f: ApiFixture;
  let patient: SimulatedPatient | undefined;

  beforeAll(async () => {
    h = await AgentHarness.start({
      profiles: [{ file: 'intake.yaml', override: short }],
      // This machine is shared: importing a job process has taken 20-30 s under load here.
      workerEnv: { AGENT_INITIALIZE_TIMEOUT_MS: '90000' },
    });
    const shared = {
      ...h.env,
      AGENT_NAME: h.agentName,
      PUBSUB_REQUESTS_TOPIC: uniqueName('requests'),
      PUBSUB_REQUESTS_SUBSCRIPTION: uniqueName('requests-sub'),
      PUBSUB_DEAD_LETTER_TOPIC: uniqueName('dead'),
      DISPATCHER_HTTP_PORT: '0',
      // A cold worker on a busy 2-core machine can take a while to take its first job.
      DISPATCHER_JOIN_TIMEOUT_MS: '120000',
    };
    await h.startWorker();
    dispatcher = await runDispatcher(testConfig(shared), { processMetrics: false });
    f = await startApi(shared);
  });

  afterAll(async () => {
    await patient?.leave().catch(() => undefined);
    await f?.stop();
    await dispatcher?.stop();
    await h?.close();
    await shutdownRtc();
  });

  it('creates, places, joins, talks and reads back the transcript', async () => {
    const backend = `ApiKey ${await f.apiKey(['sessions:create', 'sessions:read'])}`;
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
    let joined: { livekitUrl: string; token: string; room: string; identity: string } | undefined;
    for (let i = 0; i < 90 && !joined; i++) {
      const res = await f.fetch(link.path, { method: 'POST' });
      if (res.status === 200) joined = (await res.json()) as typeof joined;
      else {
        expect(res.status).toBe(409);
        expect(res.headers.get('retry-after')).toBe('2');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    if (!joined) throw new Error('the session was never placed');
    expect(joined.room).toMatch(new RegExp(`^session-${sessionId}-\\d+$`));

    patient = await SimulatedPatient.join({
      livekit: { ...h.cfg.livekit, url: joined.livekitUrl },
      room: joined.room,
      identity: joined.identity,
      token: joined.token,
    });
    await patient.waitForAgentSpeech({ timeoutMs: 30_000 });
    h.standins.deepgram.hear('yes this is a good time');
    h.standins.openai.reply('Great. What is the main reason for your visit?');
    const u = await patient.say('yes this is a good time');
    await patient.waitForAgentSpeech({ after: u.speechEndedAt, timeoutMs: 20_000 });

    await patient.waitForAgentSilence({ timeoutMs: 20_000 });
    const live = (await (await f.fetch(`/v1/sessions/${sessionId}`, { auth: backend })).json()) as {
      state: string;
      room: string;
    };
    expect(live).toMatchObject({ state: 'active', room: joined.room });

    // The patient hangs up; the agent ends the session and flushes the transcript.
    await patient.leave();
    let state = 'active';
    for (let i = 0; i < 60 && state === 'active'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const s = (await (await f.fetch(`/v1/sessions/${sessionId}`, { auth: backend })).json()) as {
        state: string;
      };
      state = s.state;
    }
    expect(state).toBe('completed');

    const clinician = `Bearer ${await f.staffToken(['clinician'])}`;
    // The backend's key may read the session but never what the patient said.
    expect((await f.fetch(`/v1/sessions/${sessionId}/transcript`, { auth: backend })).status).toBe(
      403,
    );
    const t = (await (
      await f.fetch(`/v1/sessions/${sessionId}/transcript`, { auth: clinician })
    ).json()) as { utterances: { role: string; text: string }[] };
    expect(t.utterances.map((x) => `${x.role}: ${x.text}`)).toEqual([
      'agent: Hi Ann, is now a good time?',
      'patient: yes this is a good time',
      'agent: Great. What is the main reason for your visit?',
    ]);
  }, 240_000);
});
