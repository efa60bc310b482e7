/**
 * The patient's microphone as the session's audio input, taken from the room in frames of
 * `frameSizeMs` instead of the framework's 10 ms.
 *
 * Why our own: the framework's room input (`voice/room_io/_input.ts`) builds its rtc-node
 * `AudioStream` without `frameSizeMs`, and a session's CPU is per frame (bench/README.md, "Where
 * a session's CPU goes"): every frame crosses FFI as a protobuf event and several web streams.
 * The supported hook is `session.input.audio`: an input set before `session.start()` is kept by
 * RoomIO (with `inputOptions.audioEnabled: false` it does not build its own), which still links
 * the participant, closes on disconnect and handles text and output. {@link assertAttached}
 * makes a framework that stops honouring that fail the session at start, not go deaf.
 *
 * What it keeps of the framework's input: it hears one participant (the patient's identity),
 * follows their microphone across unpublish, unsubscribe and republish, one stream at a time,
 * honours the framework's attach state (`session.input.setAudioEnabled`) and releases the
 * native stream on close. rtc-node resamples natively to `sampleRate`, so the framework's
 * `resampleStream` hop (a pass-through at that rate) is left out. No noise cancellation: the
 * session passes none.
 */
import { voice } from '@livekit/agents';
import {
  AudioStream,
  RoomEvent,
  TrackSource,
  type AudioFrame,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  type Room,
} from '@livekit/rtc-node';
import { TransformStream, type ReadableStream } from 'node:stream/web';
import { VoiceCareError } from '../infra/errors.ts';
import type { Logger } from '../infra/logger.ts';

export interface RoomAudioInputOptions {
  room: Room;
  /** The only participant heard. */
  participantIdentity: string;
  sampleRate: number;
  /** @defaultValue 1 */
  numChannels?: number;
  /** Audio per frame handed to the pipeline (AGENT_INPUT_FRAME_MS). */
  frameSizeMs: number;
  log: Logger;
}

/** The framework did not take the audio input we set: it would listen to something else. */
export class AudioInputNotAttachedError extends VoiceCareError {
  constructor() {
    super(
      'the AgentSession did not read the audio input set before start(); @livekit/agents changed how session.input.audio is honoured',
      { code: 'audio_input_not_attached' },
    );
  }
}

/** A microphone publication of the patient's and its subscribed track. */
interface RemoteInput {
  publication: RemoteTrackPublication;
  track: RemoteTrack;
}

interface OpenInput {
  id: string;
  readable: ReadableStream<AudioFrame>;
}

export class RoomAudioInput extends voice.AudioInput {
  readonly #room: Room;
  readonly #identity: string;
  readonly #sampleRate: number;
  readonly #numChannels: number;
  readonly #frameSizeMs: number;
  readonly #log: Logger;
  #attached = true;
  #closed = false;
  #taken = false;
  /** The publication and track wanted now; the stream follows it through `#transition`. */
  #wanted: RemoteInput | null = null;
  #open: OpenInput | null = null;
  /** Opens and closes run one after another, so two tracks never feed the session at once. */
  #transition: Promise<void> = Promise.resolve();

  constructor(opts: RoomAudioInputOptions) {
    super();
    if (!Number.isInteger(opts.frameSizeMs) || opts.frameSizeMs < 10) {
      throw new RangeError(`frameSizeMs must be a whole number >= 10, got ${opts.frameSizeMs}`);
    }
    this.#room = opts.room;
    this.#identity = opts.participantIdentity;
    this.#sampleRate = opts.sampleRate;
    this.#numChannels = opts.numChannels ?? 1;
    this.#frameSizeMs = opts.frameSizeMs;
    this.#log = opts.log;
    this.#room.on(RoomEvent.TrackSubscribed, this.#onTrackSubscribed);
    this.#room.on(RoomEvent.TrackUnsubscribed, this.#onTrackUnsubscribed);
    this.#room.on(RoomEvent.TrackUnpublished, this.#onTrackUnpublished);
    // A microphone subscribed before we listened raised no event.
    const patient = this.#room.remoteParticipants.get(this.#identity);
    if (patient) this.#pickMicrophone(patient);
  }

  /** Read by the framework when it attaches the input to the agent's activity. */
  override get stream(): ReadableStream<AudioFrame> {
    this.#taken = true;
    return super.stream;
  }

  override setAttached(attached: boolean): void {
    this.#attached = attached;
  }

  /**
   * Throws unless the session has read this input's stream: call it right after
   * `session.start()`, which attaches the input before it resolves.
   */
  assertAttached(): void {
    if (!this.#taken) throw new AudioInputNotAttachedError();
  }

  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#room.off(RoomEvent.TrackSubscribed, this.#onTrackSubscribed);
    this.#room.off(RoomEvent.TrackUnsubscribed, this.#onTrackUnsubscribed);
    this.#room.off(RoomEvent.TrackUnpublished, this.#onTrackUnpublished);
    this.#follow(null);
    await this.#transition;
    await super.close();
  }

  #isPatientMic(publication: RemoteTrackPublication, participant: RemoteParticipant): boolean {
    return (
      participant.identity === this.#identity &&
      publication.source === TrackSource.SOURCE_MICROPHONE
    );
  }

  /** The first subscribed microphone of the patient's other than `except`, if any. */
  #pickMicrophone(participant: RemoteParticipant, except?: string): void {
    for (const publication of participant.trackPublications.values()) {
      if (publication.sid === except || !publication.track) continue;
      if (this.#isPatientMic(publication, participant)) {
        this.#follow({ publication, track: publication.track });
        return;
      }
    }
  }

  #onTrackSubscribed = (
    track: RemoteTrack,
    publication: RemoteTrackPublication,
    participant: RemoteParticipant,
  ): void => {
    if (this.#closed || !this.#isPatientMic(publication, participant)) return;
    const wanted = this.#wanted;
    if (wanted && wanted.publication.sid === publication.sid && wanted.track === track) return;
    this.#follow({ publication, track });
  };

  #onTrackUnsubscribed = (
    track: RemoteTrack,
    publication: RemoteTrackPublication,
    participant: RemoteParticipant,
  ): void => {
    if (this.#wanted?.track !== track || participant.identity !== this.#identity) return;
    this.#follow(null);
    // The same publication subscribed again arrives through TrackSubscribed.
    this.#pickMicrophone(participant, publication.sid);
  };

  #onTrackUnpublished = (
    publication: RemoteTrackPublication,
    participant: RemoteParticipant,
  ): void => {
    if (this.#wanted?.publication.sid !== publication.sid) return;
    if (participant.identity !== this.#identity) return;
    this.#follow(null);
    this.#pickMicrophone(participant, publication.sid);
  };

  #follow(wanted: RemoteInput | null): void {
    this.#wanted = wanted;
    this.#transition = this.#transition.then(async () => {
      await this.#closeOpen();
      if (this.#closed || !wanted || this.#wanted !== wanted) return;
      this.#openStream(wanted.track);
    });
  }

  async #closeOpen(): Promise<void> {
    const open = this.#open;
    this.#open = null;
    if (!open) return;
    try {
      await this.multiStream.removeInputStream(open.id);
    } catch (err) {
      this.#log.warn({ err }, 'patient audio input: removing the stream failed');
    }
    // Cancels the gate and, through the pipe, the AudioStream: its native handle is released.
    await open.readable.cancel().catch((err: unknown) => {
      this.#log.warn({ err }, 'patient audio input: cancelling the stream failed');
    });
  }

  #openStream(track: RemoteTrack): void {
    const audio = new AudioStream(track, {
      sampleRate: this.#sampleRate,
      numChannels: this.#numChannels,
      frameSizeMs: this.#frameSizeMs,
      // rtc-node's AudioStream and node:stream/web's ReadableStream are typed apart (AJS-269).
    }) as unknown as ReadableStream<AudioFrame>;
    const readable = audio.pipeThrough(
      new TransformStream<AudioFrame, AudioFrame>({
        transform: (frame, controller) => {
          if (this.#attached) controller.enqueue(frame);
        },
      }),
    );
    this.#open = { id: this.multiStream.addInputStream(readable), readable };
    this.#log.debug({ frameSizeMs: this.#frameSizeMs }, 'patient audio input opened');
  }
}
