/**
 * The voices a clip can be rendered in: the embedded espeak-ng voices the agent itself speaks
 * with (agent/providers/local), or a cloud voice through the same official @livekit/agents plugin
 * the agent uses (ElevenLabs, OpenAI), honouring the configured base URLs, so the stand-ins and
 * on-prem endpoints plug in unchanged. Text goes to espeak-ng on stdin, never through a shell.
 */
import { spawn } from 'node:child_process';
import type { TTSVoices } from '@livekit/agents-plugin-openai';
import {
  assertEspeakVoice,
  speedToWordsPerMinute,
  WavStreamParser,
} from '../agent/providers/local/espeak.ts';
import type { Config } from '../infra/config.ts';
import { PermanentError, TransientError } from '../infra/errors.ts';
import type { ClipVoice } from './schema.ts';

/** Mono signed 16-bit PCM. */
export interface Pcm {
  samples: Int16Array;
  sampleRate: number;
}

/** Speaks one piece of text in one voice. */
export interface Synthesizer {
  synthesize(text: string, voice: ClipVoice, signal: AbortSignal): Promise<Pcm>;
}

/** A voice the console offers. */
export interface VoiceOption {
  provider: ClipVoice['provider'];
  voiceId: string;
  label: string;
}

/** espeak-ng voices that ship with Debian's package (checked when used). */
export const LOCAL_VOICES: readonly VoiceOption[] = Object.freeze([
  { provider: 'local', voiceId: 'en-us', label: 'Embedded: US English' },
  { provider: 'local', voiceId: 'en-us+f3', label: 'Embedded: US English, female' },
  { provider: 'local', voiceId: 'en-gb', label: 'Embedded: British English' },
]);

/** What this deployment can render in: the embedded voices, and each cloud voice with a key. */
export function availableVoices(providers: Config['providers']): VoiceOption[] {
  return [
    ...(providers.elevenlabs.apiKey
      ? [
          {
            provider: 'elevenlabs' as const,
            voiceId: providers.elevenlabs.voiceId,
            label: 'ElevenLabs: configured voice',
          },
        ]
      : []),
    ...(providers.openai.apiKey
      ? [
          {
            provider: 'openai' as const,
            voiceId: providers.openai.ttsVoice,
            label: `OpenAI: ${providers.openai.ttsVoice}`,
          },
        ]
      : []),
    ...LOCAL_VOICES,
  ];
}

/** A voice that cannot be used here (no key, unknown espeak-ng voice): do not retry. */
export class VoiceUnavailableError extends PermanentError {
  constructor(message: string, cause?: unknown) {
    super('voice_unavailable', message, cause);
  }
}

/** The voice was reachable but failed this time (a cloud error, a synthesiser crash). */
export class VoiceFailedError extends TransientError {
  constructor(message: string, cause?: unknown) {
    super('voice_failed', message, cause);
  }
}

const ESPEAK = '/usr/bin/espeak-ng';

async function espeak(
  text: string,
  voice: ClipVoice,
  signal: AbortSignal,
  binary: string,
): Promise<Pcm> {
  try {
    assertEspeakVoice(binary, voice.voiceId);
  } catch (err) {
    throw new VoiceUnavailableError(err instanceof Error ? err.message : String(err), err);
  }
  const wpm = speedToWordsPerMinute(voice.speed);
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['--stdout', '--stdin', '-v', voice.voiceId, '-s', String(wpm)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      signal,
    });
    const wav = new WavStreamParser();
    const pcm: Buffer[] = [];
    let stderr = '';
    let failure: unknown;
    child.stdout.on('data', (chunk: Buffer) => {
      try {
        pcm.push(wav.push(chunk));
      } catch (err) {
        failure ??= err;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (b: Buffer) => {
      if (stderr.length < 1000) stderr += b.toString();
    });
    child.on('error', (err) => (failure ??= err));
    child.on('close', (code) => {
      if (signal.aborted) return reject(signal.reason);
      if (failure !== undefined || code !== 0) {
        const why =
          failure instanceof Error
            ? failure.message
            : stderr.trim().split('\n')[0] || `exit ${String(code)}`;
        return reject(new VoiceFailedError(`espeak-ng failed: ${why}`, failure));
      }
      const bytes = Buffer.concat(pcm);
      const samples = new Int16Array(bytes.length >> 1);
      for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
      resolve({ samples, sampleRate: wav.format?.sampleRate ?? 22_050 });
    });
    child.stdin.on('error', () => {
      // A broken pipe surfaces through 'close'.
    });
    child.stdin.end(text, 'utf8');
  });
}

interface CloudTts {
  synthesize(text: string): {
    collect(): Promise<{ data: Int16Array; sampleRate: number; channels: number }>;
  };
  close(): Promise<void>;
}

async function cloud(text: string, voice: ClipVoice, providers: Config['providers']): Promise<Pcm> {
  // Loaded only here: the framework is heavy, and embedded renders never need it.
  const agents = await import('@livekit/agents');
  // The plugins log through the framework's logger, which would print the text; errors are ours.
  agents.initializeLogger({ pretty: false, level: 'silent' });
  let tts: CloudTts;
  if (voice.provider === 'elevenlabs') {
    const el = providers.elevenlabs;
    if (!el.apiKey)
      throw new VoiceUnavailableError('ElevenLabs is not configured (ELEVENLABS_API_KEY)');
    const { TTS } = await import('@livekit/agents-plugin-elevenlabs');
    tts = new TTS({
      apiKey: el.apiKey,
      ...(el.baseUrl ? { baseURL: el.baseUrl } : {}),
      model: el.model,
      voiceId: voice.voiceId,
      voiceSettings: {
        stability: voice.stability ?? 0.6,
        similarity_boost: 0.8,
        speed: voice.speed,
      },
    });
  } else {
    const oa = providers.openai;
    if (!oa.apiKey) throw new VoiceUnavailableError('OpenAI is not configured (OPENAI_API_KEY)');
    const { TTS } = await import('@livekit/agents-plugin-openai');
    tts = new TTS({
      apiKey: oa.apiKey,
      ...(oa.baseUrl ? { baseURL: oa.baseUrl } : {}),
      model: oa.ttsModel,
      voice: voice.voiceId as TTSVoices,
      speed: voice.speed,
    });
  }
  try {
    const frame = await tts.synthesize(text).collect();
    if (frame.channels !== 1)
      throw new VoiceFailedError(`${voice.provider} sent ${frame.channels} channels`);
    return { samples: frame.data.slice(), sampleRate: frame.sampleRate };
  } catch (err) {
    if (err instanceof VoiceFailedError) throw err;
    // The plugin's message names the endpoint and status, never the text.
    const why = err instanceof Error ? err.message : String(err);
    throw new VoiceFailedError(`${voice.provider} could not synthesise: ${why}`, err);
  } finally {
    await tts.close().catch(() => undefined);
  }
}

/** The synthesiser for this deployment's providers. */
export function providerSynthesizer(
  providers: Config['providers'],
  opts: { espeakBinary?: string } = {},
): Synthesizer {
  const binary = opts.espeakBinary ?? ESPEAK;
  return {
    synthesize: (text, voice, signal) =>
      voice.provider === 'local'
        ? espeak(text, voice, signal, binary)
        : cloud(text, voice, providers),
  };
}
