/**
 * Debian's pocketsphinx (0.8+5prealpha) as a speech decoder: one `pocketsphinx_batch` process per
 * utterance, with the audio, the utterance list and the result (`-hypseg`) as files in a private
 * temporary directory. (It fopen()s them by name, and Node's stdio pipes are sockets, which
 * cannot be opened by path: /dev/stdin, /dev/stdout and /dev/fd/N all fail.)
 *
 * Why `pocketsphinx_batch` and not `pocketsphinx_continuous`: batch decodes a whole utterance with
 * cepstral mean normalisation over all of it, where continuous normalises as it goes and starts
 * each utterance from a fixed prior. On our espeak-ng test set batch recognised 83 of 96 short
 * answers against continuous's 74. Neither tool can change grammar while running, and the grammar
 * must follow the conversation, so one short process per utterance it is; with a per-grammar
 * dictionary of a few dozen words the process starts and decodes a short answer in ~30 ms.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APIConnectionError, APITimeoutError } from '@livekit/agents';
import { LocalEngineMissingError } from './errors.ts';

export interface PocketsphinxPaths {
  /** @defaultValue `/usr/bin/pocketsphinx_batch` (Debian package `pocketsphinx`) */
  binary: string;
  /** Acoustic model directory. @defaultValue `/usr/share/pocketsphinx/model/en-us/en-us` */
  acousticModel: string;
  /** Full pronunciation dictionary. @defaultValue `.../en-us/cmudict-en-us.dict` */
  dictionary: string;
  /** General trigram language model, for free speech. @defaultValue `.../en-us/en-us.lm.bin` */
  languageModel: string;
}

const MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';

export const pocketsphinxDefaults: Readonly<PocketsphinxPaths> = Object.freeze({
  binary: '/usr/bin/pocketsphinx_batch',
  acousticModel: `${MODEL_DIR}/en-us`,
  dictionary: `${MODEL_DIR}/cmudict-en-us.dict`,
  languageModel: `${MODEL_DIR}/en-us.lm.bin`,
});

const INSTALL_HINT =
  'apt-get install pocketsphinx pocketsphinx-en-us (or: bash scripts/install-tools.sh debs)';

/** Throws {@link LocalEngineMissingError} naming what to install when any path is missing. */
export function assertPocketsphinxInstalled(paths: PocketsphinxPaths): void {
  try {
    accessSync(paths.binary, constants.X_OK);
  } catch (err) {
    throw new LocalEngineMissingError(
      `pocketsphinx is not installed (no ${paths.binary}): ${INSTALL_HINT}`,
      ['pocketsphinx'],
      err,
    );
  }
  for (const path of [`${paths.acousticModel}/mdef`, paths.dictionary, paths.languageModel]) {
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      throw new LocalEngineMissingError(
        `the pocketsphinx US-English model is not installed (no ${path}): ${INSTALL_HINT}`,
        ['pocketsphinx-en-us'],
        err,
      );
    }
  }
}

/** What to decode against. */
export type Search =
  | { readonly kind: 'grammar'; readonly jsgfPath: string; readonly dictionaryPath: string }
  /**
   * A language model: the general one with the full dictionary, or (with paths) a model made by
   * `compileLanguageModel`.
   */
  | { readonly kind: 'lm'; readonly lmPath?: string; readonly dictionaryPath?: string };

/** A language model in ARPA text, with the dictionary lines for its words. */
export interface LanguageModelSource {
  arpa: string;
  dictionary: string;
}

export interface DecodedWord {
  /** As the dictionary spells it, without the alternate-pronunciation suffix. */
  readonly word: string;
  readonly startFrame: number;
  /** Exclusive. */
  readonly endFrame: number;
  readonly acousticScore: number;
}

export interface DecodeResult {
  /** Words in order, fillers (`<sil>`, `[NOISE]`) and pronunciation suffixes removed. */
  readonly words: readonly DecodedWord[];
  /** Total acoustic score of the best path (log domain; higher is better). */
  readonly acousticScore: number;
  /** Feature frames decoded (100 per second). */
  readonly frames: number;
}

/** A grammar in the engine's terms: JSGF text and the dictionary lines for its words. */
export interface GrammarSource {
  readonly jsgf: string;
  readonly dictionary: string;
}

/** The boundary the local STT decodes through; {@link PocketsphinxDecoder} is the real one. */
export interface SpeechDecoder {
  /** Makes a grammar ready to decode against. Call once per grammar and keep the result. */
  compile(grammar: GrammarSource): Promise<Search>;
  /** Makes a language model ready to decode against; decoders without it use the general one. */
  compileLanguageModel?(model: LanguageModelSource): Promise<Search>;
  /** Decodes 16 kHz mono PCM. Rejects when aborted, on timeout, or when the engine fails. */
  decode(audio: Int16Array, search: Search, signal?: AbortSignal): Promise<DecodeResult>;
  /** Ends every decode still running and removes what `compile` wrote. */
  close(): Promise<void>;
}

export interface PocketsphinxDecoderOptions {
  paths: PocketsphinxPaths;
  /** A decode still running after this long is killed. @defaultValue 10000 */
  timeoutMs: number;
  /** Where the private working directory is made. @defaultValue `os.tmpdir()` */
  tempDir: string;
  /** Appended to every grammar decode, for tuning (`-lw`, `-wip`, beams). @defaultValue [] */
  grammarArgs: readonly string[];
}

export const pocketsphinxDecoderDefaults: Readonly<PocketsphinxDecoderOptions> = Object.freeze({
  paths: pocketsphinxDefaults,
  timeoutMs: 10_000,
  tempDir: tmpdir(),
  grammarArgs: [],
});

/**
 * Grammar decoding settings, measured on 26 short answers in 4 espeak-ng voices, resampled from
 * 48 kHz as a session delivers them (and checked on 4 voices they were not tuned on):
 * - no spectral noise subtraction (`-remove_noise no`): on near-silent input (the resampler leaves
 *   ±1 LSB where the source had digital silence) it wrecked recognition, 74 of 104 right against
 *   94 without it; with exact digital silence the two are equal;
 * - 16 Gaussians per senone instead of 4 (`-topn`): +3 to +5 of 104, for ~30 ms per utterance;
 * - wider beams: with the defaults a short word such as "email" can fall out of the beam before
 *   the grammar's final state ("Final result does not match the grammar"), leaving no words.
 * Overall 94 of 104 (90%), and 90 of 104 (87%) on the other 4 voices.
 */
const GRAMMAR_TUNING = [
  '-remove_noise',
  'no',
  '-topn',
  '16',
  '-beam',
  '1e-80',
  '-pbeam',
  '1e-80',
  '-wbeam',
  '1e-60',
];

/** Silence and noise words, and the `(NULL)` pocketsphinx reports for an optional JSGF part. */
const FILLER = /^(<.*>|\[.*\]|\(NULL\))$/;

/** Parses one `-hypseg` line: `uttid S sf T total A ascr L lscr (sf ascr lscr word)* endframe`. */
export function parseHypseg(line: string): DecodeResult | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 10 || f[1] !== 'S' || f[5] !== 'A') return undefined;
  const acousticScore = Number(f[6]);
  const frames = Number(f[f.length - 1]);
  if (!Number.isFinite(acousticScore) || !Number.isFinite(frames)) return undefined;
  const words: DecodedWord[] = [];
  for (let i = 9; i + 4 < f.length; i += 4) {
    const word = f[i + 3]!.replace(/\(\d+\)$/, '');
    if (FILLER.test(word)) continue;
    words.push({
      word,
      startFrame: Number(f[i]),
      endFrame: Number(f[i + 4]),
      acousticScore: Number(f[i + 1]),
    });
  }
  return { words, acousticScore, frames };
}

export class PocketsphinxDecoder implements SpeechDecoder {
  readonly #opts: PocketsphinxDecoderOptions;
  readonly #running = new Set<ChildProcess>();
  #dir: Promise<string> | undefined;
  #closed = false;

  constructor(opts: Partial<PocketsphinxDecoderOptions> = {}) {
    this.#opts = { ...pocketsphinxDecoderDefaults, ...opts };
    if (!(this.#opts.timeoutMs > 0)) {
      throw new RangeError(`timeoutMs must be positive, got ${this.#opts.timeoutMs}`);
    }
    assertPocketsphinxInstalled(this.#opts.paths);
  }

  #workDir(): Promise<string> {
    if (this.#closed) return Promise.reject(new Error('the decoder is closed'));
    this.#dir ??= mkdtemp(join(this.#opts.tempDir, 'voicecare-stt-'));
    return this.#dir;
  }

  async compile(grammar: GrammarSource): Promise<Search> {
    const dir = await this.#workDir();
    const base = join(dir, `grammar-${randomUUID()}`);
    await writeFile(`${base}.gram`, grammar.jsgf);
    await writeFile(`${base}.dict`, grammar.dictionary);
    return { kind: 'grammar', jsgfPath: `${base}.gram`, dictionaryPath: `${base}.dict` };
  }

  async compileLanguageModel(model: LanguageModelSource): Promise<Search> {
    const dir = await this.#workDir();
    const base = join(dir, `lm-${randomUUID()}`);
    await writeFile(`${base}.arpa`, model.arpa);
    await writeFile(`${base}.dict`, model.dictionary);
    return { kind: 'lm', lmPath: `${base}.arpa`, dictionaryPath: `${base}.dict` };
  }

  #args(search: Search, dir: string, id: string): string[] {
    const p = this.#opts.paths;
    const common = [
      '-hmm',
      p.acousticModel,
      '-adcin',
      'yes',
      // The utterance list holds one line, `id`: the audio is <dir>/<id>.raw.
      '-ctl',
      join(dir, `${id}.ctl`),
      '-cepdir',
      dir,
      '-cepext',
      '.raw',
      '-hypseg',
      join(dir, `${id}.seg`),
      '-logfn',
      join(dir, `${id}.log`),
    ];
    switch (search.kind) {
      case 'grammar':
        return [
          ...common,
          '-dict',
          search.dictionaryPath,
          '-jsgf',
          search.jsgfPath,
          ...GRAMMAR_TUNING,
          ...this.#opts.grammarArgs,
        ];
      case 'lm':
        return [
          ...common,
          '-dict',
          search.dictionaryPath ?? p.dictionary,
          '-lm',
          search.lmPath ?? p.languageModel,
          // A small model's own words only: the same near-silence problem as grammars.
          ...(search.lmPath ? ['-remove_noise', 'no'] : []),
        ];
    }
  }

  async decode(audio: Int16Array, search: Search, signal?: AbortSignal): Promise<DecodeResult> {
    signal?.throwIfAborted();
    const dir = await this.#workDir();
    const id = `utt-${randomUUID()}`;
    const files = [`${id}.raw`, `${id}.ctl`, `${id}.seg`, `${id}.log`].map((f) => join(dir, f));
    try {
      await writeFile(files[0]!, Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength));
      await writeFile(files[1]!, `${id}\n`);
      const { code, stderr } = await this.#run(search, dir, id, signal);
      const hypseg = await readFile(files[2]!, 'utf8').catch(() => '');
      const result = parseHypseg(hypseg);
      if (code !== 0 || !result) {
        // Only ERROR/FATAL lines: INFO lines may carry the hypothesis, which is patient speech.
        const log = await readFile(files[3]!, 'utf8').catch(() => '');
        const why = `${stderr}\n${log}`
          .split('\n')
          .filter((l) => /^(ERROR|FATAL)/.test(l))
          .slice(0, 3)
          .join('; ')
          .slice(0, 400);
        throw new APIConnectionError({
          message: `pocketsphinx exited ${String(code)}${result ? '' : ' without a result'}${why ? `: ${why}` : ''}`,
          options: { retryable: false },
        });
      }
      return result;
    } finally {
      await Promise.all(files.map((f) => rm(f, { force: true })));
    }
  }

  /** Runs one decode; resolves with how it exited, rejects when killed or unable to start. */
  #run(
    search: Search,
    dir: string,
    id: string,
    signal?: AbortSignal,
  ): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      if (this.#closed) {
        reject(new Error('the decoder is closed'));
        return;
      }
      let failure: unknown;
      let stderr = '';
      const child = spawn(this.#opts.paths.binary, this.#args(search, dir, id), {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      this.#running.add(child);
      // Argument errors are reported on stderr, before the log file is opened.
      child.stderr!.on('data', (b: Buffer) => {
        if (stderr.length < 2_000) stderr += b.toString();
      });

      const kill = (reason: unknown): void => {
        failure ??= reason;
        child.kill('SIGKILL');
      };
      const onAbort = (): void => kill(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(
        () =>
          kill(
            new APITimeoutError({
              message: `pocketsphinx did not finish within ${this.#opts.timeoutMs} ms`,
              options: { retryable: false },
            }),
          ),
        this.#opts.timeoutMs,
      );

      child.on('error', (e) => kill(e));
      child.on('close', (code) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#running.delete(child);
        if (failure !== undefined) reject(failure);
        else resolve({ code, stderr });
      });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const exits = [...this.#running].map(
      (child) => new Promise<void>((resolve) => child.once('exit', () => resolve())),
    );
    for (const child of this.#running) child.kill('SIGKILL');
    await Promise.all(exits);
    const dir = await this.#dir?.catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
