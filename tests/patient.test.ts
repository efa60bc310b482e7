/**
 * The simulated patient against the real local LiveKit server. The agent is played by a second
 * SimulatedPatient named `agent-…` that listens to the patient, or by a bare rtc-node
 * participant where the test needs to send what the agent framework sends.
 */
import { Room } from '@livekit/rtc-node';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  PatientClosedError,
  PatientTimeoutError,
  SimulatedPatient,
  TOPIC_AGENT_SESSION,
  TOPIC_TRANSCRIPTION,
  shutdownRtc,
  toEpochMs,
} from '../sim/patient.ts';
import { testConfig, uniqueName } from './support/env.ts';
import { concatPcm, durationMs, rmsDbfs, silence, tone } from '../sim/speech.ts';

const { livekit } = testConfig();
const roomService = new RoomServiceClient(
  livekit.url.replace(/^ws/, 'http'),
  livekit.apiKey,
  livekit.apiSecret,
);

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
afterAll(async () => {
  await shutdownRtc();
});

/** A fresh room, deleted after the test. */
function newRoom(): string {
  const room = uniqueName('patient');
  cleanup.push(() => roomService.deleteRoom(room).catch(() => {}));
  return room;
}

async function join(room: string, init: Partial<Parameters<typeof SimulatedPatient.join>[0]> = {}) {
  const patient = await SimulatedPatient.join({ livekit, room, ...init });
  cleanup.push(() => patient.leave());
  return patient;
}

/** A patient plus a stand-in agent (another SimulatedPatient that listens to the patient). */
async function patientAndAgent(patientInit: Parameters<typeof join>[1] = {}) {
  const room = newRoom();
  const patient = await join(room, patientInit);
  const agent = await join(room, {
    identity: uniqueName('agent'),
    agentIdentityPrefix: patient.identity,
  });
  await patient.waitForParticipant(agent.identity, { timeoutMs: 5000 });
  return { room, patient, agent };
}

describe('SimulatedPatient', () => {
  it('speaks at real-time pace and dates the end of speech inside the clip', async () => {
    const patient = await join(newRoom());
    const clip = concatPcm(silence(200), tone({ durationMs: 600 }), silence(400));

    const calledAt = performance.now();
    const u = await patient.say(clip, { trailingSilenceMs: 200 });
    const returnedAt = performance.now();

    expect(u.aborted).toBe(false);
    expect(u.durationMs).toBe(1200);
    // Paced by the source queue: say() returns only when all but the queued tail has been sent,
    // so the clip and its trailing silence take real time.
    expect(returnedAt - calledAt).toBeGreaterThan(1400 - patient.options.sourceQueueMs - 20);
    expect(u.endedAt - u.startedAt).toBeGreaterThan(1300);
    expect(u.endedAt - u.startedAt).toBeLessThan(1600);
    // The last speech frame ends 800 ms into the clip; the 400 ms of silence after it is not speech.
    expect(u.speechEndedAt - u.startedAt).toBeGreaterThan(760);
    expect(u.speechEndedAt - u.startedAt).toBeLessThan(860);
    expect(u.speechEndedAtEpochMs).toBeCloseTo(toEpochMs(u.speechEndedAt), 6);
    expect(Math.abs(u.endedAtEpochMs - Date.now())).toBeLessThan(1000);
  });

  it('plays utterances in call order, one after another, even while the first is synthesised', async () => {
    const patient = await join(newRoom());
    // The text needs espeak-ng (or at least a cache read); the tone is ready at once.
    const [first, second] = await Promise.all([
      patient.say('Good morning.', { trailingSilenceMs: 100 }),
      patient.say(tone({ durationMs: 300 }), { trailingSilenceMs: 100 }),
    ]);
    expect(second.startedAt).toBeGreaterThanOrEqual(first.endedAt - 15);
  });

  it('rejects audio at the wrong sample rate without breaking the microphone', async () => {
    const patient = await join(newRoom());
    await expect(patient.say(tone({ durationMs: 100, sampleRate: 16_000 }))).rejects.toBeInstanceOf(
      RangeError,
    );
    const u = await patient.say(tone({ durationMs: 100 }));
    expect(u.durationMs).toBe(100);
  });

  it('stops an utterance part-way when its signal aborts', async () => {
    const patient = await join(newRoom());
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 300);
    const u = await patient.say(tone({ durationMs: 3000 }), { signal: ac.signal });
    clearTimeout(timer);
    expect(u.aborted).toBe(true);
    expect(u.durationMs).toBeGreaterThan(100);
    expect(u.durationMs).toBeLessThan(1000);
  });

  it("records the agent's audio and splits it into speech segments", async () => {
    const { patient, agent } = await patientAndAgent();
    const clip = concatPcm(tone({ durationMs: 500 }), silence(900), tone({ durationMs: 500 }));

    const before = performance.now();
    const speaking = agent.say(clip);
    const onset = await patient.waitForAgentSpeech({ after: before, timeoutMs: 5000 });
    const u = await speaking;
    const silentSince = await patient.waitForAgentSilence({ after: u.speechEndedAt });

    console.log(
      `agent first sample sent → first speech frame at the patient: ${(onset.at - u.startedAt).toFixed(0)} ms`,
    );
    expect(onset.participantIdentity).toBe(agent.identity);
    expect(onset.at).toBeGreaterThan(u.startedAt);
    expect(onset.at - u.startedAt).toBeLessThan(1000);

    const segments = patient.agentSpeech;
    expect(segments).toHaveLength(2);
    const [one, two] = segments as [(typeof segments)[0], (typeof segments)[0]];
    expect(one.startedAt).toBe(onset.at);
    expect(one.endedAt! - one.startedAt).toBeGreaterThan(400);
    expect(one.endedAt! - one.startedAt).toBeLessThan(600);
    expect(two.startedAt - one.endedAt!).toBeGreaterThan(800);
    expect(two.startedAt - one.endedAt!).toBeLessThan(1100);
    expect(two.endedAt).toBe(silentSince);

    // Waiting after the first segment finds the second, even though it has already arrived.
    const next = await patient.waitForAgentSpeech({ after: one.endedAt! + 1, timeoutMs: 100 });
    expect(next.at).toBe(two.startedAt);

    const audio = patient.agentAudio();
    expect(audio.sampleRate).toBe(24_000);
    expect(durationMs(audio)).toBeGreaterThan(1500);
    expect(rmsDbfs(audio.samples)).toBeGreaterThan(-30);
  });

  it('can speak while the agent is speaking (barge-in), and the agent hears it', async () => {
    const { patient, agent } = await patientAndAgent();
    const agentSpeaking = agent.say(tone({ durationMs: 2500, frequencyHz: 300 }));
    await patient.waitForAgentSpeech({ timeoutMs: 5000 });

    const interruption = await patient.say(tone({ durationMs: 500, frequencyHz: 800 }));
    const agentUtterance = await agentSpeaking;

    // The patient's words were sent, and reached the agent, while the agent was still talking.
    expect(interruption.speechEndedAt).toBeLessThan(agentUtterance.speechEndedAt);
    const heard = await agent.waitForAgentSpeech({
      after: interruption.startedAt,
      timeoutMs: 5000,
    });
    expect(heard.at).toBeLessThan(agentUtterance.speechEndedAt);
  });

  it('records the transcription streams the agent sends and drains its session messages', async () => {
    const room = newRoom();
    const patient = await join(room);
    const agentIdentity = uniqueName('agent');
    const token = new AccessToken(livekit.apiKey, livekit.apiSecret, {
      identity: agentIdentity,
      ttl: 60,
    });
    token.addGrant({ room, roomJoin: true, canPublish: true, canPublishData: true });
    const agentRoom = new Room();
    await agentRoom.connect(livekit.url, await token.toJwt(), {
      autoSubscribe: false,
      dynacast: false,
    });
    cleanup.push(() => agentRoom.disconnect());
    await patient.waitForParticipant(agentIdentity, { timeoutMs: 5000 });
    const local = agentRoom.localParticipant!;

    // As the agent framework does: the agent's reply as a delta stream, the patient's turn as a
    // whole-text stream naming the patient's track, and a session message as bytes.
    const reply = await local.streamText({
      topic: TOPIC_TRANSCRIPTION,
      attributes: { 'lk.segment_id': 'SG_reply', 'lk.transcription_final': 'false' },
    });
    await reply.write('How are you ');
    await reply.write('feeling today?');
    await reply.close();
    await local.sendText('I feel dizzy', {
      topic: TOPIC_TRANSCRIPTION,
      attributes: {
        'lk.segment_id': 'SG_user',
        'lk.transcription_final': 'true',
        'lk.transcribed_track_id': patient.trackSid!,
      },
    });
    const session = await local.streamBytes({ topic: TOPIC_AGENT_SESSION, name: 'AS_test' });
    await session.write(new Uint8Array([1, 2, 3]));
    await session.close();

    const agentLine = await patient.waitForTranscription((r) => r.role === 'agent', {
      timeoutMs: 5000,
    });
    const patientLine = await patient.waitForTranscription((r) => r.role === 'patient', {
      timeoutMs: 5000,
    });
    expect(agentLine).toMatchObject({
      participantIdentity: agentIdentity,
      segmentId: 'SG_reply',
      final: false,
      text: 'How are you feeling today?',
    });
    expect(patientLine).toMatchObject({ segmentId: 'SG_user', final: true, text: 'I feel dizzy' });
    const deadline = performance.now() + 5000;
    while (patient.agentSessionStreams === 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(patient.agentSessionStreams).toBe(1);
    expect(patient.backgroundErrors).toEqual([]);
  });

  it('with an open mic, still speaks at real time and is heard', async () => {
    const { patient, agent } = await patientAndAgent({ openMic: true });
    await new Promise((r) => setTimeout(r, 300)); // let the open mic run on its own first

    const u = await patient.say(concatPcm(tone({ durationMs: 400 }), silence(200)));
    expect(u.speechEndedAt - u.startedAt).toBeGreaterThan(370);
    expect(u.speechEndedAt - u.startedAt).toBeLessThan(450);
    const heard = await agent.waitForAgentSpeech({ after: u.startedAt, timeoutMs: 5000 });
    expect(heard.at - u.startedAt).toBeLessThan(1000);
  });

  it('gives up waiting with a typed timeout error', async () => {
    const patient = await join(newRoom());
    const started = performance.now();
    await expect(patient.waitForAgentSpeech({ timeoutMs: 300 })).rejects.toBeInstanceOf(
      PatientTimeoutError,
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(295);
    await expect(patient.waitForParticipant('nobody-', { timeoutMs: 100 })).rejects.toBeInstanceOf(
      PatientTimeoutError,
    );
  });

  it('leaves cleanly: the server drops it, waits and new utterances reject', async () => {
    const room = newRoom();
    const patient = await join(room);
    const other = await join(room);
    await other.waitForParticipant(patient.identity, { timeoutMs: 5000 });

    // Expectations are attached before leave(), so the rejection it causes is always handled.
    const waitRejects = expect(patient.waitForAgentSpeech({ timeoutMs: 10_000 })).rejects;
    const waitFails = waitRejects.toBeInstanceOf(PatientClosedError);
    const speaking = patient.say(tone({ durationMs: 3000 }));
    await new Promise((r) => setTimeout(r, 200));
    await patient.leave();

    await waitFails;
    expect((await speaking).aborted).toBe(true);
    await expect(patient.say(tone({ durationMs: 100 }))).rejects.toBeInstanceOf(PatientClosedError);
    await patient.leave(); // idempotent

    const deadline = performance.now() + 5000;
    let identities: string[] = [];
    do {
      identities = (await roomService.listParticipants(room)).map((p) => p.identity);
    } while (identities.includes(patient.identity) && performance.now() < deadline);
    expect(identities).toEqual([other.identity]);
  });
});
