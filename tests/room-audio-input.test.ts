/**
 * The agent's own room input (agent/room-audio-input.ts) against the real LiveKit server: frames
 * of the configured size at the configured rate, only the patient's microphone, followed across
 * the patient leaving and coming back, gated by the framework's attach state, ended by close().
 */
import { initializeLogger } from '@livekit/agents';
import { Room, type AudioFrame } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { RoomAudioInput } from '../agent/room-audio-input.ts';
import { createLogger } from '../infra/logger.ts';
import { SimulatedPatient, shutdownRtc } from './support/patient.ts';
import { testConfig, uniqueName } from './support/env.ts';
import { rmsDbfs } from './support/speech.ts';

const { livekit } = testConfig();
const log = createLogger({ level: 'silent', service: 'test' });
// The framework's AudioInput logs through its own logger.
initializeLogger({ pretty: false, level: 'silent' });

interface Heard {
  at: number;
  samples: number;
  sampleRate: number;
  dbfs: number;
}

async function joinAgent(room: string): Promise<Room> {
  const identity = uniqueName('agent');
  const token = new AccessToken(livekit.apiKey, livekit.apiSecret, { identity, ttl: 120 });
  token.addGrant({ room, roomJoin: true, canSubscribe: true, canPublish: true });
  const lkRoom = new Room();
  await lkRoom.connect(livekit.url, await token.toJwt(), { autoSubscribe: true, dynacast: false });
  return lkRoom;
}

/** Reads the input's stream into `heard` until it ends. */
function record(input: RoomAudioInput, heard: Heard[]): Promise<void> {
  return (async () => {
    const reader = input.stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const f: AudioFrame = value;
      heard.push({
        at: performance.now(),
        samples: f.samplesPerChannel,
        sampleRate: f.sampleRate,
        dbfs: rmsDbfs(f.data),
      });
    }
  })();
}

async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const loudSince = (heard: Heard[], t: number) => heard.some((h) => h.at > t && h.dbfs > -45);
const countSince = (heard: Heard[], t: number) => heard.filter((h) => h.at > t).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterAll(async () => {
  await shutdownRtc();
});

describe('the room audio input', () => {
  it("delivers only the patient's microphone, in frames of the configured size, across a rejoin, until closed", async () => {
    const room = uniqueName('input');
    const identity = uniqueName('patient');
    const agentRoom = await joinAgent(room);
    const first = await SimulatedPatient.join({ livekit, room, identity });
    const input = new RoomAudioInput({
      room: agentRoom,
      participantIdentity: identity,
      sampleRate: 16_000,
      frameSizeMs: 40,
      log,
    });
    const heard: Heard[] = [];
    const reading = record(input, heard);
    let intruder: SimulatedPatient | undefined;
    try {
      await until(() => heard.length >= 10, 10_000, 'frames from the patient');
      // 40 ms at 16 kHz, natively resampled from the patient's 48 kHz.
      expect(new Set(heard.map((h) => `${h.samples}@${h.sampleRate}`))).toEqual(
        new Set(['640@16000']),
      );

      // Someone else in the room talking is not heard.
      intruder = await SimulatedPatient.join({ livekit, room, identity: uniqueName('other') });
      await sleep(1000);
      const beforeIntruder = performance.now();
      await intruder.say('hello is anybody there');
      await sleep(300);
      expect(loudSince(heard, beforeIntruder)).toBe(false);

      const beforeSpeech = performance.now();
      await first.say('yes that is fine');
      await until(() => loudSince(heard, beforeSpeech), 5000, "the patient's speech");

      // The patient leaves and comes back with a new microphone track: heard again.
      await first.leave();
      const second = await SimulatedPatient.join({ livekit, room, identity });
      try {
        await sleep(1000);
        const beforeRejoin = performance.now();
        await second.say('my knee has been hurting');
        await until(() => loudSince(heard, beforeRejoin), 5000, 'speech after the rejoin');

        // Detached (the framework's mute), nothing flows; attached again, frames resume.
        input.setAttached(false);
        await sleep(200);
        const detached = performance.now();
        await sleep(500);
        expect(countSince(heard, detached)).toBe(0);
        input.setAttached(true);
        await until(() => countSince(heard, detached) >= 5, 3000, 'frames after attaching');
        expect(heard.every((h) => h.samples === 640 && h.sampleRate === 16_000)).toBe(true);
      } finally {
        await second.leave();
      }

      await input.close();
      await reading; // the stream ends
      const closedAt = performance.now();
      await sleep(200);
      expect(countSince(heard, closedAt)).toBe(0);
    } finally {
      await input.close();
      await intruder?.leave();
      await agentRoom.disconnect();
    }
  });

  it('refuses a session that never read it', () => {
    const input = new RoomAudioInput({
      room: new Room(),
      participantIdentity: 'p',
      sampleRate: 16_000,
      frameSizeMs: 20,
      log,
    });
    expect(() => input.assertAttached()).toThrow(/did not read the audio input/);
    void input.stream;
    expect(() => input.assertAttached()).not.toThrow();
  });
});
