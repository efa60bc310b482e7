/**
 * espeak-ng (Debian's `espeak-ng` package) for the local TTS: voice names, speed, the installation
 * check, and the WAV stream it writes with `--stdout`.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { PermanentError } from '../../../infra/errors.ts';
import { LocalEngineMissingError } from './errors.ts';

/** espeak-ng's own default rate; the profile's speed 1 maps to it. */
export const BASE_WORDS_PER_MINUTE = 175;
/** The speed range every voice provider supports (prompts/schema.ts `Voice.speed`). */
export const MIN_SPEED = 0.7;
export const MAX_SPEED = 1.2;

/** The profile's speed (0.7–1.2, 1 normal) as espeak-ng's `-s`: 175 × speed, rounded. */
export function speedToWordsPerMinute(speed: number): number {
  if (!(speed >= MIN_SPEED && speed <= MAX_SPEED)) {
    throw new RangeError(`speed must be from ${MIN_SPEED} to ${MAX_SPEED}, got ${speed}`);
  }
  // Through thousandths so that 0.7 gives 123 (122.5 rounded up), not 122 (0.7 is 0.6999...).
  return Math.round((BASE_WORDS_PER_MINUTE * Math.round(speed * 1000)) / 1000);
}

export interface EspeakVoice {
  /** A language or voice name: `en-us`, `en-gb`, `en-gb-x-rp`. */
  readonly name: string;
  /** A variant under espeak-ng's `voices/!v`: `f3`, `m3`, `Alex`. */
  readonly variant: string | undefined;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

/** `en-us+f3` → `{ name: 'en-us', variant: 'f3' }`. Throws a RangeError for anything else. */
export function parseVoice(voice: string): EspeakVoice {
  const [name = '', variant, ...rest] = voice.trim().split('+');
  if (!NAME.test(name) || rest.length > 0 || (variant !== undefined && !NAME.test(variant))) {
    throw new RangeError(
      `"${voice}" is not an espeak-ng voice name (expected e.g. en-us, en-gb or en-us+f3)`,
    );
  }
  return { name, variant };
}

/** The voice a profile asked for is not installed. */
export class UnknownVoiceError extends PermanentError {
  readonly voice: string;
  constructor(voice: string, message: string) {
    super('local_voice_unknown', message);
    this.voice = voice;
  }
}

/** Variant names from `espeak-ng --voices=variant` (its File column, `!v/<name>`). */
export function parseVariantList(listing: string): Set<string> {
  const names = new Set<string>();
  for (const line of listing.split('\n')) {
    const m = /\s!v\/(\S+)/.exec(line);
    if (m?.[1]) names.add(m[1]);
  }
  return names;
}

const checked = new Map<string, true>();

/**
 * Checks, once per process and voice, that `binary` runs and knows `voice`: espeak-ng itself
 * rejects an unknown voice name but silently ignores an unknown variant, so variants are looked
 * up in its variant list. Synchronous, for constructors: two short runs (~10 ms) the first time.
 */
export function assertEspeakVoice(binary: string, voice: string): void {
  const key = `${binary}\0${voice}`;
  if (checked.has(key)) return;
  try {
    accessSync(binary, constants.X_OK);
  } catch (err) {
    throw new LocalEngineMissingError(
      `espeak-ng is not installed (no ${binary}): apt-get install espeak-ng ` +
        '(or: bash scripts/install-tools.sh debs)',
      ['espeak-ng'],
      err,
    );
  }
  const { name, variant } = parseVoice(voice);
  const probe = spawnSync(binary, ['-q', '-v', name, 'a'], { timeout: 5_000, encoding: 'utf8' });
  if (probe.error) throw probe.error;
  if (probe.status !== 0) {
    throw new UnknownVoiceError(
      voice,
      `espeak-ng has no voice "${name}" (list them with: espeak-ng --voices=en)`,
    );
  }
  if (variant !== undefined) {
    const list = spawnSync(binary, ['--voices=variant'], { timeout: 5_000, encoding: 'utf8' });
    if (list.error) throw list.error;
    if (!parseVariantList(list.stdout).has(variant)) {
      throw new UnknownVoiceError(
        voice,
        `espeak-ng has no voice variant "${variant}" (list them with: espeak-ng --voices=variant)`,
      );
    }
  }
  checked.set(key, true);
}

export interface WavFormat {
  readonly sampleRate: number;
  readonly channels: number;
  readonly bitsPerSample: number;
}

/**
 * Reads a WAV byte stream as it arrives: the header first, then PCM. espeak-ng writes its header
 * before it knows the length (data size 0x7ffff000), so the data chunk is taken to run to the
 * end of the stream.
 */
export class WavStreamParser {
  #header: Buffer = Buffer.alloc(0);
  #format: WavFormat | undefined;
  #inData = false;

  get format(): WavFormat | undefined {
    return this.#format;
  }

  /** PCM bytes in `chunk` (none until the header is complete). Throws on a malformed header. */
  push(chunk: Buffer): Buffer {
    if (this.#inData) return chunk;
    this.#header = Buffer.concat([this.#header, chunk]);
    const h = this.#header;
    if (h.length < 12) return Buffer.alloc(0);
    if (h.toString('ascii', 0, 4) !== 'RIFF' || h.toString('ascii', 8, 12) !== 'WAVE') {
      throw new Error('espeak-ng output is not a WAV stream');
    }
    let offset = 12;
    while (h.length >= offset + 8) {
      const id = h.toString('ascii', offset, offset + 4);
      const size = h.readUInt32LE(offset + 4);
      const body = offset + 8;
      if (id === 'data') {
        if (!this.#format) throw new Error('WAV stream has data before its fmt chunk');
        this.#inData = true;
        this.#header = Buffer.alloc(0);
        return h.subarray(body);
      }
      if (h.length < body + size) return Buffer.alloc(0);
      if (id === 'fmt ') {
        const format = {
          sampleRate: h.readUInt32LE(body + 4),
          channels: h.readUInt16LE(body + 2),
          bitsPerSample: h.readUInt16LE(body + 14),
        };
        if (h.readUInt16LE(body) !== 1 || format.bitsPerSample !== 16) {
          throw new Error('espeak-ng WAV is not 16-bit PCM');
        }
        this.#format = format;
      }
      offset = body + size + (size % 2);
    }
    return Buffer.alloc(0);
  }
}
