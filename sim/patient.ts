/**
 * A simulated patient, used by the tests, the benchmarks and `npm run call`: a real `@livekit/rtc-node` participant that speaks synthesised speech
 * into a room at real-time pace and listens to the agent, timing both sides on one clock.
 *
 * Facts about rtc-node 0.13 / livekit-server this relies on (measured against the local server):
 * - `AudioSource.captureFrame` only blocks while the source's queue is full, so the queue
 *   (`sourceQueueMs`) is what paces `say()`: with rtc-node's default 1000 ms queue a 1 s clip
 *   is swallowed in ~0.1 s, and with a queue of 0 frames are dropped unless the caller paces
 *   them. The send time of a frame is its capture time plus what is still queued ahead of it.
 * - `AudioFrame` hands `data.buffer` to the native side from offset 0, so every frame must own
 *   its buffer (a copy, never a `subarray` view of a longer clip).
 * - A subscriber's `AudioStream` yields 10 ms frames continuously from ~200 ms after it
 *   subscribes, digital silence while the publisher captures nothing, so the agent's Silero VAD
 *   reaches its end-of-speech (after its 550 ms minimum silence) with no open mic. `openMic`
 *   exists for code that wants the mic to behave like a real one anyway.
 * - The receiver's jitter buffer sometimes fades in the first ~150 ms of a new track (more
 *   often with RED, on by default), so the very first onset can be quieter than sent.
 * - A plain Node process stays alive after disconnecting until rtc-node's `dispose()`; vitest's
 *   workers exit regardless, but rtc-node's own tests and the agents job process dispose before
 *   exit so native threads stop first. Call {@link shutdownRtc} in `afterAll`.
 */
import { randomUUID } from 'node:crypto';
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  ParticipantKind,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
  dispose,
} from '@livekit/rtc-node';
import type {
  ByteStreamReader,
  LocalTrackPublication,
  RemoteParticipant,
  RemoteTrack,
  RemoteTrackPublication,
  TextStreamReader,
} from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { VoiceCareError } from '../infra/errors.ts';
import { withTimeout } from '../infra/time.ts';
import { concatPcm, rmsDbfs, samplesPerFrame, speechBounds, synthesize } from './speech.ts';
import type { Pcm } from './speech.ts';

/** Text stream topic the agent framework publishes transcripts on (agent and patient turns). */
export const TOPIC_TRANSCRIPTION = 'lk.transcription';
/** Byte stream topic of the agent framework's session protocol; drained and ignored here. */
export const TOPIC_AGENT_SESSION = 'lk.agent.session';

export interface SimulatedPatientOptions {
  /** LiveKit server URL and the key pair the patient mints its own join token with. */
  livekit: { url: string; apiKey: string; apiSecret: string };
  room: string;
  /** @defaultValue `patient-<8 hex>` */
  identity: string;
  /** A remote participant is the agent when its kind is AGENT or its identity has this prefix. @defaultValue 'agent-' */
  agentIdentityPrefix: string;
  /** Rate of the published microphone track, in Hz. @defaultValue 48000 (WebRTC's native rate) */
  sampleRate: number;
  /** Size of each published frame. @defaultValue 10 (WebRTC's own unit; finest timestamps) */
  frameMs: number;
  /**
   * Audio the source may hold ahead of the encoder; this is what paces `say()`. It must outlast
   * event-loop stalls, or the track underruns and the speech gets gaps. @defaultValue 100
   */
  sourceQueueMs: number;
  /** Rate the agent's audio is recorded at, in Hz. @defaultValue 24000 (the agent's TTS rate) */
  recordSampleRate: number;
  /** Keep the agent's received audio, for {@link SimulatedPatient.agentAudio}. @defaultValue true */
  recordAgentAudio: boolean;
  /** Publish silence between utterances, like an open microphone. @defaultValue false */
  openMic: boolean;
  /** Silence published after each utterance. @defaultValue 200 */
  trailingSilenceMs: number;
  /** A frame at or above this RMS level is speech, for own clips and the agent's audio. @defaultValue -45 */
  speechThresholdDbfs: number;
  /** The agent's speech segment ends after this much continuous silence. @defaultValue 500 */
  agentSpeechHangoverMs: number;
  /** espeak-ng voice for `say(text)`. @defaultValue 'en-us' */
  voice: string;
  /** espeak-ng speed for `say(text)`. @defaultValue 175 */
  wordsPerMinute: number;
  /** Lifetime of the join token. @defaultValue 600000 */
  tokenTtlMs: number;
  /** @defaultValue 10000 */
  connectTimeoutMs: number;
  /**
   * A join token minted elsewhere (the API's join link), used instead of minting one: then
   * `identity` must be the token's, and the grants are whatever the token carries.
   */
  token?: string;
}

export type SimulatedPatientInit = Partial<SimulatedPatientOptions> &
  Pick<SimulatedPatientOptions, 'livekit' | 'room'>;

export const defaults: Readonly<Omit<SimulatedPatientOptions, 'livekit' | 'room' | 'identity'>> =
  Object.freeze({
    agentIdentityPrefix: 'agent-',
    sampleRate: 48_000,
    frameMs: 10,
    sourceQueueMs: 100,
    recordSampleRate: 24_000,
    recordAgentAudio: true,
    openMic: false,
    trailingSilenceMs: 200,
    speechThresholdDbfs: -45,
    agentSpeechHangoverMs: 500,
    voice: 'en-us',
    wordsPerMinute: 175,
    tokenTtlMs: 10 * 60_000,
    connectTimeoutMs: 10_000,
  });

/**
 * What one `say()` published. Times are `performance.now()` ms; the `EpochMs` twins are
 * wall-clock ms since 1970. "Sent" means the audio left the source queue for the encoder.
 */
export interface Utterance {
  /** When the first sample was sent. */
  startedAt: number;
  /** When the last sample of the last speech frame (at or above the threshold) was sent. */
  speechEndedAt: number;
  /** When the trailing silence was sent, or when the utterance was cut short. */
  endedAt: number;
  startedAtEpochMs: number;
  speechEndedAtEpochMs: number;
  endedAtEpochMs: number;
  /** Audio published, trailing silence excluded. */
  durationMs: number;
  /** The utterance was cut short by its signal or by `leave()`. */
  aborted: boolean;
}

export interface SayOptions {
  voice?: string;
  wordsPerMinute?: number;
  trailingSilenceMs?: number;
  /** Stops the utterance mid-way, like a patient who breaks off. */
  signal?: AbortSignal;
}

/** One frame of agent audio as it arrived at the patient. */
export interface AgentAudioFrame {
  /** `performance.now()` when the frame reached the patient. */
  at: number;
  dbfs: number;
  samplesPerChannel: number;
  sampleRate: number;
  participantIdentity: string;
}

/** A stretch of agent speech; `endedAt` is undefined while it is still going on. */
export interface AgentSpeechSegment {
  /** Arrival of its first frame at or above the threshold. */
  startedAt: number;
  /** Arrival of its last frame at or above the threshold. */
  endedAt: number | undefined;
}

/** One `lk.transcription` text stream, read to its end. */
export interface TranscriptionRecord {
  /** The participant that sent the stream (the agent, for both roles). */
  participantIdentity: string;
  /** Whose words these are: `patient` when the stream names this patient's microphone track. */
  role: 'patient' | 'agent';
  segmentId: string | undefined;
  /** The `lk.transcription_final` attribute; streamed agent segments always say false. */
  final: boolean;
  text: string;
  /** `performance.now()` when the stream was complete. */
  receivedAt: number;
}

export interface WaitOptions {
  /** @defaultValue 15000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A wait on the patient ran out of time. */
export class PatientTimeoutError extends VoiceCareError {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super(`simulated patient: ${what} did not happen within ${timeoutMs} ms`, {
      code: 'patient_timeout',
    });
    this.timeoutMs = timeoutMs;
  }
}

/** The patient left (or was disconnected) before the operation could finish. */
export class PatientClosedError extends VoiceCareError {
  constructor(what: string) {
    super(`simulated patient: ${what} after the patient left the room`, { code: 'patient_closed' });
  }
}

/** `performance.now()` ms → wall-clock ms since 1970. */
export function toEpochMs(at: number): number {
  return performance.timeOrigin + at;
}

const DEFAULT_WAIT_MS = 15_000;
const SILENCE_POLL_MS = 10;
const TRANSCRIPT_ATTR = {
  segmentId: 'lk.segment_id',
  final: 'lk.transcription_final',
  trackId: 'lk.transcribed_track_id',
} as const;

const openPatients = new Set<SimulatedPatient>();

/**
 * Leaves every patient still in a room, then releases rtc-node's native runtime, which
 * otherwise keeps the process alive. Call once, in `afterAll`; rtc-node is unusable afterwards.
 */
export async function shutdownRtc(): Promise<void> {
  await Promise.allSettled([...openPatients].map((p) => p.leave()));
  await dispose();
}

interface QueuedUtterance {
  pcm: Promise<Pcm>;
  trailingSilenceMs: number;
  signal: AbortSignal | undefined;
  resolve: (u: Utterance) => void;
  reject: (err: unknown) => void;
}

export class SimulatedPatient {
  readonly identity: string;
  readonly options: Readonly<SimulatedPatientOptions>;

  private readonly room = new Room();
  private readonly source: AudioSource;
  private readonly frameSamples: number;
  private publication: LocalTrackPublication | undefined;

  private readonly queue: QueuedUtterance[] = [];
  private wakePump: (() => void) | undefined;
  private pumpTask: Promise<void> | undefined;

  private readonly frames: AgentAudioFrame[] = [];
  private readonly audioChunks: Int16Array[] = [];
  private readonly segments: AgentSpeechSegment[] = [];
  private openSegment: AgentSpeechSegment | undefined;
  private lastLoudAt = -Infinity;
  private readonly readers = new Map<string, ReadableStreamDefaultReader<AudioFrame>>();

  private readonly records: TranscriptionRecord[] = [];
  private sessionStreams = 0;

  private readonly tasks = new Set<Promise<void>>();
  private readonly waiters = new Set<() => void>();
  private readonly errors: unknown[] = [];
  private closed = false;
  /** Set when the microphone writer failed; later `say()` calls reject with it. */
  private micError: unknown;
  private leaving: Promise<void> | undefined;

  private constructor(options: SimulatedPatientOptions) {
    this.options = Object.freeze({ ...options });
    this.identity = options.identity;
    this.frameSamples = samplesPerFrame(options.sampleRate, options.frameMs);
    this.source = new AudioSource(options.sampleRate, 1, options.sourceQueueMs);
  }

  /** Joins the room, publishes the microphone and starts listening for the agent. */
  static async join(init: SimulatedPatientInit): Promise<SimulatedPatient> {
    const options = resolveOptions(init);
    const patient = new SimulatedPatient(options);
    openPatients.add(patient);
    try {
      await patient.connect();
    } catch (err) {
      await patient.leave();
      throw err;
    }
    return patient;
  }

  /** The local participant's microphone track sid. */
  get trackSid(): string | undefined {
    return this.publication?.sid;
  }

  /** Every agent audio frame received so far, in arrival order. */
  get agentFrames(): readonly AgentAudioFrame[] {
    return this.frames;
  }

  /** The agent's speech segments so far; the last one may still be open. */
  get agentSpeech(): readonly AgentSpeechSegment[] {
    this.expireSegment(performance.now());
    return this.segments.map((s) => ({ ...s }));
  }

  /** Every `lk.transcription` stream received so far. */
  get transcriptions(): readonly TranscriptionRecord[] {
    return this.records;
  }

  /** How many agent-session byte streams were received (and drained). */
  get agentSessionStreams(): number {
    return this.sessionStreams;
  }

  /** Errors from background work (stream readers, the microphone); empty when all is well. */
  get backgroundErrors(): readonly unknown[] {
    return this.errors;
  }

  /** The agent's audio received so far, at `recordSampleRate`. */
  agentAudio(): Pcm {
    const empty = { samples: new Int16Array(0), sampleRate: this.options.recordSampleRate };
    return this.audioChunks.length === 0
      ? empty
      : concatPcm(
          ...this.audioChunks.map((samples) => ({
            samples,
            sampleRate: this.options.recordSampleRate,
          })),
        );
  }

  /**
   * Speaks `input` (text is synthesised with espeak-ng) at real-time pace, then publishes
   * `trailingSilenceMs` of silence. Utterances queue behind each other; speaking while the
   * agent talks is allowed (barge-in).
   */
  async say(input: string | Pcm, options: SayOptions = {}): Promise<Utterance> {
    if (this.closed) throw new PatientClosedError('say() was called');
    if (this.micError !== undefined) throw this.micError;
    const trailingSilenceMs = options.trailingSilenceMs ?? this.options.trailingSilenceMs;
    if (!(trailingSilenceMs >= 0)) throw new RangeError('say(): trailingSilenceMs must be >= 0');
    // Queued before synthesis finishes, so utterances play in call order even when one is a
    // cache hit and an earlier one is not.
    const pcm =
      typeof input === 'string'
        ? synthesize(input, {
            voice: options.voice ?? this.options.voice,
            wordsPerMinute: options.wordsPerMinute ?? this.options.wordsPerMinute,
            sampleRate: this.options.sampleRate,
          })
        : Promise.resolve(input);
    pcm.catch(() => {}); // observed by play(); this only stops an early leave() leaving it unhandled
    return new Promise<Utterance>((resolve, reject) => {
      this.queue.push({ pcm, trailingSilenceMs, signal: options.signal, resolve, reject });
      this.wakePump?.();
    });
  }

  /**
   * Resolves with the first agent frame at or above the speech threshold that arrived after
   * `after` (default: now). Voice-to-voice latency is `frame.at - utterance.speechEndedAt`.
   */
  waitForAgentSpeech(options: WaitOptions & { after?: number } = {}): Promise<AgentAudioFrame> {
    const after = options.after ?? performance.now();
    let i = 0;
    return this.waitUntil('agent speech', options, () => {
      for (; i < this.frames.length; i++) {
        const f = this.frames[i];
        if (f && f.at > after && f.dbfs >= this.options.speechThresholdDbfs) return f;
      }
      return undefined;
    });
  }

  /**
   * Resolves once no agent audio at or above the threshold has arrived for `silenceMs`,
   * counting from `after` (default: now) or from the agent's last loud frame after it, whichever
   * is later. Resolves with the time that silence began.
   */
  waitForAgentSilence(
    options: WaitOptions & { after?: number; silenceMs?: number } = {},
  ): Promise<number> {
    const after = options.after ?? performance.now();
    const silenceMs = options.silenceMs ?? this.options.agentSpeechHangoverMs;
    return this.waitUntil(
      'agent silence',
      options,
      () => {
        const now = performance.now();
        this.expireSegment(now);
        const since = Math.max(after, this.lastLoudAt);
        return now - since >= silenceMs ? since : undefined;
      },
      SILENCE_POLL_MS,
    );
  }

  /**
   * Types text into the room, as a chat box would: a text stream on `lk.chat` (the topic the
   * agent framework reads room text input from). Resolves once the stream is sent.
   */
  async sendText(text: string, topic = 'lk.chat'): Promise<void> {
    const local = this.room.localParticipant;
    if (!local) throw new PatientClosedError('sendText');
    await local.sendText(text, { topic });
  }

  /** Resolves with the first remote participant whose identity starts with `identityPrefix`. */
  waitForParticipant(
    identityPrefix: string,
    options: WaitOptions = {},
  ): Promise<RemoteParticipant> {
    return this.waitUntil(`participant ${identityPrefix}*`, options, () => {
      for (const p of this.room.remoteParticipants.values()) {
        if (p.identity.startsWith(identityPrefix)) return p;
      }
      return undefined;
    });
  }

  /** Resolves with the first transcription record (already received or yet to come) that matches. */
  waitForTranscription(
    match: (r: TranscriptionRecord) => boolean,
    options: WaitOptions = {},
  ): Promise<TranscriptionRecord> {
    return this.waitUntil('transcription', options, () => this.records.find(match));
  }

  /**
   * Stops speaking (an utterance in progress resolves with `aborted`; queued ones reject),
   * disconnects, and releases the microphone. Idempotent.
   */
  leave(): Promise<void> {
    this.leaving ??= this.shutdown();
    return this.leaving;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    for (const q of this.queue.splice(0))
      q.reject(new PatientClosedError('an utterance was queued'));
    this.wakePump?.();
    await this.pumpTask;
    for (const reader of this.readers.values()) {
      await reader.cancel().catch(() => {});
    }
    this.readers.clear();
    try {
      await this.room.disconnect();
    } finally {
      await Promise.allSettled([...this.tasks]);
      this.closeOpenSegment();
      await this.source.close();
      this.notify();
      openPatients.delete(this);
    }
  }

  private async connect(): Promise<void> {
    const o = this.options;
    const minted = new AccessToken(o.livekit.apiKey, o.livekit.apiSecret, {
      identity: o.identity,
      ttl: Math.ceil(o.tokenTtlMs / 1000),
    });
    minted.addGrant({
      room: o.room,
      roomJoin: true,
      canPublish: true,
      canSubscribe: true,
      canPublishData: true,
    });

    this.room.on(RoomEvent.TrackSubscribed, this.onTrackSubscribed);
    this.room.on(RoomEvent.ParticipantConnected, this.notify);
    this.room.on(RoomEvent.Disconnected, this.onDisconnected);
    this.room.registerTextStreamHandler(TOPIC_TRANSCRIPTION, this.onTranscription);
    this.room.registerByteStreamHandler(TOPIC_AGENT_SESSION, this.onSessionStream);

    await withTimeout(
      this.room.connect(o.livekit.url, o.token ?? (await minted.toJwt()), {
        autoSubscribe: true,
        dynacast: false,
      }),
      o.connectTimeoutMs,
      'connecting to the room',
      () => new PatientTimeoutError('connecting to the room', o.connectTimeoutMs),
    );
    const local = this.room.localParticipant;
    if (!local) throw new Error('rtc-node connected without a local participant');
    const track = LocalAudioTrack.createAudioTrack('microphone', this.source);
    this.publication = await local.publishTrack(
      track,
      new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
    );
    // Tracks the server subscribed before our listener ran would otherwise be missed. A remote
    // participant's publications are typed as the base class; they are remote ones.
    for (const p of this.room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) {
        if (pub.track)
          this.onTrackSubscribed(pub.track as RemoteTrack, pub as RemoteTrackPublication, p);
      }
    }
    this.pumpTask = this.pump().catch((err: unknown) => {
      this.micError = err;
      this.errors.push(err);
      for (const q of this.queue.splice(0)) q.reject(err);
    });
  }

  /** The one writer to the audio source: utterances in order, silence between them if open mic. */
  private async pump(): Promise<void> {
    const silenceFrame = () =>
      new AudioFrame(
        new Int16Array(this.frameSamples),
        this.options.sampleRate,
        1,
        this.frameSamples,
      );
    while (!this.closed) {
      const next = this.queue.shift();
      if (next) {
        await this.play(next);
      } else if (this.options.openMic) {
        await this.source.captureFrame(silenceFrame());
      } else {
        await new Promise<void>((resolve) => (this.wakePump = resolve));
        this.wakePump = undefined;
      }
    }
  }

  private async play(u: QueuedUtterance): Promise<void> {
    const { sampleRate, frameMs, speechThresholdDbfs } = this.options;
    let pcm: Pcm;
    try {
      pcm = await u.pcm;
      if (pcm.sampleRate !== sampleRate) {
        throw new RangeError(
          `say(): audio is ${pcm.sampleRate} Hz but the microphone publishes ${sampleRate} Hz`,
        );
      }
    } catch (err) {
      u.reject(err); // bad input fails this utterance only, not the microphone
      return;
    }
    const n = this.frameSamples;
    const frameCount = Math.ceil(pcm.samples.length / n);
    const bounds = speechBounds(pcm, { thresholdDbfs: speechThresholdDbfs, frameMs });
    const lastSpeechFrame =
      bounds === undefined ? frameCount - 1 : Math.min(frameCount, bounds.endMs / frameMs) - 1;

    // A frame is "sent" when it leaves the source queue: capture time plus what is queued.
    const sentAt = () => performance.now() + this.source.queuedDuration;
    let startedAt: number | undefined;
    let speechEndedAt: number | undefined;
    let aborted = false;
    let published = 0;
    try {
      for (let i = 0; i < frameCount; i++) {
        if (this.closed || u.signal?.aborted) {
          aborted = true;
          break;
        }
        const data = new Int16Array(n); // owns its buffer: see the header comment
        data.set(pcm.samples.subarray(i * n, (i + 1) * n));
        await this.source.captureFrame(new AudioFrame(data, sampleRate, 1, n));
        published++;
        if (i === 0) startedAt = sentAt() - frameMs;
        if (i === lastSpeechFrame) speechEndedAt = sentAt();
      }
      if (aborted) {
        this.source.clearQueue();
      } else {
        const silent = new Int16Array(n);
        for (let t = 0; t < u.trailingSilenceMs && !this.closed; t += frameMs) {
          await this.source.captureFrame(new AudioFrame(silent.slice(), sampleRate, 1, n));
        }
      }
    } catch (err) {
      u.reject(err);
      throw err;
    }
    const endedAt = aborted ? performance.now() : sentAt();
    const start = startedAt ?? endedAt;
    const speechEnd = speechEndedAt ?? endedAt;
    u.resolve({
      startedAt: start,
      speechEndedAt: speechEnd,
      endedAt,
      startedAtEpochMs: toEpochMs(start),
      speechEndedAtEpochMs: toEpochMs(speechEnd),
      endedAtEpochMs: toEpochMs(endedAt),
      durationMs: published * frameMs,
      aborted,
    });
  }

  private onTrackSubscribed = (
    track: RemoteTrack,
    _publication: RemoteTrackPublication,
    participant: RemoteParticipant,
  ): void => {
    if (this.closed || track.kind !== TrackKind.KIND_AUDIO || !this.isAgent(participant)) return;
    const sid = track.sid ?? randomUUID();
    if (this.readers.has(sid)) return;
    const stream = new AudioStream(track, {
      sampleRate: this.options.recordSampleRate,
      numChannels: 1,
    });
    const reader = stream.getReader();
    this.readers.set(sid, reader);
    this.keep(
      this.readAgentAudio(reader, participant.identity).finally(() => this.readers.delete(sid)),
    );
  };

  private async readAgentAudio(
    reader: ReadableStreamDefaultReader<AudioFrame>,
    participantIdentity: string,
  ): Promise<void> {
    for (;;) {
      const { done, value: frame } = await reader.read();
      if (done) {
        this.closeOpenSegment();
        this.notify();
        return;
      }
      const at = performance.now();
      const dbfs = rmsDbfs(frame.data);
      this.frames.push({
        at,
        dbfs,
        samplesPerChannel: frame.samplesPerChannel,
        sampleRate: frame.sampleRate,
        participantIdentity,
      });
      if (this.options.recordAgentAudio) this.audioChunks.push(frame.data);
      if (dbfs >= this.options.speechThresholdDbfs) {
        if (!this.openSegment) {
          this.openSegment = { startedAt: at, endedAt: undefined };
          this.segments.push(this.openSegment);
        }
        this.lastLoudAt = at;
      } else {
        this.expireSegment(at);
      }
      this.notify();
    }
  }

  /** Closes the open segment once the hangover has passed, judged by the clock, not by frames. */
  private expireSegment(now: number): void {
    if (this.openSegment && now - this.lastLoudAt >= this.options.agentSpeechHangoverMs) {
      this.closeOpenSegment();
    }
  }

  private closeOpenSegment(): void {
    if (this.openSegment) this.openSegment.endedAt = this.lastLoudAt;
    this.openSegment = undefined;
  }

  private onTranscription = (reader: TextStreamReader, from: { identity: string }): void => {
    const attrs = reader.info.attributes ?? {};
    this.keep(
      reader.readAll().then((text) => {
        const trackId = attrs[TRANSCRIPT_ATTR.trackId];
        this.records.push({
          participantIdentity: from.identity,
          role: trackId !== undefined && trackId === this.publication?.sid ? 'patient' : 'agent',
          segmentId: attrs[TRANSCRIPT_ATTR.segmentId],
          final: attrs[TRANSCRIPT_ATTR.final] === 'true',
          text,
          receivedAt: performance.now(),
        });
        this.notify();
      }),
    );
  };

  private onSessionStream = (reader: ByteStreamReader): void => {
    this.keep(
      reader.readAll().then(() => {
        this.sessionStreams++;
      }),
    );
  };

  private onDisconnected = (): void => {
    this.closed = true;
    this.wakePump?.();
    this.notify();
  };

  private isAgent(p: RemoteParticipant): boolean {
    return (
      p.kind === ParticipantKind.AGENT || p.identity.startsWith(this.options.agentIdentityPrefix)
    );
  }

  /** Keeps a background task until it settles; its failure is recorded, never unhandled. */
  private keep(task: Promise<void>): void {
    const tracked: Promise<void> = task
      .catch((err: unknown) => {
        if (!this.closed) this.errors.push(err);
      })
      .finally(() => this.tasks.delete(tracked));
    this.tasks.add(tracked);
  }

  private notify = (): void => {
    for (const evaluate of [...this.waiters]) evaluate();
  };

  /** Resolves with the first defined `check()` result, re-checked on every event (and on a poll). */
  private waitUntil<T>(
    what: string,
    options: WaitOptions,
    check: () => T | undefined,
    pollMs?: number,
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    const { signal } = options;
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const finish = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters.delete(evaluate);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        finish();
        reject(signal?.reason);
      };
      const evaluate = () => {
        const value = check();
        if (value !== undefined) {
          finish();
          resolve(value);
        } else if (this.closed) {
          finish();
          reject(new PatientClosedError(`waiting for ${what}`));
        }
      };
      // Nothing below yields, so no event can call `evaluate` before the timers exist.
      this.waiters.add(evaluate);
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        finish();
        reject(new PatientTimeoutError(what, timeoutMs));
      }, timeoutMs);
      const poll = pollMs === undefined ? undefined : setInterval(evaluate, pollMs);
      evaluate();
    });
  }
}

function resolveOptions(init: SimulatedPatientInit): SimulatedPatientOptions {
  const given = Object.fromEntries(Object.entries(init).filter(([, v]) => v !== undefined));
  const o: SimulatedPatientOptions = {
    ...defaults,
    identity: `patient-${randomUUID().slice(0, 8)}`,
    ...(given as SimulatedPatientInit),
  };
  const positive = [
    'frameMs',
    'sourceQueueMs',
    'sampleRate',
    'recordSampleRate',
    'tokenTtlMs',
  ] as const;
  for (const k of positive) {
    if (!(o[k] > 0)) throw new RangeError(`SimulatedPatient: ${k} must be > 0, got ${o[k]}`);
  }
  for (const k of ['trailingSilenceMs', 'agentSpeechHangoverMs', 'connectTimeoutMs'] as const) {
    if (!(o[k] >= 0)) throw new RangeError(`SimulatedPatient: ${k} must be >= 0, got ${o[k]}`);
  }
  if (o.sourceQueueMs < o.frameMs) {
    throw new RangeError('SimulatedPatient: sourceQueueMs must hold at least one frame');
  }
  if (!o.room) throw new RangeError('SimulatedPatient: room is required');
  if (!o.identity) throw new RangeError('SimulatedPatient: identity must not be empty');
  samplesPerFrame(o.sampleRate, o.frameMs);
  return o;
}
