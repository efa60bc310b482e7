/**
 * Loopback stand-ins for the paid AI vendors (Deepgram STT, OpenAI LLM/TTS, ElevenLabs TTS). Each
 * speaks its vendor's real wire protocol, so the official @livekit/agents plugins run unchanged
 * against them; each records what it was asked and can inject latency and faults.
 *
 * `startStandins()` starts all three and returns the environment the agent's config reads.
 *
 * @example
 * ```ts
 * const standins = await startStandins({ deepgram: { finalDelayMs: 300 } });
 * standins.deepgram.hear('yes I take it every morning');   // next speech segment's transcript
 * standins.openai.reply({ text: 'Noted.', toolCalls: [{ name: 'record_answer', arguments: {} }] });
 * standins.elevenlabs.injectFault({ kind: 'close', afterAudioChunks: 2 });
 * const config = loadConfig({ ...baseEnv, ...standins.env });
 * // … run the agent, then inspect standins.openai.chatRequests, standins.deepgram.connections …
 * await standins.close();
 * ```
 */
import { DeepgramStandin } from './deepgram.ts';
import type { DeepgramStandinOptions } from './deepgram.ts';
import { ElevenLabsStandin } from './elevenlabs.ts';
import type { ElevenLabsStandinOptions } from './elevenlabs.ts';
import { OpenAIStandin } from './openai.ts';
import type { OpenAIStandinOptions } from './openai.ts';
import { assertOptions, checkHost } from './server.ts';

export { DeepgramStandin, deepgramStandinDefaults } from './deepgram.ts';
export type {
  DeepgramConnectionRecord,
  DeepgramControlRecord,
  DeepgramEndReason,
  DeepgramFault,
  DeepgramRestRecord,
  DeepgramSegmentRecord,
  DeepgramStandinOptions,
  DeepgramTuning,
  HeardSpeech,
} from './deepgram.ts';
export {
  OPENAI_TTS_SAMPLE_RATE,
  OpenAIStandin,
  lastUserText,
  openaiStandinDefaults,
} from './openai.ts';
export type {
  ChatMessage,
  ChatRequestRecord,
  ChatTool,
  OpenAIEndpoint,
  OpenAIFault,
  OpenAIStandinOptions,
  OpenAITuning,
  RequestOutcome,
  ScriptedReply,
  ScriptedReplyParts,
  ScriptedToolCall,
  SpeechRequestRecord,
} from './openai.ts';
export { ElevenLabsStandin, elevenlabsStandinDefaults } from './elevenlabs.ts';
export type {
  ElevenLabsConnectionRecord,
  ElevenLabsContextRecord,
  ElevenLabsFault,
  ElevenLabsGenerationRecord,
  ElevenLabsHttpRecord,
  ElevenLabsStandinOptions,
  ElevenLabsTextChunk,
  ElevenLabsTuning,
} from './elevenlabs.ts';
export { rms, speechDurationMs, synthesizeSpeech, syntheticVoiceDefaults } from './audio.ts';
export type { SyntheticVoiceOptions } from './audio.ts';
export { waitUntil } from './server.ts';
export type { RefusalRecord } from './server.ts';

/** The environment variables the agent's config (`infra/config.ts`) reads for the providers. */
export interface StandinEnv {
  /** `ws://127.0.0.1:PORT`: the deepgram plugin appends `/v1/listen`. */
  DEEPGRAM_BASE_URL: string;
  DEEPGRAM_API_KEY: string;
  /** `http://127.0.0.1:PORT/v1`: the openai SDK appends `/chat/completions`, `/audio/speech`. */
  OPENAI_BASE_URL: string;
  OPENAI_API_KEY: string;
  /** `http://127.0.0.1:PORT/v1`: the elevenlabs plugin derives `ws://…/v1/text-to-speech/…`. */
  ELEVENLABS_BASE_URL: string;
  ELEVENLABS_API_KEY: string;
}

export interface StandinsOptions {
  /** Loopback address all three listen on. @defaultValue '127.0.0.1' */
  host: string;
  /** Keys each stand-in requires (and the env carries). */
  apiKeys: { deepgram: string; openai: string; elevenlabs: string };
  deepgram: Partial<Omit<DeepgramStandinOptions, 'host' | 'apiKey'>>;
  openai: Partial<Omit<OpenAIStandinOptions, 'host' | 'apiKey'>>;
  elevenlabs: Partial<Omit<ElevenLabsStandinOptions, 'host' | 'apiKey'>>;
}

export const standinsDefaults: Readonly<StandinsOptions> = Object.freeze({
  host: '127.0.0.1',
  apiKeys: Object.freeze({
    deepgram: 'standin-deepgram-key',
    openai: 'standin-openai-key',
    elevenlabs: 'standin-elevenlabs-key',
  }),
  deepgram: {},
  openai: {},
  elevenlabs: {},
});

export interface Standins {
  readonly deepgram: DeepgramStandin;
  readonly openai: OpenAIStandin;
  readonly elevenlabs: ElevenLabsStandin;
  /** The base URL each plugin takes (deepgram `baseUrl`, openai and elevenlabs `baseURL`). */
  readonly urls: Readonly<{ deepgram: string; openai: string; elevenlabs: string }>;
  readonly env: Readonly<StandinEnv>;
  /** Forgets scripts, faults and records on all three. */
  reset(): void;
  close(): Promise<void>;
}

/** Starts all three stand-ins on ephemeral loopback ports. */
export async function startStandins(opts: Partial<StandinsOptions> = {}): Promise<Standins> {
  const o: StandinsOptions = {
    ...standinsDefaults,
    ...opts,
    apiKeys: { ...standinsDefaults.apiKeys, ...opts.apiKeys },
  };
  assertOptions('stand-ins', [
    checkHost(o.host),
    ...Object.entries(o.apiKeys).map(([name, key]) =>
      key.length > 0 ? null : `apiKeys.${name} must not be empty`,
    ),
  ]);

  const started = await Promise.allSettled([
    DeepgramStandin.start({ ...o.deepgram, host: o.host, apiKey: o.apiKeys.deepgram }),
    OpenAIStandin.start({ ...o.openai, host: o.host, apiKey: o.apiKeys.openai }),
    ElevenLabsStandin.start({ ...o.elevenlabs, host: o.host, apiKey: o.apiKeys.elevenlabs }),
  ]);
  const [dg, oa, el] = started;
  if (dg.status !== 'fulfilled' || oa.status !== 'fulfilled' || el.status !== 'fulfilled') {
    await Promise.all(
      started.map((s) => (s.status === 'fulfilled' ? s.value.close() : Promise.resolve())),
    );
    const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    throw failure?.reason;
  }
  const deepgram = dg.value;
  const openai = oa.value;
  const elevenlabs = el.value;

  const urls = Object.freeze({
    deepgram: deepgram.url,
    openai: openai.url,
    elevenlabs: elevenlabs.url,
  });
  const env: StandinEnv = Object.freeze({
    DEEPGRAM_BASE_URL: urls.deepgram,
    DEEPGRAM_API_KEY: o.apiKeys.deepgram,
    OPENAI_BASE_URL: urls.openai,
    OPENAI_API_KEY: o.apiKeys.openai,
    ELEVENLABS_BASE_URL: urls.elevenlabs,
    ELEVENLABS_API_KEY: o.apiKeys.elevenlabs,
  });
  return {
    deepgram,
    openai,
    elevenlabs,
    urls,
    env,
    reset() {
      deepgram.reset();
      openai.reset();
      elevenlabs.reset();
    },
    async close() {
      await Promise.all([deepgram.close(), openai.close(), elevenlabs.close()]);
    },
  };
}
