/**
 * Proves the LiveKit side of the test infrastructure is real: a server-created room, a
 * simulated patient publishing through WebRTC, and a plain rtc-node participant receiving the
 * decoded audio with its energy intact.
 */
import { AudioStream, Room, RoomEvent, TrackKind } from '@livekit/rtc-node';
import type { RemoteParticipant, RemoteTrack } from '@livekit/rtc-node';
import { AccessToken, RoomServiceClient, TrackSource, TrackType } from 'livekit-server-sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulatedPatient, shutdownRtc } from './support/patient.ts';
import { testConfig, uniqueName } from './support/env.ts';
import { durationMs, rmsDbfs, speechBounds, synthesize, tone } from './support/speech.ts';

const { livekit } = testConfig();
const roomService = new RoomServiceClient(
  livekit.url.replace(/^ws/, 'http'),
  livekit.apiKey,
  livekit.apiSecret,
);

interface ReceivedFrame {
  at: number;
  dbfs: number;
  samples: number;
}

/** A bare rtc-node participant that records every audio frame it is sent, with arrival times. */
async function joinListener(room: string) {
  const identity = uniqueName('listener');
  const token = new AccessToken(livekit.apiKey, livekit.apiSecret, { identity, ttl: 120 });
  token.addGrant({ room, roomJoin: true, canSubscribe: true, canPublish: false });
  const lkRoom = new Room();
  const frames: ReceivedFrame[] = [];
  const reading: Promise<void>[] = [];
  lkRoom.on(RoomEvent.TrackSubscribed, (track: RemoteTrack, _pub, _p: RemoteParticipant) => {
    if (track.kind !== TrackKind.KIND_AUDIO) return;
    const stream = new AudioStream(track, { sampleRate: 48_000, numChannels: 1 });
    reading.push(
      (async () => {
        for await (const frame of stream) {
          frames.push({
            at: performance.now(),
            dbfs: rmsDbfs(frame.data),
            samples: frame.samplesPerChannel,
          });
        }
      })(),
    );
  });
  await lkRoom.connect(livekit.url, await token.toJwt(), { autoSubscribe: true, dynacast: false });
  return {
    identity,
    frames,
    async leave() {
      await lkRoom.disconnect();
      await Promise.all(reading);
    },
  };
}

/** Resolves once `pred` holds, checking every 10 ms, or rejects after `timeoutMs`. */
async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function withRoom(test: (room: string) => Promise<void>): Promise<void> {
  const room = uniqueName('infra');
  await roomService.createRoom({ name: room, emptyTimeout: 30 });
  try {
    await test(room);
  } finally {
    await roomService.deleteRoom(room);
  }
}

afterAll(async () => {
  await shutdownRtc();
});

describe('LiveKit infrastructure (the real local server)', () => {
  it('creates a room, lists it with both participants and their tracks, and deletes it', async () => {
    let room = '';
    await withRoom(async (name) => {
      room = name;
      const patient = await SimulatedPatient.join({ livekit, room });
      const listener = await joinListener(room);
      try {
        const [listed] = await roomService.listRooms([room]);
        expect(listed?.name).toBe(room);
        // The server records a publication a moment after the publisher sees it succeed.
        const deadline = performance.now() + 5000;
        let participants = await roomService.listParticipants(room);
        const micOf = () => participants.find((p) => p.identity === patient.identity)?.tracks ?? [];
        while (micOf().length === 0 && performance.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          participants = await roomService.listParticipants(room);
        }
        expect(participants.map((p) => p.identity).sort()).toEqual(
          [patient.identity, listener.identity].sort(),
        );
        const mic = micOf();
        expect(mic.map((t) => [t.type, t.source])).toEqual([
          [TrackType.AUDIO, TrackSource.MICROPHONE],
        ]);
      } finally {
        await patient.leave();
        await listener.leave();
      }
    });
    expect(await roomService.listRooms([room])).toEqual([]);
  });

  it('carries espeak-ng speech to another participant with real energy, in real time', async () => {
    await withRoom(async (room) => {
      const listener = await joinListener(room);
      const patient = await SimulatedPatient.join({ livekit, room });
      const publishedAt = performance.now();
      try {
        await until(() => listener.frames.length > 0, 5000, 'the first frame');
        const firstFrameMs = listener.frames[0]!.at - publishedAt;

        const speech = await synthesize('I have had a headache since yesterday evening.');
        const bounds = speechBounds(speech)!;
        const spokenMs = bounds.endMs - bounds.startMs;
        const calledAt = performance.now();
        const utterance = await patient.say(speech);
        // Publishing is paced by the source queue: it takes as long as the clip lasts.
        expect(performance.now() - calledAt).toBeGreaterThan(0.9 * durationMs(speech));
        await until(
          () => listener.frames.some((f) => f.at > utterance.speechEndedAt + 300),
          5000,
          'frames after the end of speech',
        );

        const frames = listener.frames.filter((f) => f.at >= utterance.startedAt);
        const loud = frames.filter((f) => f.dbfs >= -45);
        const firstLoud = loud[0]!;
        const lastLoud = loud[loud.length - 1]!;
        console.log(
          `track published → first frame at the listener ${firstFrameMs.toFixed(0)} ms; ` +
            `first speech sample sent → first speech frame ${(firstLoud.at - utterance.startedAt).toFixed(0)} ms; ` +
            `last speech sample sent → last speech frame ${(lastLoud.at - utterance.speechEndedAt).toFixed(0)} ms`,
        );

        expect(firstFrameMs).toBeLessThan(5000);
        expect(firstLoud.at - utterance.startedAt).toBeLessThan(1000);
        // The speech region arrives with speech-level energy...
        const meanLoudDbfs = loud.reduce((s, f) => s + f.dbfs, 0) / loud.length;
        expect(meanLoudDbfs).toBeGreaterThan(-35);
        // ...spread over as long as it was spoken, in 10 ms frames.
        expect(lastLoud.at - firstLoud.at).toBeGreaterThan(0.85 * spokenMs);
        expect(lastLoud.at - firstLoud.at).toBeLessThan(1.15 * spokenMs + 100);
        const between = frames.filter((f) => f.at >= firstLoud.at && f.at <= lastLoud.at);
        const receivedMs = (between.reduce((n, f) => n + f.samples, 0) / 48_000) * 1000;
        expect(receivedMs).toBeGreaterThan(0.85 * spokenMs);
        expect(receivedMs).toBeLessThan(1.15 * spokenMs + 100);
        expect(new Set(frames.map((f) => f.samples))).toEqual(new Set([480]));
      } finally {
        await patient.leave();
        await listener.leave();
      }
    });
  });

  it('delivers a tone at the level it was sent', async () => {
    await withRoom(async (room) => {
      const patient = await SimulatedPatient.join({ livekit, room });
      const listener = await joinListener(room);
      try {
        const sent = tone({ durationMs: 1000, frequencyHz: 500, peakDbfs: -12 });
        const utterance = await patient.say(sent);
        await until(
          () => listener.frames.some((f) => f.at > utterance.endedAt + 200),
          5000,
          'the tone to arrive',
        );
        const sentDbfs = rmsDbfs(sent.samples);
        const loud = listener.frames
          .filter((f) => f.at >= utterance.startedAt && f.dbfs >= -45)
          .map((f) => f.dbfs);
        // About as many 10 ms frames as were sent: the jitter buffer may stretch or squeeze a few.
        expect(loud.length).toBeGreaterThan(85);
        expect(loud.length).toBeLessThan(115);
        // The steady tone keeps its level through Opus. The receiver's jitter buffer sometimes
        // fades the first ~150 ms of a new track in (more often with RED, rtc-node's default),
        // and the last frame is partly silence, so judge the median and the bulk, not every frame.
        const median = [...loud].sort((a, b) => a - b)[Math.floor(loud.length / 2)]!;
        expect(Math.abs(median - sentDbfs)).toBeLessThan(0.5);
        const onLevel = loud.filter((d) => Math.abs(d - sentDbfs) < 1).length;
        expect(onLevel / loud.length).toBeGreaterThan(0.7);
      } finally {
        await patient.leave();
        await listener.leave();
      }
    });
  });

  it('keeps sending a subscriber silent frames while the publisher sends nothing', async () => {
    // This is why the simulated patient needs no open mic: a remote VAD keeps receiving frames,
    // so it sees the end of speech even when the patient stops publishing altogether.
    await withRoom(async (room) => {
      const patient = await SimulatedPatient.join({ livekit, room, openMic: false });
      const listener = await joinListener(room);
      try {
        const utterance = await patient.say(tone({ durationMs: 300 }), { trailingSilenceMs: 0 });
        const quietFrom = utterance.endedAt + 200;
        await new Promise((r) => setTimeout(r, 1200));
        const quiet = listener.frames.filter((f) => f.at >= quietFrom);
        expect(quiet.length).toBeGreaterThan(80); // ~100 frames of 10 ms in 1 s
        expect(Math.max(...quiet.map((f) => f.dbfs))).toBeLessThan(-60);
      } finally {
        await patient.leave();
        await listener.leave();
      }
    });
  });
});
