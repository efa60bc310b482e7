/**
 * The local (offline) speech providers against the real engines, through the framework's STT and
 * TTS API, with no LiveKit: espeak-ng speaks known phrases, pocketsphinx hears them.
 *
 * Synthetic speech is a narrow test of a recogniser: it says every phrase the same way. What it
 * does catch is a grammar that no longer matches what is asked, an audio path that garbles the
 * signal, and a provider that stops honouring the framework's contracts.
 */
import { fileURLToPath } from 'node:url';
import { initializeLogger, stt, type VAD } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { AudioFrame } from '@livekit/rtc-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Expectation } from '../agent/protocol/expectation.ts';
import { ExpectationBoard } from '../agent/protocol/expectation.ts';
import {
  LocalSTT,
  LocalTTS,
  UnknownVoiceError,
  type LocalRecognitionMetadata,
} from '../agent/providers/local/index.ts';
import { readProfile } from '../prompts/loader.ts';
import type { Profile } from '../prompts/schema.ts';
import {
  type Pcm,
  concatPcm,
  durationMs,
  rmsDbfs,
  silence,
  speechBounds,
  synthesize,
} from './support/speech.ts';

/** What LiveKit hands the agent. */
const RATE = 48_000;

let profile: Profile;
let board: ExpectationBoard;
let recogniser: LocalSTT;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'silent' });
  profile = await readProfile(fileURLToPath(new URL('../prompts/intake.yaml', import.meta.url)));
  board = new ExpectationBoard();
  recogniser = new LocalSTT({
    expectation: board,
    safetyPhrases: profile.safety.flatMap((rule) => rule.phrases ?? []),
    endPhrases: profile.endPhrases,
  });
});

afterAll(async () => {
  await recogniser?.close();
});

function step(id: string): Expectation {
  const s = profile.protocol.find((p) => p.id === id);
  if (!s) throw new Error(`intake has no step ${id}`);
  return { kind: 'capture', stepId: s.id, capture: s.capture };
}

const medicationChanges = (): Expectation => step('medication-changes');
const painScore = (): Expectation => step('pain-score');
const contact = (): Expectation => step('contact-preference');
const age = (): Expectation => ({
  kind: 'capture',
  stepId: 'age',
  capture: { field: 'age', type: 'number', min: 0, max: 100 },
});

/** An utterance as the session's VAD hands it over: ~0.5 s of lead-in and of trailing silence. */
async function utterance(text: string, voice = 'en-us'): Promise<AudioFrame> {
  const speech = await synthesize(text, { voice, sampleRate: RATE });
  const pcm = concatPcm(silence(500, RATE), speech, silence(550, RATE));
  return new AudioFrame(pcm.samples, RATE, 1, pcm.samples.length);
}

interface Heard {
  text: string;
  meta: LocalRecognitionMetadata;
  confidence: number;
  ms: number;
  audioMs: number;
}

async function hear(expectation: Expectation, text: string, voice?: string): Promise<Heard> {
  board.set(expectation);
  const frame = await utterance(text, voice);
  const started = performance.now();
  const event = await recogniser.recognize(frame);
  const ms = performance.now() - started;
  const alt = event.alternatives?.[0];
  expect(event.type).toBe(stt.SpeechEventType.FINAL_TRANSCRIPT);
  return {
    text: alt?.text ?? '',
    meta: alt?.metadata as unknown as LocalRecognitionMetadata,
    confidence: alt?.confidence ?? 0,
    ms,
    audioMs: (frame.samplesPerChannel / RATE) * 1000,
  };
}

describe('local STT hears synthesised answers', () => {
  it('hears yes and no, in their common forms, during a yes/no question', async () => {
    for (const [said, meaning] of [
      ['yes', true],
      ['no', false],
      ["I don't", false],
      ['yes I do', true],
    ] as const) {
      const heard = await hear(medicationChanges(), said);
      expect(heard.meta, said).toMatchObject({
        mode: 'grammar',
        match: 'expected',
        value: meaning,
      });
    }
  });

  it('hears numbers during a number question', async () => {
    const seven = await hear(painScore(), 'seven');
    expect(seven.text).toBe('seven');
    expect(seven.meta).toMatchObject({ grammar: 'number', value: 7 });
    const twelve = await hear(age(), 'twelve');
    expect(twelve.text).toBe('twelve');
    expect(twelve.meta.value).toBe(12);
  });

  it('hears a choice as the profile writes it', async () => {
    const heard = await hear(contact(), 'text message');
    expect(heard.text).toBe('text message');
    expect(heard.meta).toMatchObject({ grammar: 'choice', value: 'text message' });
  });

  it('hears a red flag while a yes/no answer is expected', async () => {
    const heard = await hear(medicationChanges(), 'I have chest pain');
    expect(heard.meta).toMatchObject({ match: 'safety', value: 'chest pain' });
    expect(heard.text).toContain('chest pain');
  });

  it('hears an end phrase during a question', async () => {
    const heard = await hear(painScore(), 'goodbye');
    expect(heard.meta.match).toBe('end');
    expect(['goodbye', 'bye']).toContain(heard.text);
  });

  it('falls back to the general language model for free speech', async () => {
    const heard = await hear({ kind: 'open' }, 'what did you say');
    expect(heard.meta).toEqual({ engine: 'pocketsphinx', mode: 'lm', reason: 'open' });
    expect(heard.text.length).toBeGreaterThan(0);
    console.log(`[local-stt] language model heard "what did you say" as "${heard.text}"`);
  });

  /**
   * Twenty answers to the intake questions, in two voices. The decoder settings were tuned on a
   * wider set (26 answers in 4 voices: 90% right; 87% on 4 voices not used for tuning), and this
   * set gets 36 of 40 (90%) here. The threshold, 80%, leaves room for voice-to-voice variation and
   * still fails when the grammar stops doing its job: the general language model gets 8 of these
   * 40 word for word.
   */
  it('gets at least 80% of twenty answers right, and reports how fast', async () => {
    const cases: [
      () => Expectation,
      string,
      LocalRecognitionMetadata['value'] | 'safety' | 'end',
    ][] = [
      [medicationChanges, 'yes', true],
      [medicationChanges, 'no', false],
      [medicationChanges, 'yeah', true],
      [medicationChanges, 'nope', false],
      [medicationChanges, 'I do', true],
      [medicationChanges, 'not really', false],
      [medicationChanges, 'yes I have', true],
      [painScore, 'zero', 0],
      [painScore, 'three', 3],
      [painScore, 'five', 5],
      [painScore, 'eight', 8],
      [painScore, 'ten', 10],
      [age, 'forty two', 42],
      [age, 'seventy', 70],
      [contact, 'phone call', 'phone call'],
      [contact, 'email', 'email'],
      [medicationChanges, 'I am having trouble breathing', 'safety'],
      [painScore, 'I feel short of breath', 'safety'],
      [contact, 'hang up', 'end'],
      [() => ({ kind: 'confirm', stepId: 'pain-score' }), 'yes', true],
    ];
    const rows: string[] = [];
    const latencies: number[] = [];
    let audioMs = 0;
    let right = 0;
    let total = 0;
    for (const voice of ['en-us', 'en-us+f3']) {
      for (const [expectation, said, want] of cases) {
        const heard = await hear(expectation(), said, voice);
        const got = heard.meta.match === 'expected' ? heard.meta.value : heard.meta.match;
        const ok = got === want;
        right += ok ? 1 : 0;
        total += 1;
        latencies.push(heard.ms);
        audioMs += heard.audioMs;
        rows.push(
          `${ok ? 'ok  ' : 'MISS'} ${voice.padEnd(9)} ${said.padEnd(30)} → ${heard.text.padEnd(24)} ` +
            `conf ${heard.confidence.toFixed(2)} ${heard.ms.toFixed(0).padStart(4)} ms`,
        );
      }
    }
    latencies.sort((a, b) => a - b);
    const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
    const p50 = latencies[Math.floor(latencies.length / 2)] ?? 0;
    const max = latencies[latencies.length - 1] ?? 0;
    console.log(
      [
        ...rows,
        `[local-stt] accuracy ${right}/${total} (${((100 * right) / total).toFixed(0)}%); ` +
          `recognition latency mean ${mean.toFixed(0)} ms, p50 ${p50.toFixed(0)} ms, ` +
          `max ${max.toFixed(0)} ms; ${(latencies.reduce((a, b) => a + b, 0) / audioMs).toFixed(3)} ` +
          `of real time`,
      ].join('\n'),
    );
    expect(right / total).toBeGreaterThanOrEqual(0.8);
  });
});

describe('local STT in a stream, cut into utterances by a VAD', () => {
  let vad: VAD;
  beforeAll(async () => {
    vad = await silero.VAD.load();
  });

  it('transcribes each utterance of a continuous stream once', async () => {
    board.set(medicationChanges());
    const streaming = new LocalSTT({
      expectation: board,
      safetyPhrases: ['chest pain'],
      endPhrases: ['goodbye'],
      vad,
    });
    const stream = streaming.stream();
    const audio = concatPcm(
      silence(300, RATE),
      await synthesize('yes', { sampleRate: RATE }),
      silence(1200, RATE),
      await synthesize('I have chest pain', { sampleRate: RATE }),
      silence(1200, RATE),
    );
    // As a session does: frames in, events out, the stream left open. (Ending the input is not
    // an option: VADStream.endInput in @livekit/agents 1.9 fails with "WritableStream is locked".)
    const frameSamples = RATE / 100;
    for (let i = 0; i + frameSamples <= audio.samples.length; i += frameSamples) {
      const data = audio.samples.slice(i, i + frameSamples);
      stream.pushFrame(new AudioFrame(data, RATE, 1, frameSamples));
    }
    const finals: LocalRecognitionMetadata[] = [];
    const deadline = setTimeout(() => stream.close(), 30_000);
    for await (const event of stream) {
      if (event.type === stt.SpeechEventType.FINAL_TRANSCRIPT) {
        finals.push(event.alternatives?.[0]?.metadata as unknown as LocalRecognitionMetadata);
        if (finals.length === 2) break;
      }
    }
    clearTimeout(deadline);
    stream.close();
    await streaming.close();
    expect(finals).toHaveLength(2);
    expect(finals[0]).toMatchObject({ match: 'expected', value: true });
    expect(finals[1]).toMatchObject({ match: 'safety', value: 'chest pain' });
  });
});

describe('local TTS speaks with espeak-ng', () => {
  async function speak(text: string, opts: { voice?: string; speed?: number } = {}) {
    const voice = new LocalTTS(opts);
    const started = performance.now();
    let firstMs = -1;
    const chunks: Int16Array[] = [];
    let finals = 0;
    for await (const audio of voice.synthesize(text)) {
      if (firstMs < 0) firstMs = performance.now() - started;
      chunks.push(audio.frame.data.slice(0, audio.frame.samplesPerChannel));
      if (audio.final) finals += 1;
      expect(audio.frame.sampleRate).toBe(voice.sampleRate);
    }
    const totalMs = performance.now() - started;
    await voice.close();
    const pcm: Pcm = concatPcm(...chunks.map((samples) => ({ samples, sampleRate: 22_050 })));
    return { pcm, firstMs, totalMs, frames: chunks.length, finals };
  }

  const SENTENCE = 'Have any of your medicines changed since your last visit?';

  /**
   * espeak-ng at 175 words per minute says ~16 characters a second (about 60 ms each, measured
   * 61 ms on long text), plus a short lead-in and tail. 40–110 ms per character allows for
   * voice and punctuation and still fails for audio cut short or doubled.
   */
  it('produces audio of plausible duration, with speech energy, in 20 ms frames', async () => {
    const { pcm, frames, finals } = await speak(SENTENCE);
    const msPerChar = durationMs(pcm) / SENTENCE.length;
    console.log(
      `[local-tts] "${SENTENCE}": ${durationMs(pcm).toFixed(0)} ms, ${msPerChar.toFixed(1)} ms/char`,
    );
    expect(msPerChar).toBeGreaterThan(40);
    expect(msPerChar).toBeLessThan(110);
    expect(frames).toBeGreaterThan(durationMs(pcm) / 20 - 1);
    expect(finals).toBe(1);
    expect(rmsDbfs(pcm.samples)).toBeGreaterThan(-35);
    const bounds = speechBounds(pcm);
    expect(bounds).toBeDefined();
    expect((bounds?.endMs ?? 0) - (bounds?.startMs ?? 0)).toBeGreaterThan(0.8 * durationMs(pcm));
  });

  it('yields its first frame long before the synthesis of a long text completes', async () => {
    const long = Array.from({ length: 8 }, () => `${SENTENCE} It takes about five minutes.`).join(
      ' ',
    );
    const { pcm, firstMs, totalMs } = await speak(long);
    console.log(
      `[local-tts] ${(durationMs(pcm) / 1000).toFixed(1)} s of speech: first frame after ` +
        `${firstMs.toFixed(0)} ms, all of it after ${totalMs.toFixed(0)} ms`,
    );
    expect(firstMs).toBeLessThan(totalMs / 2);
  });

  it('speaks slower and faster with the profile speed', async () => {
    const slow = durationMs((await speak(SENTENCE, { speed: 0.7 })).pcm);
    const normal = durationMs((await speak(SENTENCE, { speed: 1 })).pcm);
    const fast = durationMs((await speak(SENTENCE, { speed: 1.2 })).pcm);
    expect(slow).toBeGreaterThan(normal * 1.2);
    expect(fast).toBeLessThan(normal * 0.95);
  });

  it('speaks in the voice the profile names, and refuses one espeak-ng lacks', async () => {
    const female = await speak('Thank you.', { voice: 'en-us+f3' });
    expect(rmsDbfs(female.pcm.samples)).toBeGreaterThan(-35);
    expect(() => new LocalTTS({ voice: 'xx-nowhere' })).toThrow(UnknownVoiceError);
    expect(() => new LocalTTS({ voice: 'xx-nowhere' })).toThrow(
      'espeak-ng has no voice "xx-nowhere" (list them with: espeak-ng --voices=en)',
    );
  });

  it('is understood by the local STT: an offline round trip', async () => {
    const voice = new LocalTTS({ voice: 'en-us' });
    const frames: AudioFrame[] = [];
    for await (const audio of voice.synthesize('No.')) frames.push(audio.frame);
    await voice.close();
    board.set(medicationChanges());
    const lead = silence(500, 22_050);
    const event = await recogniser.recognize([
      new AudioFrame(lead.samples, 22_050, 1, lead.samples.length),
      ...frames,
      new AudioFrame(lead.samples, 22_050, 1, lead.samples.length),
    ]);
    expect(event.alternatives?.[0]?.metadata).toMatchObject({ match: 'expected', value: false });
  });
});
