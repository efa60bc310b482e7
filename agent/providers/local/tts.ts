/**
 * Offline text-to-speech on espeak-ng, as an `@livekit/agents` TTS.
 *
 * One espeak-ng process per text. Its WAV stream is cut into frames as the bytes arrive, so the
 * first frame goes out while later sentences are still being synthesised.
 *
 * Non-streaming (`streaming: false`): espeak-ng takes a whole text, and the framework wraps a
 * non-streaming TTS in its sentence `tts.StreamAdapter`, which starts each sentence's synthesis as
 * soon as the LLM has written it and plays them in order. `stream()` does the same for callers
 * outside a session.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  type APIConnectOptions,
  APIConnectionError,
  APIError,
  shortuuid,
  tokenize,
  tts,
} from '@livekit/agents';
import { AudioResampler, type AudioFrame } from '@livekit/rtc-node';
import { pino } from 'pino';
import type { Logger } from '../../../infra/logger.ts';
import { PcmFramer } from './audio.ts';
import { WavStreamParser, assertEspeakVoice, speedToWordsPerMinute } from './espeak.ts';

export interface LocalTTSOptions {
  /**
   * An espeak-ng voice, optionally with a variant: `en-us`, `en-gb`, `en-us+f3` (the profile's
   * `voice.voiceId` when `voice.provider` is `local`). @defaultValue `en-us`
   */
  voice: string;
  /** The profile's `voice.speed`, 0.7–1.2; 1 is espeak-ng's 175 words per minute. @defaultValue 1 */
  speed: number;
  /** @defaultValue `/usr/bin/espeak-ng` (Debian package `espeak-ng`) */
  binary: string;
  /**
   * Rate of the frames this TTS yields. espeak-ng's own voices speak at 22050 Hz; anything else
   * is resampled. @defaultValue 22050
   */
  sampleRate: number;
  /** Length of each frame. @defaultValue 20 */
  frameMs: number;
  /** A synthesis running longer is killed. @defaultValue 30000 */
  timeoutMs: number;
  /** Never receives the spoken text. @defaultValue silent */
  logger: Logger;
}

export const localTtsDefaults: Readonly<LocalTTSOptions> = Object.freeze({
  voice: 'en-us',
  speed: 1,
  binary: '/usr/bin/espeak-ng',
  sampleRate: 22_050,
  frameMs: 20,
  timeoutMs: 30_000,
  logger: pino({ level: 'silent' }),
});

/** Control characters other than whitespace: espeak-ng would read some of them aloud. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

export class LocalTTS extends tts.TTS {
  label = 'local.TTS';
  readonly #opts: LocalTTSOptions;
  readonly #wordsPerMinute: number;
  readonly #running = new Set<ChildProcess>();
  readonly #streams = new Set<tts.ChunkedStream>();
  #adapter: tts.StreamAdapter | undefined;

  /**
   * Throws {@link LocalEngineMissingError} when espeak-ng is not installed,
   * {@link UnknownVoiceError} for a voice it does not have, and a RangeError for a speed outside
   * 0.7–1.2 or unworkable frame options.
   */
  constructor(opts: Partial<LocalTTSOptions> = {}) {
    const o: LocalTTSOptions = {
      ...localTtsDefaults,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    };
    super(o.sampleRate, 1, { streaming: false });
    const samples = (o.sampleRate * o.frameMs) / 1000;
    if (!Number.isInteger(samples) || samples <= 0) {
      throw new RangeError(
        `local TTS: ${o.frameMs} ms is not a whole number of samples at ${o.sampleRate} Hz`,
      );
    }
    if (!(o.timeoutMs > 0)) throw new RangeError('local TTS: timeoutMs must be positive');
    this.#wordsPerMinute = speedToWordsPerMinute(o.speed);
    assertEspeakVoice(o.binary, o.voice);
    this.#opts = o;
  }

  override get model(): string {
    return `espeak-ng:${this.#opts.voice}`;
  }

  override get provider(): string {
    return 'local';
  }

  /** espeak-ng's words per minute for the configured speed. */
  get wordsPerMinute(): number {
    return this.#wordsPerMinute;
  }

  synthesize(
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ): tts.ChunkedStream {
    const stream = new LocalChunkedStream(this, text, connOptions, abortSignal);
    this.#streams.add(stream);
    stream.abortSignal.addEventListener('abort', () => this.#streams.delete(stream), {
      once: true,
    });
    return stream;
  }

  /** Sentence by sentence through the framework's adapter, as a session would do. */
  stream(options?: { connOptions?: APIConnectOptions }): tts.SynthesizeStream {
    // One adapter: each one subscribes to this TTS's events for good.
    this.#adapter ??= new tts.StreamAdapter(this, new tokenize.basic.SentenceTokenizer());
    return this.#adapter.stream(options);
  }

  /** Ends every synthesis still running, as if each stream had been closed. */
  override async close(): Promise<void> {
    for (const stream of this.#streams) stream.close();
    this.#streams.clear();
    const exits = [...this.#running].map(
      (child) => new Promise<void>((resolve) => child.once('exit', () => resolve())),
    );
    for (const child of this.#running) child.kill('SIGKILL');
    await Promise.all(exits);
    await this.#adapter?.close();
  }

  /** @internal Starts espeak-ng for one text; the process is killed on close(). */
  _spawn(): ChildProcess {
    const child = spawn(
      this.#opts.binary,
      [
        '--stdout',
        '--stdin',
        '-b',
        '1',
        '-v',
        this.#opts.voice,
        '-s',
        String(this.#wordsPerMinute),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.#running.add(child);
    child.once('exit', () => this.#running.delete(child));
    return child;
  }

  /** @internal */
  get _opts(): Readonly<LocalTTSOptions> {
    return this.#opts;
  }

  /** @internal A stream that finished on its own. */
  _done(stream: tts.ChunkedStream): void {
    this.#streams.delete(stream);
  }
}

class LocalChunkedStream extends tts.ChunkedStream {
  label = 'local.ChunkedStream';
  readonly #tts: LocalTTS;

  constructor(
    ttsInstance: LocalTTS,
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ) {
    super(text, ttsInstance, connOptions, abortSignal);
    this.#tts = ttsInstance;
  }

  protected async run(): Promise<void> {
    const text = this.inputText.replace(CONTROL, ' ');
    const queue = this.queue;
    try {
      if (text.trim() === '' || this.abortSignal.aborted) return;
      await this.#synthesize(text, queue);
    } finally {
      if (!queue.closed) queue.close();
      this.#tts._done(this);
    }
  }

  #synthesize(text: string, queue: typeof this.queue): Promise<void> {
    const o = this.#tts._opts;
    const requestId = shortuuid('local_tts_');
    const wav = new WavStreamParser();
    let framer: PcmFramer | undefined;
    let resampler: AudioResampler | undefined;
    let held: AudioFrame | undefined;

    // The last frame is held back so that it can be marked final.
    const emit = (frames: readonly AudioFrame[]): void => {
      for (const frame of frames) {
        if (held && !queue.closed) {
          queue.put({ requestId, segmentId: requestId, frame: held, final: false });
        }
        held = frame;
      }
    };
    // A voice at another rate (an MBROLA voice speaks at 16 kHz) is framed at its own rate and
    // resampled; espeak-ng's own voices pass straight through.
    const toOutput = (frames: readonly AudioFrame[]): AudioFrame[] => {
      const r = resampler;
      return r ? frames.flatMap((f) => r.push(f)) : [...frames];
    };
    const onPcm = (pcm: Buffer): void => {
      const format = wav.format;
      if (!format || pcm.length === 0) return;
      if (!framer) {
        if (format.channels !== 1) throw new Error('espeak-ng WAV is not mono');
        framer = new PcmFramer(
          format.sampleRate,
          Math.max(1, Math.round((format.sampleRate * o.frameMs) / 1000)),
        );
        if (format.sampleRate !== o.sampleRate) {
          resampler = new AudioResampler(format.sampleRate, o.sampleRate, 1);
        }
      }
      emit(toOutput(framer.push(pcm)));
    };

    return new Promise<void>((resolve, reject) => {
      const child = this.#tts._spawn();
      let failure: unknown;
      let stderr = '';
      const kill = (reason: unknown): void => {
        failure ??= reason;
        child.kill('SIGKILL');
      };
      // Closed by the caller (barge-in, session end): stop at once, whatever is still buffered.
      const onAbort = (): void => {
        child.kill('SIGKILL');
        clearTimeout(timer);
        resolve();
      };
      this.abortSignal.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(
        () =>
          kill(
            new APIConnectionError({
              message: `espeak-ng did not finish within ${o.timeoutMs} ms`,
              options: { retryable: false },
            }),
          ),
        o.timeoutMs,
      );

      child.stdout!.on('data', (chunk: Buffer) => {
        try {
          onPcm(wav.push(chunk));
        } catch (err) {
          kill(
            new APIError(err instanceof Error ? err.message : String(err), { retryable: false }),
          );
        }
      });
      child.stderr!.on('data', (b: Buffer) => {
        if (stderr.length < 1_000) stderr += b.toString();
      });
      child.on('error', (err) => kill(err));
      child.on('close', (code) => {
        clearTimeout(timer);
        this.abortSignal.removeEventListener('abort', onAbort);
        try {
          if (this.abortSignal.aborted) {
            resolve();
          } else if (failure !== undefined) {
            reject(failure);
          } else if (code !== 0) {
            const why = stderr.trim().split('\n')[0] ?? '';
            reject(new APIError(`espeak-ng exited ${String(code)}: ${why}`, { retryable: false }));
          } else {
            const tail = framer?.flush();
            emit([...toOutput(tail ? [tail] : []), ...(resampler?.flush() ?? [])]);
            if (held && !queue.closed) {
              queue.put({ requestId, segmentId: requestId, frame: held, final: true });
            }
            resolve();
          }
        } finally {
          resampler?.close();
        }
      });

      // EPIPE when espeak-ng exits before reading all the text surfaces through 'close'.
      child.stdin!.on('error', () => {});
      child.stdin!.end(text, 'utf8');
    });
  }
}
