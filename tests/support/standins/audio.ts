/**
 * Audio for the stand-ins: a deterministic, speech-like synthetic voice for the TTS stand-ins, and
 * the small PCM helpers the STT stand-in uses to find speech in what it receives.
 *
 * The voice is a harmonic source (a gliding fundamental plus overtones shaped by a per-letter
 * "formant") under a syllable-rate envelope, with quiet gaps at spaces and pauses at punctuation.
 * It is not intelligible, but it has speech-like energy, rhythm and duration, which is what the
 * pipeline (playout, interruption, metrics) reacts to. It costs a few milliseconds per second.
 */
import { assertOptions } from './server.ts';

export interface SyntheticVoiceOptions {
  /**
   * Speaking rate: every character of the text, spaces and punctuation included, lasts this long.
   * Real voices land at about 55–70 ms per character.
   * @defaultValue 62
   */
  msPerChar: number;
  /** Fundamental frequency at the start of an utterance. @defaultValue 140 */
  pitchHz: number;
  /** Peak sample value, as a fraction of full scale. @defaultValue 0.4 */
  peak: number;
}

export const syntheticVoiceDefaults: Readonly<SyntheticVoiceOptions> = Object.freeze({
  msPerChar: 62,
  pitchHz: 140,
  peak: 0.4,
});

export function resolveVoice(opts: Partial<SyntheticVoiceOptions> = {}): SyntheticVoiceOptions {
  const voice = { ...syntheticVoiceDefaults, ...opts };
  assertOptions('synthetic voice', [
    positive('msPerChar', voice.msPerChar),
    positive('pitchHz', voice.pitchHz),
    voice.peak > 0 && voice.peak <= 1 ? null : `peak must be in (0, 1], got ${voice.peak}`,
  ]);
  return voice;
}

/** One character of synthesized text and where it sits in the audio. */
export interface CharTiming {
  char: string;
  startMs: number;
  durationMs: number;
}

/** Character timings for `text`: every character lasts `msPerChar` (see the voice options). */
export function charTimings(text: string, msPerChar: number): CharTiming[] {
  return Array.from(text, (char, i) => ({
    char,
    startMs: Math.round(i * msPerChar),
    durationMs: Math.round((i + 1) * msPerChar) - Math.round(i * msPerChar),
  }));
}

/** Duration of the synthesized audio for `text`, in milliseconds. */
export function speechDurationMs(text: string, msPerChar: number): number {
  return Array.from(text).length * msPerChar;
}

const SENTENCE_END = new Set(['.', '!', '?']);
const CLAUSE_BREAK = new Set([',', ';', ':', '—', '-']);

/** Loudness target of one character: voiced letters, quiet word gaps, silent pauses. */
function charLevel(char: string): number {
  if (/\s/.test(char)) return 0.08;
  if (SENTENCE_END.has(char)) return 0;
  if (CLAUSE_BREAK.has(char)) return 0.04;
  if (/[\p{L}\p{N}]/u.test(char)) return 1;
  return 0.5;
}

/** A vowel-like spectral peak per letter, so the spectrum moves as "phonemes" change. */
function charFormantHz(char: string): number {
  const code = char.toLowerCase().codePointAt(0) ?? 0;
  return 450 + ((code * 397) % 2100);
}

const HARMONICS = 10;
const cache = new Map<string, Buffer>();
const CACHE_ENTRIES = 32;

/**
 * Synthesizes `text` as 16-bit little-endian mono PCM at `sampleRate`. The result is a pure
 * function of its arguments, and the last few results are cached.
 */
export function synthesizeSpeech(
  text: string,
  sampleRate: number,
  voice: SyntheticVoiceOptions = syntheticVoiceDefaults,
): Buffer {
  const key = `${sampleRate}|${voice.msPerChar}|${voice.pitchHz}|${voice.peak}|${text}`;
  const hit = cache.get(key);
  if (hit) return hit;

  const chars = Array.from(text);
  const samplesPerChar = (sampleRate * voice.msPerChar) / 1000;
  const total = Math.round(chars.length * samplesPerChar);
  const raw = new Float32Array(total);
  const durationS = total / sampleRate;
  // ~8 ms attack/release keeps level changes click-free.
  const smoothing = 1 - Math.exp(-1 / (0.008 * sampleRate));

  let phase = 0;
  let level = 0;
  let maxAbs = 0;
  for (let i = 0; i < total; i++) {
    const t = i / sampleRate;
    const char = chars[Math.min(chars.length - 1, Math.floor(i / samplesPerChar))] ?? ' ';
    level += (charLevel(char) - level) * smoothing;
    if (level < 1e-4) {
      raw[i] = 0;
      continue;
    }
    // Gentle declination over the utterance plus a slow wobble, like natural intonation.
    const f0 =
      voice.pitchHz * (1 - 0.12 * (t / Math.max(durationS, 0.5))) * (1 + 0.05 * Math.sin(5.6 * t));
    phase += (2 * Math.PI * f0) / sampleRate;
    if (phase > 2 * Math.PI * 1000) phase -= 2 * Math.PI * 1000;
    const formant = charFormantHz(char);
    let sample = 0;
    for (let k = 1; k <= HARMONICS; k++) {
      const distance = (k * f0 - formant) / 350;
      sample += (Math.sin(k * phase) / k) * (1 + 2 * Math.exp(-distance * distance));
    }
    // Syllable-rate (~4 Hz) amplitude modulation.
    const syllable = 0.55 + 0.45 * Math.sin(Math.PI * 4 * t) ** 2;
    const value = sample * level * syllable;
    raw[i] = value;
    maxAbs = Math.max(maxAbs, Math.abs(value));
  }

  const pcm = Buffer.alloc(total * 2);
  const scale = maxAbs > 0 ? (voice.peak * 32767) / maxAbs : 0;
  for (let i = 0; i < total; i++) {
    pcm.writeInt16LE(Math.round((raw[i] ?? 0) * scale), i * 2);
  }

  cache.set(key, pcm);
  if (cache.size > CACHE_ENTRIES) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  return pcm;
}

/** Root-mean-square level of 16-bit samples, as a fraction of full scale (0..1). */
export function rms(samples: Int16Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const s of samples) sum += (s / 32768) ** 2;
  return Math.sqrt(sum / samples.length);
}

/** Views a little-endian s16 byte buffer as samples without copying when it is aligned. */
export function asSamples(bytes: Buffer): Int16Array {
  const count = Math.floor(bytes.byteLength / 2);
  if (bytes.byteOffset % 2 === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, count);
  const copy = Buffer.from(bytes.subarray(0, count * 2));
  return new Int16Array(copy.buffer, copy.byteOffset, count);
}

function positive(name: string, value: number): string | null {
  return Number.isFinite(value) && value > 0 ? null : `${name} must be > 0, got ${value}`;
}
