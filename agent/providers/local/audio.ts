/**
 * Audio shaping for the local engines: whatever the session hands over (any rate, any channel
 * count, one frame or many) becomes the 16 kHz mono PCM the recogniser's acoustic model expects;
 * and PCM bytes as they stream out of a synthesiser become fixed-size frames.
 */
import { AudioFrame, AudioResampler } from '@livekit/rtc-node';

/** The rate pocketsphinx's US-English acoustic model was trained at. */
export const RECOGNIZER_SAMPLE_RATE = 16_000;

function downmix(frame: AudioFrame): AudioFrame {
  if (frame.channels === 1) return frame;
  const mono = new Int16Array(frame.samplesPerChannel);
  for (let i = 0; i < frame.samplesPerChannel; i++) {
    let sum = 0;
    for (let c = 0; c < frame.channels; c++) sum += frame.data[i * frame.channels + c] ?? 0;
    mono[i] = Math.round(sum / frame.channels);
  }
  return new AudioFrame(mono, frame.sampleRate, 1, frame.samplesPerChannel);
}

/** One frame or many, any rate and channel count → one 16 kHz mono buffer. */
export function toRecognizerAudio(buffer: AudioFrame | readonly AudioFrame[]): Int16Array {
  const frames = (Array.isArray(buffer) ? buffer : [buffer]) as readonly AudioFrame[];
  const parts: Int16Array[] = [];
  let resampler: AudioResampler | undefined;
  const flush = (): void => {
    if (!resampler) return;
    for (const f of resampler.flush()) parts.push(f.data.slice(0, f.samplesPerChannel));
    resampler.close();
    resampler = undefined;
  };
  try {
    for (const frame of frames) {
      if (frame.samplesPerChannel === 0) continue;
      const mono = downmix(frame);
      if (mono.sampleRate === RECOGNIZER_SAMPLE_RATE) {
        flush();
        parts.push(mono.data.subarray(0, mono.samplesPerChannel));
        continue;
      }
      if (resampler && resampler.inputRate !== mono.sampleRate) flush();
      resampler ??= new AudioResampler(mono.sampleRate, RECOGNIZER_SAMPLE_RATE, 1);
      for (const f of resampler.push(mono)) parts.push(f.data.slice(0, f.samplesPerChannel));
    }
    flush();
  } finally {
    resampler?.close();
  }
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Cuts a stream of little-endian 16-bit mono PCM bytes into frames of `samplesPerFrame`, whatever
 * sizes the bytes arrive in. Copies each frame, so frames never alias the input buffers.
 */
export class PcmFramer {
  readonly #sampleRate: number;
  readonly #bytesPerFrame: number;
  #pending: Buffer = Buffer.alloc(0);

  constructor(sampleRate: number, samplesPerFrame: number) {
    if (!Number.isInteger(samplesPerFrame) || samplesPerFrame <= 0) {
      throw new RangeError(`samplesPerFrame must be a positive integer, got ${samplesPerFrame}`);
    }
    this.#sampleRate = sampleRate;
    this.#bytesPerFrame = samplesPerFrame * 2;
  }

  /** The whole frames now available. */
  push(bytes: Buffer): AudioFrame[] {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, bytes]) : bytes;
    const frames: AudioFrame[] = [];
    let offset = 0;
    while (this.#pending.length - offset >= this.#bytesPerFrame) {
      frames.push(this.#frame(this.#pending.subarray(offset, offset + this.#bytesPerFrame)));
      offset += this.#bytesPerFrame;
    }
    this.#pending = this.#pending.subarray(offset);
    return frames;
  }

  /** What is left as one shorter frame (an odd trailing byte is dropped), or nothing. */
  flush(): AudioFrame | undefined {
    const even = this.#pending.subarray(0, this.#pending.length - (this.#pending.length % 2));
    this.#pending = Buffer.alloc(0);
    return even.length ? this.#frame(even) : undefined;
  }

  #frame(bytes: Buffer): AudioFrame {
    const samples = new Int16Array(bytes.length / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
    return new AudioFrame(samples, this.#sampleRate, 1, samples.length);
  }
}
