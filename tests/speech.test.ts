import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DBFS_FLOOR,
  concatPcm,
  durationMs,
  frameEnergies,
  readWav,
  rmsDbfs,
  silence,
  speechBounds,
  speechCachePath,
  synthesize,
  tone,
} from '../sim/speech.ts';

const run = promisify(execFile);
const SENTENCE = 'I take my blood pressure tablets every morning with breakfast.';

let cacheDir: string;
beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'speech-test-'));
});
afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

describe('espeak-ng synthesis', () => {
  it('produces audio as long as the words take to say, with speech energy in it', async () => {
    const pcm = await synthesize(SENTENCE, { cacheDir });
    expect(pcm.sampleRate).toBe(48_000);
    // Ten words at 175 wpm take ~3.4 s; espeak-ng adds pauses and a short tail.
    expect(durationMs(pcm)).toBeGreaterThan(2000);
    expect(durationMs(pcm)).toBeLessThan(6000);

    const bounds = speechBounds(pcm);
    expect(bounds).toBeDefined();
    expect(bounds!.endMs - bounds!.startMs).toBeGreaterThan(0.8 * durationMs(pcm) - 500);
    const speechStart = Math.round((bounds!.startMs / 1000) * pcm.sampleRate);
    const speechEnd = Math.round((bounds!.endMs / 1000) * pcm.sampleRate);
    expect(rmsDbfs(pcm.samples, speechStart, speechEnd)).toBeGreaterThan(-30);
  });

  it('speaks more slowly at a lower words-per-minute', async () => {
    const slow = await synthesize(SENTENCE, { cacheDir, wordsPerMinute: 120 });
    const fast = await synthesize(SENTENCE, { cacheDir, wordsPerMinute: 260 });
    expect(durationMs(slow) / durationMs(fast)).toBeGreaterThan(1.5);
  });

  it('uses the voice it is given', async () => {
    const male = await synthesize(SENTENCE, { cacheDir, voice: 'en-us' });
    const female = await synthesize(SENTENCE, { cacheDir, voice: 'en-us+f3' });
    expect(Buffer.from(female.samples.buffer).equals(Buffer.from(male.samples.buffer))).toBe(false);
    await expect(synthesize(SENTENCE, { cacheDir, voice: 'zz-nope' })).rejects.toThrow(
      /espeak-ng exited 1/,
    );
  });

  it('resamples to the requested rate without changing the duration', async () => {
    const wide = await synthesize(SENTENCE, { cacheDir, sampleRate: 48_000 });
    const narrow = await synthesize(SENTENCE, { cacheDir, sampleRate: 16_000 });
    expect(narrow.sampleRate).toBe(16_000);
    expect(Math.abs(durationMs(narrow) - durationMs(wide))).toBeLessThan(5);
  });

  it('serves a repeated request from the disk cache instead of synthesising again', async () => {
    const text = `Cache probe ${Date.now()}: my knee hurts when I climb stairs.`;
    const path = speechCachePath(text, { cacheDir });
    expect(existsSync(path)).toBe(false);

    const missStarted = performance.now();
    const first = await synthesize(text, { cacheDir });
    const missMs = performance.now() - missStarted;
    expect(existsSync(path)).toBe(true);

    const hitStarted = performance.now();
    const again = await synthesize(text, { cacheDir });
    const hitMs = performance.now() - hitStarted;
    console.log(`speech cache: miss ${missMs.toFixed(1)} ms, hit ${hitMs.toFixed(2)} ms`);
    expect(Buffer.from(again.samples.buffer).equals(Buffer.from(first.samples.buffer))).toBe(true);
    expect(hitMs).toBeLessThan(missMs);

    // Proof that the hit reads the file: replace its content and get the replacement back.
    const marker = tone({ durationMs: 50 });
    await writeFile(path, marker.samples);
    const fromCache = await synthesize(text, { cacheDir });
    expect(Array.from(fromCache.samples)).toEqual(Array.from(marker.samples));
  });

  it('keys the cache by text, voice, speed and rate', () => {
    const base = speechCachePath(SENTENCE, { cacheDir });
    const variants = [
      speechCachePath(`${SENTENCE} `, { cacheDir }),
      speechCachePath(SENTENCE, { cacheDir, voice: 'en-gb' }),
      speechCachePath(SENTENCE, { cacheDir, wordsPerMinute: 176 }),
      speechCachePath(SENTENCE, { cacheDir, sampleRate: 24_000 }),
    ];
    expect(new Set([base, ...variants]).size).toBe(5);
    expect(base.startsWith(cacheDir)).toBe(true);
  });

  it('rejects empty text and out-of-range options before running espeak-ng', async () => {
    await expect(synthesize('   ', { cacheDir })).rejects.toBeInstanceOf(RangeError);
    await expect(synthesize(SENTENCE, { cacheDir, wordsPerMinute: 5 })).rejects.toBeInstanceOf(
      RangeError,
    );
    await expect(synthesize(SENTENCE, { cacheDir, voice: 'en; rm -rf /' })).rejects.toBeInstanceOf(
      RangeError,
    );
  });
});

describe('WAV files', () => {
  it('reads a WAV file at its own rate, or resampled to the requested one', async () => {
    const wav = join(cacheDir, 'clip.wav');
    await run('espeak-ng', ['-w', wav, 'Yes, I have some chest pain.']);

    const native = await readWav(wav);
    expect(native.sampleRate).toBe(22_050); // espeak-ng's output rate
    expect(speechBounds(native)).toBeDefined();

    const resampled = await readWav(wav, { sampleRate: 48_000 });
    expect(resampled.sampleRate).toBe(48_000);
    expect(Math.abs(durationMs(resampled) - durationMs(native))).toBeLessThan(5);
  });
});

describe('energy and tones', () => {
  it('measures a sine tone 3 dB below its peak, and silence at the floor', () => {
    // 500 Hz: a whole number of cycles in every 10 ms frame, so each frame measures the same.
    const energies = frameEnergies(tone({ durationMs: 200, frequencyHz: 500, peakDbfs: -12 }));
    expect(energies).toHaveLength(20);
    for (const e of energies) expect(e).toBeCloseTo(-15.0, 1);
    expect(frameEnergies(silence(100))).toEqual(new Array(10).fill(DBFS_FLOOR));
  });

  it('finds where speech starts and ends inside surrounding silence', () => {
    const clip = concatPcm(silence(300), tone({ durationMs: 500 }), silence(200));
    expect(speechBounds(clip)).toEqual({ startMs: 300, endMs: 800 });
    expect(speechBounds(silence(500))).toBeUndefined();
  });
});
