/**
 * Offline speech-to-text on Debian's pocketsphinx, as an `@livekit/agents` STT.
 *
 * Non-streaming by design: it implements `recognize()` on a whole utterance, and the session wraps
 * it in the framework's `stt.StreamAdapter`, whose VAD cuts the patient's speech into utterances.
 * That shape fits the engine:
 * - the grammar must be chosen for the question being answered, and that is known when the
 *   utterance ends (the question has been asked by then), not when the stream opens;
 * - pocketsphinx normalises the audio over the whole utterance, which recognised 83 of 96 short
 *   answers against 74 when decoding as the audio arrives;
 * - a short answer decodes in ~0.1 s, so interim results would buy nothing.
 *
 * Accuracy comes from the grammar (see grammar.ts): during a yes/no, number or choice question
 * it listens only for those answers, the profile's red-flag phrases and its end phrases.
 * Free speech (`open`, `text`, `date`) uses the general language model, which is weak: on
 * synthetic speech it gets short common sentences and little else.
 */
import {
  type APIConnectOptions,
  type AudioBuffer,
  type VAD,
  asLanguageCode,
  shortuuid,
  stt,
} from '@livekit/agents';
import { pino } from 'pino';
import type { Logger } from '../../../infra/logger.ts';
import type { Expectation, ExpectationSource } from '../../protocol/expectation.ts';
import type { RecognitionNote } from '../../safety/confirm.ts';
import { RECOGNIZER_SAMPLE_RATE, toRecognizerAudio } from './audio.ts';
import { type PronunciationDictionary, loadDictionary } from './dictionary.ts';
import { arpaWords, buildArpa } from './domain-lm.ts';
import {
  type GrammarAlternative,
  type GrammarKind,
  type GrammarWeights,
  type RecognitionPlan,
  grammarKey,
  grammarWords,
  matchHypothesis,
  planRecognition,
  toJsgf,
} from './grammar.ts';
import {
  type DecodeResult,
  type PocketsphinxPaths,
  type Search,
  type SpeechDecoder,
  PocketsphinxDecoder,
  pocketsphinxDefaults,
} from './pocketsphinx.ts';

export interface LocalSTTOptions {
  /**
   * What the patient is expected to say now; read when each utterance ends.
   * @defaultValue always `{ kind: 'open' }` (the general language model)
   */
  expectation: ExpectationSource;
  /** Red-flag phrases (the profile's `safety[].phrases`), heard during every question. */
  safetyPhrases: readonly string[];
  /** The profile's `endPhrases`, heard during every question. */
  endPhrases: readonly string[];
  /** Only English: the acoustic model is US English. @defaultValue `en-US` */
  language: string;
  /**
   * Prior weight of one phrase of each group. Pocketsphinx's acoustic scores dwarf these (a
   * 1000:1 ratio moved 2 of 104 results), so they are a nudge: an end phrase must be said more
   * clearly than an answer to end the call.
   * @defaultValue `{ expected: 1, safety: 1, end: 0.1 }`
   */
  weights: GrammarWeights;
  /** Where pocketsphinx and its model are. @defaultValue Debian's paths ({@link pocketsphinxDefaults}) */
  pocketsphinx: Partial<PocketsphinxPaths>;
  /** A decode running longer is killed and the utterance fails. @defaultValue 10000 */
  timeoutMs: number;
  /** Parent of the private directory for grammars and audio. @defaultValue `os.tmpdir()` */
  tempDir: string | undefined;
  /** Grammars kept ready; each question with different answers is one. @defaultValue 64 */
  maxGrammars: number;
  /** Lets `stream()` work outside a session; sessions wrap the STT with their own VAD. */
  vad: VAD | undefined;
  /** Never receives patient words. @defaultValue silent */
  logger: Logger;
  /** Replaces pocketsphinx, e.g. with a fake in tests. */
  decoder: SpeechDecoder | undefined;
  /**
   * Told of every final transcript, with how it was heard: the agent's way to learn that a turn
   * came through a closed grammar (the framework passes it no STT metadata).
   */
  journal: { note(n: RecognitionNote): void } | undefined;
  /**
   * Sentences to build a small language model from (see domain-lm.ts), used for free speech
   * instead of the general model. @defaultValue none: the general model
   */
  domainSentences: readonly string[] | undefined;
  /**
   * Whether a transcript holds a red flag (the profile's matcher). With it and a domain model,
   * a sentence-length answer to a closed question is also decoded with the model, and a red flag
   * there wins over the grammar's answer: a grammar of short answers cannot hear "my face is
   * drooping and I can't lift my arm". @defaultValue none: the grammar alone
   */
  isRedFlag: ((text: string) => boolean) | undefined;
  /** Audio at least this long counts as a sentence for `isRedFlag`. @defaultValue 1500 */
  sentenceMs: number;
  /** Replaces the dictionary read from `pocketsphinx.dictionary`. */
  dictionary: PronunciationDictionary | undefined;
}

const OPEN: ExpectationSource = Object.freeze({ current: () => ({ kind: 'open' as const }) });

export const localSttDefaults: Readonly<LocalSTTOptions> = Object.freeze({
  expectation: OPEN,
  safetyPhrases: [],
  endPhrases: [],
  language: 'en-US',
  weights: Object.freeze({ expected: 1, safety: 1, end: 0.1 }),
  pocketsphinx: pocketsphinxDefaults,
  timeoutMs: 10_000,
  tempDir: undefined,
  maxGrammars: 64,
  vad: undefined,
  logger: pino({ level: 'silent' }),
  decoder: undefined,
  dictionary: undefined,
  journal: undefined,
  domainSentences: undefined,
  isRedFlag: undefined,
  sentenceMs: 1500,
});

/** What `SpeechData.metadata` carries for a local recognition. */
export interface LocalRecognitionMetadata {
  engine: 'pocketsphinx';
  mode: 'grammar' | 'lm';
  /** The grammar listened with (mode `grammar`). */
  grammar?: GrammarKind;
  /** Why there was no grammar (mode `lm`). */
  reason?: Extract<RecognitionPlan, { mode: 'lm' }>['reason'];
  /** Which group the words matched (mode `grammar`). */
  match?: GrammarAlternative['role'];
  /**
   * What the words mean: `true`/`false` for yes/no, the number, the choice or red-flag or end
   * phrase as the profile writes it.
   */
  value?: GrammarAlternative['value'];
}

/**
 * Confidence from the acoustic score per frame of the recognised words, through a logistic
 * fitted on espeak-ng speech (6 voices, 26 short answers and 4 off-script sentences each): right
 * answers scored −14 to −76 per frame (median −44), wrong ones median −55, off-script sentences
 * −46 to −102 (median −63). It orders results; it is not a calibrated probability, and real
 * voices and lines will shift it.
 */
const CONFIDENCE_MIDPOINT = -55;
const CONFIDENCE_SCALE = 6;

export function confidenceOf(result: DecodeResult): number {
  let frames = 0;
  let score = 0;
  for (const w of result.words) {
    frames += Math.max(0, w.endFrame - w.startFrame);
    score += w.acousticScore;
  }
  if (frames === 0) return 0;
  const perFrame = score / frames;
  return 1 / (1 + Math.exp(-(perFrame - CONFIDENCE_MIDPOINT) / CONFIDENCE_SCALE));
}

type Ready = { plan: RecognitionPlan; search: Search };

/** Shorter than this is a click, not speech: not worth a decoder process. */
const MIN_AUDIO_SAMPLES = RECOGNIZER_SAMPLE_RATE / 10;

export class LocalSTT extends stt.STT {
  label = 'local.STT';
  readonly #opts: LocalSTTOptions;
  readonly #decoder: SpeechDecoder;
  readonly #grammars = new Map<string, Promise<Ready>>();
  readonly #log: Logger;
  #lm: Promise<Search> | undefined;
  #adapter: stt.StreamAdapter | undefined;

  /**
   * Throws {@link LocalEngineMissingError} when pocketsphinx or its model is not installed, and
   * a RangeError for options that cannot work.
   */
  constructor(opts: Partial<LocalSTTOptions> = {}) {
    super({ streaming: false, interimResults: false, alignedTranscript: false });
    const o: LocalSTTOptions = {
      ...localSttDefaults,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    };
    if (!/^en(-|$)/i.test(o.language)) {
      throw new RangeError(`local STT: only English is supported, got language "${o.language}"`);
    }
    for (const [group, w] of Object.entries(o.weights)) {
      if (!(w > 0 && w <= 1000)) {
        throw new RangeError(`local STT: weights.${group} must be in (0, 1000], got ${w}`);
      }
    }
    if (!Number.isInteger(o.maxGrammars) || o.maxGrammars < 1) {
      throw new RangeError(`local STT: maxGrammars must be a positive integer`);
    }
    this.#opts = o;
    this.#log = o.logger.child({ stt: this.label });
    this.#decoder =
      o.decoder ??
      new PocketsphinxDecoder({
        paths: { ...pocketsphinxDefaults, ...o.pocketsphinx },
        timeoutMs: o.timeoutMs,
        ...(o.tempDir !== undefined ? { tempDir: o.tempDir } : {}),
      });
  }

  override get model(): string {
    return 'pocketsphinx-en-us';
  }

  override get provider(): string {
    return 'local';
  }

  /**
   * Reads the dictionary (~0.2 s, once per process) and builds the grammar for the current
   * expectation, so the first answer is not kept waiting for them.
   */
  async prewarm(): Promise<void> {
    await this.#dictionary();
    const expectation = this.#opts.expectation.current();
    const key = grammarKey(expectation);
    if (key !== undefined) await this.#ready(expectation, key);
    await this.#languageModel();
  }

  #dictionary(): Promise<PronunciationDictionary> {
    return this.#opts.dictionary
      ? Promise.resolve(this.#opts.dictionary)
      : loadDictionary(this.#opts.pocketsphinx.dictionary ?? pocketsphinxDefaults.dictionary);
  }

  #ready(expectation: Expectation, key: string): Promise<Ready> {
    const cached = this.#grammars.get(key);
    if (cached) return cached;
    const pending = this.#build(expectation);
    this.#grammars.set(key, pending);
    pending.catch(() => this.#grammars.delete(key));
    // Oldest out first. A session has as many grammars as distinct questions, so this only
    // bounds a caller that feeds ever-new choice lists.
    while (this.#grammars.size > this.#opts.maxGrammars) {
      const oldest = this.#grammars.keys().next().value;
      if (oldest === undefined) break;
      this.#grammars.delete(oldest);
    }
    return pending;
  }

  async #build(expectation: Expectation): Promise<Ready> {
    const dict = await this.#dictionary();
    const plan = planRecognition(
      expectation,
      { safety: this.#opts.safetyPhrases, end: this.#opts.endPhrases },
      dict,
    );
    const dropped = plan.mode === 'grammar' ? plan.grammar.dropped : plan.dropped;
    if (dropped.length) {
      // Profile phrases are clinician-authored text, not patient words: safe to name.
      this.#log.warn(
        { dropped },
        'phrases with words the recogniser cannot hear were left out of its grammar',
      );
    }
    if (plan.mode === 'lm') return { plan, search: { kind: 'lm' } };
    const search = await this.#decoder.compile({
      jsgf: toJsgf(plan.grammar, this.#opts.weights),
      dictionary: dict.subset(grammarWords(plan.grammar)),
    });
    return { plan, search };
  }

  /** The domain model when there is one (built once), else the general model. */
  #languageModel(): Promise<Search> {
    const sentences = this.#opts.domainSentences;
    const compileLm = this.#decoder.compileLanguageModel?.bind(this.#decoder);
    if (!sentences?.length || !compileLm) return Promise.resolve(LM);
    this.#lm ??= (async () => {
      const dict = await this.#dictionary();
      const arpa = buildArpa(sentences, dict);
      return compileLm({ arpa, dictionary: dict.subset(arpaWords(arpa)) });
    })();
    this.#lm.catch(() => {
      this.#lm = undefined;
    });
    return this.#lm;
  }

  async _recognize(buffer: AudioBuffer, abortSignal?: AbortSignal): Promise<stt.SpeechEvent> {
    const requestId = shortuuid('local_stt_');
    const audio = toRecognizerAudio(buffer);
    const durationS = audio.length / RECOGNIZER_SAMPLE_RATE;
    const expectation = this.#opts.expectation.current();
    const key = grammarKey(expectation);
    // Without a key there is no grammar: planning free speech reads no dictionary.
    const ready: Ready =
      key === undefined
        ? {
            plan: planRecognition(expectation, { safety: [], end: [] }, NO_WORDS),
            search: await this.#languageModel(),
          }
        : await this.#ready(expectation, key);

    let text = '';
    let confidence = 0;
    const metadata: LocalRecognitionMetadata = { engine: 'pocketsphinx', mode: ready.plan.mode };
    if (ready.plan.mode === 'grammar') metadata.grammar = ready.plan.grammar.kind;
    else metadata.reason = ready.plan.reason;

    if (audio.length >= MIN_AUDIO_SAMPLES) {
      const started = performance.now();
      const isRedFlag = this.#opts.isRedFlag;
      const second =
        ready.plan.mode === 'grammar' &&
        isRedFlag &&
        this.#opts.domainSentences?.length &&
        durationS * 1000 >= this.#opts.sentenceMs
          ? this.#languageModel().then((lm) => this.#decoder.decode(audio, lm, abortSignal))
          : undefined;
      // Both decodes at once: one core each, so the sentence costs no extra wait.
      second?.catch(() => undefined);
      const result = await this.#decoder.decode(audio, ready.search, abortSignal);
      const words = result.words.map((w) => w.word);
      confidence = confidenceOf(result);
      if (ready.plan.mode === 'grammar') {
        const match = matchHypothesis(ready.plan.grammar, words);
        text = match?.text ?? words.join(' ');
        if (match) {
          metadata.match = match.role;
          metadata.value = match.value;
        }
        const heard = match?.role === 'safety' ? undefined : await second?.catch(() => undefined);
        const sentence = heard?.words.map((w) => w.word).join(' ') ?? '';
        if (sentence && isRedFlag?.(sentence)) {
          // Still noted as a grammar turn: a small model is as unsure as the grammar.
          text = sentence;
          confidence = confidenceOf(heard!);
          metadata.match = 'safety';
          delete metadata.value;
        }
      } else {
        text = words.join(' ');
      }
      this.#log.debug(
        {
          requestId,
          mode: metadata.mode,
          grammar: metadata.grammar,
          matched: metadata.match !== undefined,
          audioMs: Math.round(durationS * 1000),
          decodeMs: Math.round(performance.now() - started),
        },
        'local stt recognised an utterance',
      );
    }

    this.#opts.journal?.note({ text, mode: metadata.mode, confidence });
    return {
      type: stt.SpeechEventType.FINAL_TRANSCRIPT,
      requestId,
      alternatives: [
        {
          language: asLanguageCode(this.#opts.language),
          text,
          startTime: 0,
          endTime: durationS,
          confidence,
          metadata: { ...metadata },
        },
      ],
    };
  }

  /**
   * A streaming view for use outside a session, cutting utterances with the `vad` option. A
   * session never calls this: it sees `streaming: false` and wraps the STT with its own VAD.
   */
  stream(options?: { connOptions?: APIConnectOptions }): stt.SpeechStream {
    if (!this.#opts.vad) {
      throw new RangeError(
        'local STT: stream() needs the vad option (sessions wrap it with their own VAD)',
      );
    }
    // One adapter: each one subscribes to this STT's events for good.
    this.#adapter ??= new stt.StreamAdapter(this, this.#opts.vad);
    return this.#adapter.stream(options);
  }

  /** Kills running decodes and removes the grammar files. */
  override async close(): Promise<void> {
    this.#grammars.clear();
    await this.#decoder.close();
  }
}

const LM: Search = Object.freeze({ kind: 'lm' });
const NO_WORDS = Object.freeze({ has: () => false });
