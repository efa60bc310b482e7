/**
 * Education clips in a call: the approved clip of each education step's script, loaded once at
 * session start (a clip is a few hundred KB; reading it mid-call would leave the patient in
 * silence while GridFS answers), decoded from its WAV and cut into 20 ms frames for
 * `AgentSession.say(text, { audio })`, which plays it through the session's own output (barge-in
 * included) and keeps the script text as the agent's words in the transcript.
 */
import { AudioFrame } from '@livekit/rtc-node';
import type { Logger } from '../infra/logger.ts';
import { withTimeout } from '../infra/time.ts';
import type { EducationStore } from './store.ts';

export interface LoadedClip {
  clipId: string;
  scriptId: string;
  scriptVersion: number;
  /** What the clip says (the approved script version's text). */
  text: string;
  samples: Int16Array;
  sampleRate: number;
  durationMs: number;
}

const FRAME_MS = 20;

/** Mono 16-bit PCM from a WAV file (the format render.ts writes). */
export function decodeWav(wav: Buffer): { samples: Int16Array; sampleRate: number } {
  if (wav.toString('ascii', 0, 4) !== 'RIFF' || wav.toString('ascii', 8, 12) !== 'WAVE') {
    throw new RangeError('not a WAV file');
  }
  let offset = 12;
  let sampleRate = 0;
  while (offset + 8 <= wav.length) {
    const id = wav.toString('ascii', offset, offset + 4);
    const size = wav.readUInt32LE(offset + 4);
    if (id === 'fmt ') {
      if (wav.readUInt16LE(offset + 8) !== 1 || wav.readUInt16LE(offset + 22) !== 16) {
        throw new RangeError('the WAV is not 16-bit PCM');
      }
      if (wav.readUInt16LE(offset + 10) !== 1) throw new RangeError('the WAV is not mono');
      sampleRate = wav.readUInt32LE(offset + 12);
    }
    if (id === 'data') {
      if (!sampleRate) throw new RangeError('the WAV has no format chunk');
      const end = Math.min(wav.length, offset + 8 + size);
      const samples = new Int16Array((end - offset - 8) >> 1);
      for (let i = 0; i < samples.length; i++) samples[i] = wav.readInt16LE(offset + 8 + i * 2);
      return { samples, sampleRate };
    }
    offset += 8 + size + (size % 2);
  }
  throw new RangeError('the WAV has no audio data');
}

/** The clip as a stream of 20 ms frames, a fresh one per play. */
export function clipFrames(
  clip: Pick<LoadedClip, 'samples' | 'sampleRate'>,
): ReadableStream<AudioFrame> {
  const per = Math.round((clip.sampleRate * FRAME_MS) / 1000);
  let at = 0;
  return new ReadableStream<AudioFrame>({
    pull(controller) {
      if (at >= clip.samples.length) return controller.close();
      const part = clip.samples.slice(at, at + per);
      at += per;
      controller.enqueue(new AudioFrame(part, clip.sampleRate, 1, part.length));
    },
  });
}

/**
 * The playable clip of each script the profile's steps play, by script id. A script with no
 * playable clip, or one that fails to load in time, is left out: its step is asked without it.
 */
export async function loadClips(
  store: Pick<EducationStore, 'playableClip' | 'getScript' | 'readAudio'>,
  scriptIds: readonly string[],
  opts: { logger: Logger; timeoutMs?: number },
): Promise<Map<string, LoadedClip>> {
  const loaded = new Map<string, LoadedClip>();
  for (const scriptId of new Set(scriptIds)) {
    try {
      const clip = await withTimeout(
        (async () => {
          const found = await store.playableClip(scriptId);
          if (!found?.audio) return undefined;
          const script = await store.getScript(scriptId);
          const version = script?.versions.find((v) => v.version === found.scriptVersion);
          if (!version) return undefined;
          const parts: Buffer[] = [];
          for await (const p of store.readAudio(found.audio.fileId)) parts.push(p);
          const pcm = decodeWav(Buffer.concat(parts));
          return {
            clipId: found.clipId,
            scriptId,
            scriptVersion: found.scriptVersion,
            text: version.text,
            ...pcm,
            durationMs: Math.round((pcm.samples.length / pcm.sampleRate) * 1000),
          };
        })(),
        opts.timeoutMs ?? 5000,
        'loading an education clip',
      );
      if (clip) loaded.set(scriptId, clip);
      else
        opts.logger.warn({ scriptId }, 'no approved education clip; its step is asked without it');
    } catch (err) {
      opts.logger.warn(
        { scriptId, err },
        'education clip not loaded; its step is asked without it',
      );
    }
  }
  return loaded;
}
