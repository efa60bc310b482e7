/**
 * Speech audio for the simulated patient, the tests and the benchmarks: espeak-ng synthesis (cached on disk), WAV loading, tones, and the
 * energy measures the simulated patient and the assertions share.
 *
 * Audio is always mono signed 16-bit PCM ({@link Pcm}). espeak-ng speaks at 22.05 kHz; sox
 * resamples to whatever rate the caller asks for, so a patient can publish frames untouched.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Mono signed 16-bit PCM. */
export interface Pcm {
  readonly samples: Int16Array;
  readonly sampleRate: number;
}

export interface SynthesizeOptions {
  /** An espeak-ng voice (`espeak-ng --voices`), optionally with a variant: `en-us+f3`. */
  voice: string;
  /** espeak-ng `-s`. @defaultValue 175 (espeak-ng's own default) */
  wordsPerMinute: number;
  /** Output sample rate in Hz. @defaultValue 48000, WebRTC's native rate */
  sampleRate: number;
  /** Where synthesised audio is kept between runs. @defaultValue `<repo>/.cache/speech` */
  cacheDir: string;
}

export const synthesizeDefaults: Readonly<SynthesizeOptions> = Object.freeze({
  voice: 'en-us',
  wordsPerMinute: 175,
  sampleRate: 48_000,
  cacheDir: fileURLToPath(new URL('../.cache/speech/', import.meta.url)),
});

/** dBFS reported for digital silence, so energies stay finite and can be averaged. */
export const DBFS_FLOOR = -120;

/** Bumped when the synthesis pipeline changes, so stale cache entries are never read. */
const CACHE_FORMAT = 1;

/** Where {@link synthesize} keeps (or would keep) the audio for these inputs. */
export function speechCachePath(text: string, options: Partial<SynthesizeOptions> = {}): string {
  const o = resolveSynthesizeOptions(options);
  const key = JSON.stringify([CACHE_FORMAT, text, o.voice, o.wordsPerMinute, o.sampleRate]);
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 32);
  return join(o.cacheDir, `${hash}.s16le`);
}

/**
 * Speaks `text` with espeak-ng and returns it as PCM at `sampleRate`. The result is cached on
 * disk, keyed by (text, voice, speed, rate), so repeated runs do not re-synthesise.
 */
export async function synthesize(
  text: string,
  options: Partial<SynthesizeOptions> = {},
): Promise<Pcm> {
  if (text.trim() === '') throw new RangeError('synthesize: text is empty');
  const o = resolveSynthesizeOptions(options);
  const path = speechCachePath(text, o);

  const cached = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (cached) return { samples: int16View(cached), sampleRate: o.sampleRate };

  const wav = await runTool(
    'espeak-ng',
    ['--stdin', '--stdout', '-v', o.voice, '-s', String(o.wordsPerMinute)],
    Buffer.from(text, 'utf8'),
  );
  const raw = await runTool('sox', ['-t', 'wav', '-', ...rawOutputArgs(o.sampleRate)], wav);
  if (raw.length < 2) throw new Error('synthesize: espeak-ng produced no audio');

  // Write then rename: a concurrent run (another test file or engineer) never reads half a file.
  await mkdir(o.cacheDir, { recursive: true });
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, raw);
  await rename(tmp, path).catch(async (err: unknown) => {
    await rm(tmp, { force: true });
    throw err;
  });
  return { samples: int16View(raw), sampleRate: o.sampleRate };
}

/**
 * Reads an audio file sox understands (WAV and others) as mono PCM, mixing channels down and
 * resampling to `sampleRate` when given; otherwise the file's own rate is kept.
 */
export async function readWav(path: string, options: { sampleRate?: number } = {}): Promise<Pcm> {
  const sampleRate =
    options.sampleRate ?? Number((await runTool('sox', ['--i', '-r', path])).toString().trim());
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new RangeError(`readWav: invalid sample rate ${sampleRate}`);
  }
  const raw = await runTool('sox', [path, ...rawOutputArgs(sampleRate)]);
  return { samples: int16View(raw), sampleRate };
}

/** Duration of `pcm` in milliseconds. */
export function durationMs(pcm: Pcm): number {
  return (pcm.samples.length / pcm.sampleRate) * 1000;
}

/** RMS level of `samples[start, end)` in dBFS (a full-scale square wave is 0 dBFS). */
export function rmsDbfs(samples: Int16Array, start = 0, end = samples.length): number {
  const n = end - start;
  if (n <= 0) return DBFS_FLOOR;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const v = samples[i] ?? 0;
    sum += v * v;
  }
  const rms = Math.sqrt(sum / n) / 32768;
  return rms > 0 ? Math.max(DBFS_FLOOR, 20 * Math.log10(rms)) : DBFS_FLOOR;
}

/**
 * RMS level in dBFS of each whole `frameMs` frame of `pcm` (a trailing partial frame is dropped).
 * At rates where a frame is not a whole number of samples, frames are rounded down to whole ones.
 */
export function frameEnergies(pcm: Pcm, frameMs = 10): number[] {
  const size = analysisFrameSamples(pcm.sampleRate, frameMs);
  const out: number[] = [];
  for (let start = 0; start + size <= pcm.samples.length; start += size) {
    out.push(rmsDbfs(pcm.samples, start, start + size));
  }
  return out;
}

export interface SpeechBoundsOptions {
  /** A frame at or above this level counts as speech. @defaultValue -45 */
  thresholdDbfs: number;
  /** @defaultValue 10 */
  frameMs: number;
}

/**
 * Where speech starts and ends inside `pcm`, in ms from its start: the first frame at or above
 * the threshold, and the end of the last one. `undefined` when no frame reaches it.
 */
export function speechBounds(
  pcm: Pcm,
  options: Partial<SpeechBoundsOptions> = {},
): { startMs: number; endMs: number } | undefined {
  const { thresholdDbfs = -45, frameMs = 10 } = options;
  const energies = frameEnergies(pcm, frameMs);
  const first = energies.findIndex((e) => e >= thresholdDbfs);
  if (first < 0) return undefined;
  const last = energies.findLastIndex((e) => e >= thresholdDbfs);
  const msPerFrame = (analysisFrameSamples(pcm.sampleRate, frameMs) / pcm.sampleRate) * 1000;
  return { startMs: first * msPerFrame, endMs: (last + 1) * msPerFrame };
}

export interface ToneOptions {
  /** @defaultValue 440 */
  frequencyHz: number;
  durationMs: number;
  /** @defaultValue 48000 */
  sampleRate: number;
  /** Peak level; the RMS of a sine is 3 dB below it. @defaultValue -12 */
  peakDbfs: number;
}

/** A sine tone. */
export function tone(options: Partial<ToneOptions> & Pick<ToneOptions, 'durationMs'>): Pcm {
  const { frequencyHz = 440, durationMs: ms, sampleRate = 48_000, peakDbfs = -12 } = options;
  if (!(ms >= 0)) throw new RangeError(`tone: durationMs must be >= 0, got ${ms}`);
  const amplitude = 32767 * 10 ** (peakDbfs / 20);
  const samples = new Int16Array(Math.round((ms / 1000) * sampleRate));
  for (let i = 0; i < samples.length; i++) {
    samples[i] = Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / sampleRate));
  }
  return { samples, sampleRate };
}

/** Digital silence. */
export function silence(ms: number, sampleRate = 48_000): Pcm {
  if (!(ms >= 0)) throw new RangeError(`silence: ms must be >= 0, got ${ms}`);
  return { samples: new Int16Array(Math.round((ms / 1000) * sampleRate)), sampleRate };
}

/** Joins clips that share one sample rate. */
export function concatPcm(...parts: Pcm[]): Pcm {
  const first = parts[0];
  if (!first) throw new RangeError('concatPcm: nothing to join');
  const samples = new Int16Array(parts.reduce((n, p) => n + p.samples.length, 0));
  let offset = 0;
  for (const p of parts) {
    if (p.sampleRate !== first.sampleRate) {
      throw new RangeError(`concatPcm: mixed sample rates ${first.sampleRate} and ${p.sampleRate}`);
    }
    samples.set(p.samples, offset);
    offset += p.samples.length;
  }
  return { samples, sampleRate: first.sampleRate };
}

/** Samples in one `frameMs` frame; the rate must divide into whole frames. */
export function samplesPerFrame(sampleRate: number, frameMs: number): number {
  const n = (sampleRate * frameMs) / 1000;
  if (!Number.isInteger(n) || n <= 0) {
    throw new RangeError(`${frameMs} ms is not a whole number of samples at ${sampleRate} Hz`);
  }
  return n;
}

function analysisFrameSamples(sampleRate: number, frameMs: number): number {
  const n = Math.floor((sampleRate * frameMs) / 1000);
  if (n <= 0) throw new RangeError(`${frameMs} ms holds no samples at ${sampleRate} Hz`);
  return n;
}

function resolveSynthesizeOptions(options: Partial<SynthesizeOptions>): SynthesizeOptions {
  const o = { ...synthesizeDefaults, ...stripUndefined(options) };
  if (!/^[\w+-]+$/.test(o.voice)) throw new RangeError(`synthesize: invalid voice "${o.voice}"`);
  if (!Number.isInteger(o.wordsPerMinute) || o.wordsPerMinute < 80 || o.wordsPerMinute > 450) {
    throw new RangeError(`synthesize: wordsPerMinute must be an integer in 80..450`);
  }
  if (!Number.isInteger(o.sampleRate) || o.sampleRate < 8000 || o.sampleRate > 96_000) {
    throw new RangeError(`synthesize: sampleRate must be an integer in 8000..96000`);
  }
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function rawOutputArgs(sampleRate: number): string[] {
  return [
    '-t',
    'raw',
    '-e',
    'signed-integer',
    '-b',
    '16',
    '-c',
    '1',
    '-r',
    String(sampleRate),
    '-',
  ];
}

/** An Int16Array over the bytes of `buf`, copied when `buf` is not 2-byte aligned. */
function int16View(buf: Buffer): Int16Array {
  const even = buf.subarray(0, buf.length - (buf.length % 2));
  if (even.byteOffset % 2 === 0) {
    return new Int16Array(even.buffer, even.byteOffset, even.length / 2);
  }
  return new Int16Array(Uint8Array.from(even).buffer);
}

/**
 * Runs a tool (no shell), feeding `input` to stdin; resolves with its stdout. A tool that is not
 * installed rejects with `missingHint`, the line that says what to install.
 */
export function runTool(
  cmd: string,
  args: readonly string[],
  input?: Buffer,
  missingHint = 'apt-get install espeak-ng sox',
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'ENOENT'
          ? new Error(`${cmd} is not installed: ${missingHint}`, { cause: e })
          : e,
      );
    });
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${cmd} exited ${code}: ${Buffer.concat(err).toString().trim()}`));
    });
    // EPIPE when the tool exits before reading all input surfaces through 'close' instead.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}
