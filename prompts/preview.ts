/**
 * Speaks a profile's first message into a WAV file, in the profile's voice, so a clinician can
 * hear it before publishing. Cloud voices go through the same official plugins the agent uses
 * (and honour the configured base URLs); the local voice is espeak-ng at the profile's speed.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import type { TTSVoices } from '@livekit/agents-plugin-openai';
import type { Config } from '../infra/config.ts';
import type { Voice } from './schema.ts';

/** espeak-ng's default rate; the profile's speed multiplies it. */
const ESPEAK_BASE_WPM = 175;

export interface PreviewRequest {
  text: string;
  voice: Voice;
  /** BCP 47, e.g. en-US; picks the local voice when the profile's voice is a cloud one. */
  language: string;
  outPath: string;
  /** Use the local voice even when a cloud key is configured. */
  offline: boolean;
  /** Only read for cloud voices. Undefined when configuration could not be loaded. */
  providers: Config['providers'] | undefined;
}

export interface PreviewResult {
  engine: 'espeak-ng' | 'openai' | 'elevenlabs';
  /** The voice actually used. */
  voice: string;
  durationMs: number;
  /** Why the local voice stood in for the profile's cloud voice, if it did. */
  fallbackReason?: string;
  detail: string;
}

export class PreviewError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PreviewError';
  }
}

/** espeak-ng voice for a language tag: en-US → en-us. */
export function localVoiceFor(language: string): string {
  return language.toLowerCase();
}

export async function synthesizePreview(req: PreviewRequest): Promise<PreviewResult> {
  const { voice } = req;
  let fallbackReason: string | undefined;
  if (voice.provider !== 'local') {
    if (req.offline) {
      fallbackReason = `--offline was given, so the local voice stands in for ${voice.provider} voice '${voice.voiceId}'`;
    } else {
      const key =
        voice.provider === 'openai'
          ? req.providers?.openai.apiKey
          : req.providers?.elevenlabs.apiKey;
      if (key && req.providers) return synthesizeCloud(req, req.providers);
      const envName = voice.provider === 'openai' ? 'OPENAI_API_KEY' : 'ELEVENLABS_API_KEY';
      fallbackReason = `no ${envName} is configured, so the local voice stands in for ${voice.provider} voice '${voice.voiceId}'`;
    }
  }
  const espeakVoice = voice.provider === 'local' ? voice.voiceId : localVoiceFor(req.language);
  const wpm = Math.round(ESPEAK_BASE_WPM * voice.speed);
  await runEspeak(req.text, espeakVoice, wpm, req.outPath);
  const durationMs = wavDurationMs(await readFile(req.outPath));
  return {
    engine: 'espeak-ng',
    voice: espeakVoice,
    durationMs,
    ...(fallbackReason ? { fallbackReason } : {}),
    detail: `espeak-ng voice ${espeakVoice} at ${wpm} words per minute (speed ${voice.speed})`,
  };
}

function runEspeak(text: string, voice: string, wpm: number, outPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Text goes in on stdin: never parsed as options, never through a shell.
    const child = spawn('espeak-ng', ['-v', voice, '-s', String(wpm), '-w', outPath, '--stdin'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new PreviewError('espeak-ng is not installed: apt-get install espeak-ng')
          : new PreviewError(`espeak-ng could not start: ${err.message}`, { cause: err }),
      );
    });
    child.on('close', (code) => {
      if (code === 0) resolve();
      else {
        const why = stderr.trim().split('\n')[0] || `exit code ${String(code)}`;
        reject(new PreviewError(`espeak-ng failed for voice '${voice}': ${why}`));
      }
    });
    child.stdin.on('error', () => {
      // The close handler reports the failure; a broken pipe adds nothing.
    });
    child.stdin.end(text);
  });
}

async function synthesizeCloud(
  req: PreviewRequest,
  providers: Config['providers'],
): Promise<PreviewResult> {
  // Loaded only here: the framework is heavy, and offline previews never need it.
  const agents = await import('@livekit/agents');
  // The plugins log through the framework's logger; the CLI reports errors itself.
  agents.initializeLogger({ pretty: false, level: 'silent' });
  const { voice } = req;
  let tts: {
    synthesize(text: string): { collect(): Promise<AudioFrameLike> };
    close(): Promise<void>;
  };
  if (voice.provider === 'openai') {
    const { TTS } = await import('@livekit/agents-plugin-openai');
    tts = new TTS({
      apiKey: providers.openai.apiKey,
      ...(providers.openai.baseUrl ? { baseURL: providers.openai.baseUrl } : {}),
      model: providers.openai.ttsModel,
      // Any voice name the account offers; the plugin's union lists only the built-in ones.
      voice: voice.voiceId as TTSVoices,
      speed: voice.speed,
    });
  } else {
    const { TTS } = await import('@livekit/agents-plugin-elevenlabs');
    tts = new TTS({
      apiKey: providers.elevenlabs.apiKey,
      ...(providers.elevenlabs.baseUrl ? { baseURL: providers.elevenlabs.baseUrl } : {}),
      model: providers.elevenlabs.model,
      voiceId: voice.voiceId,
      voiceSettings: {
        stability: voice.stability ?? 0.5,
        similarity_boost: 0.75,
        speed: voice.speed,
      },
    });
  }
  try {
    const frame = await tts.synthesize(req.text).collect();
    const wav = encodeWav(frame.data, frame.sampleRate, frame.channels);
    await writeFile(req.outPath, wav);
    return {
      engine: voice.provider === 'openai' ? 'openai' : 'elevenlabs',
      voice: voice.voiceId,
      durationMs: wavDurationMs(wav),
      detail: `${voice.provider} voice '${voice.voiceId}' at speed ${voice.speed}`,
    };
  } catch (err) {
    if (err instanceof PreviewError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new PreviewError(`${voice.provider} could not synthesise the preview: ${why}`, {
      cause: err,
    });
  } finally {
    await tts.close();
  }
}

interface AudioFrameLike {
  data: Int16Array;
  sampleRate: number;
  channels: number;
}

/** A 16-bit PCM WAV file. */
export function encodeWav(samples: Int16Array, sampleRate: number, channels: number): Buffer {
  const dataBytes = samples.length * 2;
  const buf = Buffer.alloc(44 + dataBytes);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataBytes, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(channels, 22);
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * channels * 2, 28);
  buf.writeUInt16LE(channels * 2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < samples.length; i++) buf.writeInt16LE(samples[i] ?? 0, 44 + i * 2);
  return buf;
}

/** Duration of a PCM WAV, from its `fmt ` and `data` chunks. Throws for anything else. */
export function wavDurationMs(wav: Buffer): number {
  if (
    wav.length < 12 ||
    wav.toString('ascii', 0, 4) !== 'RIFF' ||
    wav.toString('ascii', 8, 12) !== 'WAVE'
  ) {
    throw new PreviewError('not a WAV file');
  }
  let byteRate = 0;
  let offset = 12;
  while (offset + 8 <= wav.length) {
    const id = wav.toString('ascii', offset, offset + 4);
    let size = wav.readUInt32LE(offset + 4);
    if (id === 'fmt ') byteRate = wav.readUInt32LE(offset + 16);
    if (id === 'data') {
      // Streaming writers leave the size unset (0 or 0xFFFFFFFF); the rest of the file is data.
      const available = wav.length - offset - 8;
      if (size === 0 || size > available) size = available;
      if (!byteRate) throw new PreviewError('WAV file has no format chunk');
      return Math.round((size / byteRate) * 1000);
    }
    offset += 8 + size + (size % 2);
  }
  throw new PreviewError('WAV file has no audio data');
}
