/**
 * Patient voices for the speech eval, from three Debian synthesisers: espeak-ng (formant, robotic),
 * flite (built-in CMU voices) and festival with the HTS voice `cmu_us_slt_arctic_hts` (the most
 * natural here). A voice is `<engine>:<name>`: `espeak:en-us+f3`, `flite:slt`,
 * `festival:cmu_us_slt_arctic_hts`. Audio is cached on disk, keyed by text and voice.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTool, synthesize, type Pcm } from '../../sim/speech.ts';

export const DEFAULT_VOICES: readonly string[] = Object.freeze(['espeak:en-us', 'flite:slt']);

const CACHE_DIR = fileURLToPath(new URL('../../.cache/speech-eval/', import.meta.url));
const VOICE = /^(espeak|flite|festival):([\w+-]+)$/;

export function parseVoice(voice: string): {
  engine: 'espeak' | 'flite' | 'festival';
  name: string;
} {
  const m = VOICE.exec(voice);
  if (!m?.[1] || !m[2]) {
    throw new RangeError(
      `unknown voice "${voice}": use espeak:<voice>, flite:<voice> or festival:<voice>`,
    );
  }
  return { engine: m[1] as 'espeak' | 'flite' | 'festival', name: m[2] };
}

/** `text` spoken by `voice`, as mono 16-bit PCM at `sampleRate`. */
export async function speak(text: string, voice: string, sampleRate = 48_000): Promise<Pcm> {
  const { engine, name } = parseVoice(voice);
  if (engine === 'espeak') return synthesize(text, { voice: name, sampleRate });

  const key = createHash('sha256')
    .update(JSON.stringify([1, text, voice, sampleRate]))
    .digest('hex')
    .slice(0, 32);
  const path = join(CACHE_DIR, `${key}.s16le`);
  const cached = await readFile(path).catch(() => undefined);
  if (cached) return { samples: int16(cached), sampleRate };

  const wav = join(tmpdir(), `voicecare-voice-${randomUUID()}.wav`);
  try {
    if (engine === 'flite') await run('flite', ['-voice', name, '-t', text, '-o', wav]);
    else await run('text2wave', ['-eval', `(voice_${name})`, '-o', wav], Buffer.from(text));
    const raw = await run('sox', [
      wav,
      ...['-t', 'raw', '-e', 'signed-integer', '-b', '16', '-c', '1', '-r', String(sampleRate)],
      '-',
    ]);
    await mkdir(CACHE_DIR, { recursive: true });
    const tmp = `${path}.${randomUUID()}.tmp`;
    await writeFile(tmp, raw);
    await rename(tmp, path);
    return { samples: int16(raw), sampleRate };
  } finally {
    await rm(wav, { force: true });
  }
}

function int16(buf: Buffer): Int16Array {
  const copy = Uint8Array.from(buf.subarray(0, buf.length - (buf.length % 2)));
  return new Int16Array(copy.buffer);
}

const run = (cmd: string, args: readonly string[], input?: Buffer): Promise<Buffer> =>
  runTool(cmd, args, input, 'run scripts/install-tools.sh');
