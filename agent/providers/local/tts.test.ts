import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initializeLogger, tts, type tts as ttsTypes } from '@livekit/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnknownVoiceError } from './espeak.ts';
import { LocalEngineMissingError } from './errors.ts';
import { LocalTTS } from './tts.ts';

let dir: string;
beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'silent' });
  dir = await mkdtemp(join(tmpdir(), 'local-tts-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** espeak-ng's streaming WAV header: 22050 Hz mono 16-bit, sizes unknown. */
const HEADER =
  '52494646' +
  '24f0ff7f' +
  '57415645' +
  '666d7420' +
  '10000000' +
  '0100' +
  '0100' +
  '22560000' +
  '44ac0000' +
  '0200' +
  '1000' +
  '64617461' +
  '00f0ff7f';
const printfHex = (hex: string): string => `printf '${hex.replace(/(..)/g, '\\x$1')}'`;

/**
 * A stand-in for espeak-ng: answers the voice probes like the real one (voice `nope` does not
 * exist), writes its pid, then `body` (shell) produces the synthesis.
 */
async function fakeEspeak(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    [
      '#!/bin/bash',
      'for a in "$@"; do case "$a" in',
      '  -q) for b in "$@"; do [ "$b" = nope ] && exit 1; done; exit 0 ;;',
      '  --voices=variant) echo " 5  variant  --/F  female3  !v/f3"; exit 0 ;;',
      'esac; done',
      `echo $$ > ${join(dir, `${name}.pid`)}`,
      'cat > /dev/null',
      body,
      '',
    ].join('\n'),
  );
  await chmod(path, 0o755);
  return path;
}

/** `ms` of audio at 22050 Hz: samples of 0x0101 (257). */
const audio = (ms: number): string =>
  `head -c ${((22_050 * ms) / 1000) * 2} /dev/zero | tr '\\0' '\\1'`;

async function collect(stream: ttsTypes.ChunkedStream) {
  const started = performance.now();
  const frames: { atMs: number; samples: number; final: boolean; sampleRate: number }[] = [];
  for await (const a of stream) {
    frames.push({
      atMs: performance.now() - started,
      samples: a.frame.samplesPerChannel,
      final: a.final,
      sampleRate: a.frame.sampleRate,
    });
  }
  return { frames, totalMs: performance.now() - started };
}

/** Runs `fn`, collecting the unhandled rejections it causes instead of failing the run. */
async function withUnhandledRejections<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; unhandled: unknown[] }> {
  const unhandled: unknown[] = [];
  const previous = process.listeners('unhandledRejection');
  const record = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', record);
  try {
    const result = await fn();
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { result, unhandled };
  } finally {
    process.off('unhandledRejection', record);
    for (const listener of previous) process.on('unhandledRejection', listener);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('local TTS (stand-in espeak-ng)', () => {
  it('is a non-streaming framework TTS, so sessions feed it sentence by sentence', async () => {
    const binary = await fakeEspeak('plain', `${printfHex(HEADER)}; ${audio(100)}`);
    const voice = new LocalTTS({ binary });
    expect(voice).toBeInstanceOf(tts.TTS);
    expect(voice.capabilities.streaming).toBe(false);
    expect(voice.sampleRate).toBe(22_050);
    expect(voice.wordsPerMinute).toBe(175);
  });

  it('yields frames as espeak-ng writes them, not when it finishes', async () => {
    const binary = await fakeEspeak(
      'slow',
      `${printfHex(HEADER)}; ${audio(100)}; sleep 1; ${audio(100)}`,
    );
    const { frames, totalMs } = await collect(new LocalTTS({ binary }).synthesize('Hello.'));
    expect(totalMs).toBeGreaterThanOrEqual(1000);
    expect(frames[0]?.atMs).toBeLessThan(800);
    expect(frames.filter((f) => f.atMs < 800).length).toBeGreaterThanOrEqual(4);
  });

  it('cuts the audio into frames of frameMs and marks only the last one final', async () => {
    const binary = await fakeEspeak('frames', `${printfHex(HEADER)}; ${audio(210)}`);
    const { frames } = await collect(new LocalTTS({ binary, frameMs: 20 }).synthesize('Hi.'));
    // 210 ms at 22050 Hz = 4630.5 samples → 4630: ten frames of 441 and a last one of 220.
    expect(frames.map((f) => f.samples)).toEqual([...Array(10).fill(441), 220]);
    expect(frames.map((f) => f.final)).toEqual([...Array(10).fill(false), true]);
    expect(new Set(frames.map((f) => f.sampleRate))).toEqual(new Set([22_050]));
  });

  it('kills espeak-ng when the stream is closed mid-synthesis', async () => {
    const binary = await fakeEspeak(
      'endless',
      `${printfHex(HEADER)}; ${audio(100)}; exec sleep 30`,
    );
    const stream = new LocalTTS({ binary }).synthesize('A very long answer.');
    const first = await stream.next();
    expect(first.done).toBe(false);
    const pid = Number(await readFile(`${binary}.pid`, 'utf8'));
    expect(alive(pid)).toBe(true);
    stream.close();
    await expect.poll(() => alive(pid), { timeout: 2_000 }).toBe(false);
  });

  it('kills every synthesis still running when the TTS is closed', async () => {
    const binary = await fakeEspeak('closing', `${printfHex(HEADER)}; ${audio(40)}; exec sleep 30`);
    const voice = new LocalTTS({ binary });
    const stream = voice.synthesize('Still talking.');
    await stream.next();
    const pid = Number(await readFile(`${binary}.pid`, 'utf8'));
    await voice.close();
    expect(alive(pid)).toBe(false);
  });

  it('reports a failed synthesis as a TTS error', async () => {
    const binary = await fakeEspeak('broken', 'echo "Error: out of memory" >&2; exit 3');
    const voice = new LocalTTS({ binary });
    const errors: Error[] = [];
    voice.on('error', (e) => errors.push(e.error));
    const { result, unhandled } = await withUnhandledRejections(() =>
      collect(voice.synthesize('Hello.')),
    );
    expect(result.frames).toHaveLength(0);
    expect(errors.map((e) => e.message)).toEqual(['espeak-ng exited 3: Error: out of memory']);
    // The framework's ChunkedStream rethrows after emitting the error, on a promise nobody
    // awaits; job processes log such rejections at debug level.
    expect(unhandled).toEqual(errors);
  });

  it('says nothing for empty text without starting espeak-ng', async () => {
    const binary = await fakeEspeak('silent', `${printfHex(HEADER)}; ${audio(100)}`);
    const { frames } = await collect(new LocalTTS({ binary }).synthesize('  \n '));
    expect(frames).toHaveLength(0);
    await expect(readFile(`${binary}.pid`, 'utf8')).rejects.toThrow();
  });

  it('refuses, at construction, a voice or variant espeak-ng lacks, a bad speed, a missing binary', async () => {
    const binary = await fakeEspeak('voices', 'exit 0');
    expect(() => new LocalTTS({ binary, voice: 'nope' })).toThrow(UnknownVoiceError);
    expect(() => new LocalTTS({ binary, voice: 'en-us+m9' })).toThrow(/no voice variant "m9"/);
    expect(new LocalTTS({ binary, voice: 'en-us+f3' }).model).toBe('espeak-ng:en-us+f3');
    expect(() => new LocalTTS({ binary, speed: 1.5 })).toThrow(RangeError);
    expect(() => new LocalTTS({ binary: join(dir, 'missing') })).toThrow(LocalEngineMissingError);
  });
});
