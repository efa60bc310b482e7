/**
 * Builds the STT, LLM and TTS for one session from config (which providers, keys, endpoints) and
 * the clinician's profile (voice, language, key terms). Vendors sit here, at the edge: the rest of
 * the agent only sees the framework's STT/LLM/TTS types.
 *
 * More than one configured provider per stage becomes the framework's FallbackAdapter, in the
 * configured order.
 */
import { llm as llmNs, stt as sttNs, tts as ttsNs, type VAD } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as elevenlabs from '@livekit/agents-plugin-elevenlabs';
import * as openai from '@livekit/agents-plugin-openai';
import type { Config, TtsProvider } from '../../infra/config.ts';
import { ConfigError } from '../../infra/errors.ts';

/** What a profile may say about the providers. All optional: config supplies the rest. */
export interface ProviderPreferences {
  /** BCP 47, e.g. `en-US`. */
  language?: string;
  voice?: { provider?: string; voiceId?: string; speed?: number; stability?: number };
  stt?: { model?: string; keyTerms?: readonly string[] };
}

/**
 * The on-machine engines. Built by the session, because they share its state: the dialogue
 * engine drives the conversation and tells the recogniser what answer to listen for.
 */
export interface LocalEngines {
  stt(): sttNs.STT;
  llm(): llmNs.LLM;
  tts(voice: ProviderPreferences['voice']): ttsNs.TTS;
}

export interface Providers {
  stt: sttNs.STT;
  llm: llmNs.LLM;
  tts: ttsNs.TTS;
  /** Provider names per stage, primary first: for logs and the session record. */
  labels: { stt: string[]; llm: string[]; tts: string[] };
}

function required<T>(value: T | undefined, variable: string, provider: string): T {
  // config() already refuses a configured provider without a key; this guards direct callers.
  if (value === undefined) throw new ConfigError([`${variable}: is required for ${provider}`]);
  return value;
}

function buildDeepgram(cfg: Config['providers'], prefs: ProviderPreferences): sttNs.STT {
  const dg = cfg.deepgram;
  return new deepgram.STT({
    apiKey: required(dg.apiKey, 'DEEPGRAM_API_KEY', 'deepgram'),
    ...(dg.baseUrl ? { baseUrl: dg.baseUrl } : {}),
    model: (prefs.stt?.model ?? dg.model) as deepgram.STTModels,
    language: prefs.language ?? 'en-US',
    keyterm: [...(prefs.stt?.keyTerms ?? [])],
  });
}

function buildOpenAiLlm(cfg: Config['providers'], model?: string, temperature = 0.3): llmNs.LLM {
  const oa = cfg.openai;
  return new openai.LLM({
    apiKey: required(oa.apiKey, 'OPENAI_API_KEY', 'openai'),
    ...(oa.baseUrl ? { baseURL: oa.baseUrl } : {}),
    model: model ?? oa.llmModel,
    temperature,
  });
}

/**
 * The safety classifier's model: built like the conversation's (same provider, key and base
 * URL), as its own instance. Call only with a cloud LLM configured.
 */
export function buildClassifierLlm(cfg: Config['providers'], model?: string): llmNs.LLM {
  return buildOpenAiLlm(cfg, model, 0);
}

function buildTtsFor(
  name: TtsProvider,
  cfg: Config['providers'],
  prefs: ProviderPreferences,
  local: LocalEngines,
): ttsNs.TTS {
  // The profile's voice id only applies to the provider it was chosen for.
  const voice = prefs.voice?.provider === name ? prefs.voice : undefined;
  switch (name) {
    case 'local':
      // The profile's speed carries over to the local voice even when it chose a cloud voice.
      return local.tts(voice ?? (prefs.voice ? { speed: prefs.voice.speed } : undefined));
    case 'elevenlabs': {
      const el = cfg.elevenlabs;
      return new elevenlabs.TTS({
        apiKey: required(el.apiKey, 'ELEVENLABS_API_KEY', 'elevenlabs'),
        ...(el.baseUrl ? { baseURL: el.baseUrl } : {}),
        model: el.model,
        voiceId: voice?.voiceId ?? el.voiceId,
        ...(prefs.language ? { language: prefs.language.slice(0, 2) } : {}),
        voiceSettings: {
          stability: voice?.stability ?? 0.6,
          similarity_boost: 0.8,
          ...(voice?.speed !== undefined ? { speed: voice.speed } : {}),
        },
      });
    }
    case 'openai': {
      const oa = cfg.openai;
      return new openai.TTS({
        apiKey: required(oa.apiKey, 'OPENAI_API_KEY', 'openai'),
        ...(oa.baseUrl ? { baseURL: oa.baseUrl } : {}),
        model: oa.ttsModel,
        voice: (voice?.voiceId ?? oa.ttsVoice) as openai.TTSVoices,
        speed: voice?.speed ?? 1,
      });
    }
  }
}

/** The profile's chosen voice provider goes first when it is configured. */
function ttsOrder(
  configured: readonly TtsProvider[],
  preferred: string | undefined,
): TtsProvider[] {
  const first = configured.find((p) => p === preferred);
  return first ? [first, ...configured.filter((p) => p !== first)] : [...configured];
}

export function buildProviders(
  cfg: Config['providers'],
  prefs: ProviderPreferences,
  vad: VAD,
  local: LocalEngines,
): Providers {
  assertProvidersConfigured(cfg);

  const stts = cfg.stt.map((name) => (name === 'local' ? local.stt() : buildDeepgram(cfg, prefs)));
  const llms = cfg.llm.map((name) => (name === 'local' ? local.llm() : buildOpenAiLlm(cfg)));
  const order = ttsOrder(cfg.tts, prefs.voice?.provider);
  const ttss = order.map((name) => buildTtsFor(name, cfg, prefs, local));

  return {
    stt: stts.length > 1 ? new sttNs.FallbackAdapter({ sttInstances: stts, vad }) : stts[0]!,
    llm: llms.length > 1 ? new llmNs.FallbackAdapter({ llms }) : llms[0]!,
    tts: ttss.length > 1 ? new ttsNs.FallbackAdapter({ ttsInstances: ttss }) : ttss[0]!,
    labels: { stt: [...cfg.stt], llm: [...cfg.llm], tts: order },
  };
}

/**
 * Validates at worker startup that every stage has a provider with a key, so a missing key fails
 * before the worker registers, not mid-call.
 */
export function assertProvidersConfigured(cfg: Config['providers']): void {
  const problems: string[] = [];
  if (cfg.stt.length === 0) problems.push('STT_PROVIDERS: no speech-to-text provider configured');
  if (cfg.llm.length === 0) problems.push('LLM_PROVIDERS: no language model configured');
  if (cfg.tts.length === 0) problems.push('TTS_PROVIDERS: no text-to-speech provider configured');
  if (problems.length) throw new ConfigError(problems);
}
