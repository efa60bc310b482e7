/**
 * Builds the STT, LLM and TTS for one session from config (which providers, keys, endpoints) and
 * the clinician's profile (voice, language, key terms). Vendors sit here, at the edge: the rest of
 * the agent only sees the framework's STT/LLM/TTS types.
 *
 * More than one configured provider per stage becomes the framework's FallbackAdapter, in the
 * configured order. With `resilience` (`resilience.ts`), cloud recognisers can be reconnected
 * by the session's watchdog, a cloud LLM gets an attempt timeout, retries and a holding line,
 * and each TTS in a chain must start speaking within a deadline or the next one speaks.
 */
import { llm as llmNs, stt as sttNs, tts as ttsNs, type VAD } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as elevenlabs from '@livekit/agents-plugin-elevenlabs';
import * as openai from '@livekit/agents-plugin-openai';
import type { Config, TtsProvider } from '../../infra/config.ts';
import { ConfigError } from '../../infra/errors.ts';
import {
  FirstAudioDeadlineTTS,
  FirstTokenDeadlineLLM,
  HoldingLineLLM,
  ReconnectingSTT,
} from './resilience.ts';

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
  /** Replaces the connections of the cloud recognisers; how many (0: none to reconnect). */
  reconnectStt(): number;
}

/** The bounded-silence settings (`Config['faults']`). */
export interface Resilience {
  llm: {
    holdAfterMs: number;
    holdLine: string;
    /** Spoken when every LLM failed before answering; empty: the turn goes unanswered. */
    failureLine: string;
    attemptTimeoutMs: number;
    retriesPerProvider: number;
  };
  tts: { firstAudioTimeoutMs: number };
  /** The holding line went out. */
  onHold?: () => void;
  /** Every LLM failed and the failure line went out. */
  onLlmFailure?: (err: unknown) => void;
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
  resilience?: Resilience,
): Providers {
  assertProvidersConfigured(cfg);

  const reconnectable: ReconnectingSTT[] = [];
  const stts = cfg.stt.map((name) => {
    if (name === 'local') return local.stt();
    const dg = buildDeepgram(cfg, prefs);
    if (!resilience) return dg;
    const r = new ReconnectingSTT(dg);
    reconnectable.push(r);
    return r;
  });
  const llms = cfg.llm.map((name) => (name === 'local' ? local.llm() : buildOpenAiLlm(cfg)));
  const order = ttsOrder(cfg.tts, prefs.voice?.provider);
  const ttss = order.map((name) => buildTtsFor(name, cfg, prefs, local));

  return {
    stt: stts.length > 1 ? new sttNs.FallbackAdapter({ sttInstances: stts, vad }) : stts[0]!,
    llm: resilience ? resilientLlm(cfg, llms, resilience) : llmChain(llms),
    tts: resilience ? resilientTts(ttss, resilience) : ttsChain(ttss),
    labels: { stt: [...cfg.stt], llm: [...cfg.llm], tts: order },
    reconnectStt: () => reconnectable.reduce((n, r) => n + r.reconnect(), 0),
  };
}

const llmChain = (llms: llmNs.LLM[]): llmNs.LLM =>
  llms.length > 1 ? new llmNs.FallbackAdapter({ llms }) : llms[0]!;
const ttsChain = (ttss: ttsNs.TTS[]): ttsNs.TTS =>
  ttss.length > 1 ? new ttsNs.FallbackAdapter({ ttsInstances: ttss }) : ttss[0]!;

/**
 * Any chain with a cloud LLM goes through the FallbackAdapter, a single one too: it is what
 * bounds each attempt (the plugin's own default is 10 s per try and 3 retries, ~45 s of
 * silence) and retries it. The on-machine dialogue engine alone answers at once and must not be
 * asked twice (a retry would step the protocol again), so it is left as it is.
 */
function resilientLlm(cfg: Config['providers'], llms: llmNs.LLM[], r: Resilience): llmNs.LLM {
  if (cfg.llm.every((p) => p === 'local')) return llmChain(llms);
  const chain = new llmNs.FallbackAdapter({
    // Each cloud attempt must start answering within the attempt timeout (see the wrapper).
    llms: llms.map((l, i) => (cfg.llm[i] === 'local' ? l : new FirstTokenDeadlineLLM(l))),
    attemptTimeout: r.llm.attemptTimeoutMs / 1000,
    maxRetryPerLLM: r.llm.retriesPerProvider,
    retryInterval: 0.1,
  });
  if (r.llm.holdAfterMs <= 0 && !r.llm.failureLine) return chain;
  return new HoldingLineLLM(chain, {
    holdAfterMs: Math.max(0, r.llm.holdAfterMs),
    line: r.llm.holdLine,
    ...(r.onHold ? { onHold: r.onHold } : {}),
    ...(r.llm.failureLine ? { failureLine: r.llm.failureLine } : {}),
    ...(r.onLlmFailure ? { onFailure: r.onLlmFailure } : {}),
  });
}

/**
 * A chain fails over at once (no retries of the same voice: each costs a second of silence)
 * and each streaming voice must start within the deadline. A single voice has nothing to fail
 * over to and is left alone.
 */
function resilientTts(ttss: ttsNs.TTS[], r: Resilience): ttsNs.TTS {
  if (ttss.length < 2) return ttsChain(ttss);
  return new ttsNs.FallbackAdapter({
    ttsInstances: ttss.map((t) =>
      t.capabilities.streaming ? new FirstAudioDeadlineTTS(t, r.tts.firstAudioTimeoutMs) : t,
    ),
    maxRetryPerTTS: 0,
  });
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
