import { initializeLogger, stt } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExpectationBoard } from '../../protocol/expectation.ts';
import { PronunciationDictionary } from './dictionary.ts';
import { LocalEngineMissingError } from './errors.ts';
import type { DecodeResult, GrammarSource, Search, SpeechDecoder } from './pocketsphinx.ts';
import { LocalSTT, confidenceOf } from './stt.ts';

beforeAll(() => {
  initializeLogger({ pretty: false, level: 'silent' });
});

const DICT = PronunciationDictionary.parse(
  [
    'yes Y EH S',
    'yeah Y AE',
    'no N OW',
    'chest CH EH S T',
    'pain P EY N',
    'goodbye G UH D B AY',
    'seven S EH V AH N',
    'three TH R IY',
  ].join('\n'),
);

/** Records what it is asked; answers with scripted words; fails or hangs on request. */
class FakeDecoder implements SpeechDecoder {
  compiled: GrammarSource[] = [];
  decoded: { samples: number; search: Search }[] = [];
  words: string[] = [];
  failWith: Error | undefined;
  hang = false;
  closed = false;

  async compile(grammar: GrammarSource): Promise<Search> {
    this.compiled.push(grammar);
    return { kind: 'grammar', jsgfPath: `g${this.compiled.length}.gram`, dictionaryPath: 'd' };
  }

  async decode(audio: Int16Array, search: Search, signal?: AbortSignal): Promise<DecodeResult> {
    this.decoded.push({ samples: audio.length, search });
    if (this.failWith) throw this.failWith;
    if (this.hang) {
      await new Promise((_, reject) =>
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true }),
      );
    }
    return {
      acousticScore: -1000,
      frames: 100,
      words: this.words.map((word, i) => ({
        word,
        startFrame: 10 + i * 20,
        endFrame: 30 + i * 20,
        acousticScore: -600,
      })),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function speech(ms = 800, rate = 48_000): AudioFrame {
  const n = (rate * ms) / 1000;
  const data = new Int16Array(n).map((_, i) => Math.round(5000 * Math.sin(i / 7)));
  return new AudioFrame(data, rate, 1, n);
}

function setup() {
  const board = new ExpectationBoard();
  const decoder = new FakeDecoder();
  const recogniser = new LocalSTT({
    expectation: board,
    safetyPhrases: ['chest pain'],
    endPhrases: ['goodbye'],
    decoder,
    dictionary: DICT,
  });
  return { board, decoder, recogniser };
}

const yesno = { kind: 'capture', stepId: 'a', capture: { field: 'a', type: 'yesno' } } as const;

describe('local STT (fake decoder)', () => {
  it('is a non-streaming framework STT, so sessions cut utterances with their VAD', () => {
    const { recogniser } = setup();
    expect(recogniser).toBeInstanceOf(stt.STT);
    expect(recogniser.capabilities.streaming).toBe(false);
    expect(recogniser.provider).toBe('local');
  });

  it('decodes with the grammar of the current question and says what the words mean', async () => {
    const { board, decoder, recogniser } = setup();
    board.set(yesno);
    decoder.words = ['yeah'];
    const event = await recogniser.recognize(speech());
    expect(event.type).toBe(stt.SpeechEventType.FINAL_TRANSCRIPT);
    const alt = event.alternatives?.[0];
    expect(alt?.text).toBe('yeah');
    expect(alt?.metadata).toEqual({
      engine: 'pocketsphinx',
      mode: 'grammar',
      grammar: 'yesno',
      match: 'expected',
      value: true,
    });
    expect(alt?.endTime).toBeCloseTo(0.8, 2);
    // 48 kHz in, 16 kHz to the decoder.
    expect(decoder.decoded[0]?.samples).toBeGreaterThan(12_500);
    expect(decoder.decoded[0]?.samples).toBeLessThanOrEqual(12_800);
    const jsgf = decoder.compiled[0]?.jsgf ?? '';
    expect(jsgf).toContain('/1/ yes');
    expect(jsgf).toContain('/1/ chest pain');
    expect(jsgf).toContain('/0.1/ goodbye');
    expect(decoder.compiled[0]?.dictionary).toContain('chest CH EH S T');
  });

  it('reports a red flag heard during a yes/no question as the profile phrase', async () => {
    const { board, decoder, recogniser } = setup();
    board.set(yesno);
    decoder.words = ['chest', 'pain'];
    const alt = (await recogniser.recognize(speech())).alternatives?.[0];
    expect(alt?.text).toBe('chest pain');
    expect(alt?.metadata).toMatchObject({ match: 'safety', value: 'chest pain' });
  });

  it('builds each grammar once and reuses it for every question with the same answers', async () => {
    const { board, decoder, recogniser } = setup();
    board.set(yesno);
    await recogniser.recognize(speech());
    board.set({ kind: 'confirm', stepId: 'pain' });
    await recogniser.recognize(speech());
    board.set({ kind: 'capture', stepId: 'p', capture: { field: 'p', type: 'number', max: 10 } });
    decoder.words = ['seven'];
    const alt = (await recogniser.recognize(speech())).alternatives?.[0];
    expect(alt?.metadata).toMatchObject({ grammar: 'number', value: 7 });
    expect(decoder.compiled).toHaveLength(2);
    expect(
      decoder.decoded.map((d) => (d.search.kind === 'grammar' ? d.search.jsgfPath : 'lm')),
    ).toEqual(['g1.gram', 'g1.gram', 'g2.gram']);
  });

  it('builds the grammar of the current question ahead of the answer when prewarmed', async () => {
    const { board, decoder, recogniser } = setup();
    board.set(yesno);
    await recogniser.prewarm();
    expect(decoder.compiled).toHaveLength(1);
    await recogniser.recognize(speech());
    expect(decoder.compiled).toHaveLength(1);
  });

  it('uses the general language model for free speech', async () => {
    const { board, decoder, recogniser } = setup();
    board.set({ kind: 'open' });
    decoder.words = ['what', 'did', 'you', 'say'];
    const alt = (await recogniser.recognize(speech())).alternatives?.[0];
    expect(alt?.text).toBe('what did you say');
    expect(alt?.metadata).toEqual({ engine: 'pocketsphinx', mode: 'lm', reason: 'open' });
    expect(decoder.decoded[0]?.search).toEqual({ kind: 'lm' });
    expect(decoder.compiled).toHaveLength(0);
  });

  it('returns an empty transcript, without decoding, for a click too short to be speech', async () => {
    const { board, decoder, recogniser } = setup();
    board.set(yesno);
    const alt = (await recogniser.recognize(speech(50))).alternatives?.[0];
    expect(alt?.text).toBe('');
    expect(alt?.confidence).toBe(0);
    expect(decoder.decoded).toHaveLength(0);
  });

  it('passes a decoder failure to the caller', async () => {
    const { board, decoder, recogniser } = setup();
    board.set(yesno);
    decoder.failWith = new Error('decoder crashed');
    await expect(recogniser.recognize(speech())).rejects.toThrow('decoder crashed');
  });

  it('stops decoding when the caller aborts', async () => {
    const { board, decoder, recogniser } = setup();
    board.set(yesno);
    decoder.hang = true;
    const controller = new AbortController();
    const pending = recogniser.recognize(speech(), controller.signal);
    setTimeout(() => controller.abort(new Error('turn cancelled')), 20);
    await expect(pending).rejects.toThrow('turn cancelled');
  });

  it('closes its decoder on close', async () => {
    const { decoder, recogniser } = setup();
    await recogniser.close();
    expect(decoder.closed).toBe(true);
  });

  it('refuses options that cannot work, at construction', () => {
    const decoder = new FakeDecoder();
    expect(() => new LocalSTT({ decoder, language: 'fr-FR' })).toThrow(/only English/);
    expect(() => new LocalSTT({ decoder, weights: { expected: 1, safety: 0, end: 1 } })).toThrow(
      /weights.safety/,
    );
    expect(() => new LocalSTT({ decoder }).stream()).toThrow(/needs the vad option/);
  });

  it('fails at construction, in one line, when pocketsphinx is not installed', () => {
    expect(
      () => new LocalSTT({ pocketsphinx: { binary: '/nonexistent/pocketsphinx_batch' } }),
    ).toThrow(LocalEngineMissingError);
  });
});

describe('recognition confidence', () => {
  const result = (perFrame: number): DecodeResult => ({
    acousticScore: 0,
    frames: 100,
    words: [{ word: 'yes', startFrame: 10, endFrame: 60, acousticScore: perFrame * 50 }],
  });

  it('rises with the acoustic score per frame of the recognised words', () => {
    expect(confidenceOf(result(-20))).toBeGreaterThan(0.99);
    expect(confidenceOf(result(-55))).toBeCloseTo(0.5, 5);
    expect(confidenceOf(result(-80))).toBeLessThan(0.02);
  });

  it('is zero when nothing was recognised', () => {
    expect(confidenceOf({ acousticScore: 0, frames: 0, words: [] })).toBe(0);
  });
});
