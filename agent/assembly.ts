/**
 * What one session is made of, decided from plain inputs: the rendered profile, the provider
 * chains, the AgentSession's turn handling, the agent's options, the max-duration limit and the
 * room input. No I/O and no clients: `SessionRun.start()` (`session.ts`) builds the framework
 * objects from the plan, so every decision here is unit-tested without a room.
 */
import { inference, type voice } from '@livekit/agents';
import type { Config } from '../infra/config.ts';
import type { Profile } from '../prompts/schema.ts';
import { renderProfile, templateValuesFor } from '../prompts/template.ts';
import { patientIdentity } from '../sessions/participants.ts';
import type { SessionRequest } from '../sessions/schema.ts';
import type { RenderedProfile } from './agent.ts';
import type { ProviderPreferences } from './providers/index.ts';

type TurnHandling = NonNullable<voice.AgentSessionOptions['turnHandling']>;
export type TurnDetection = TurnHandling['turnDetection'];

/** The AgentSession options besides the pipeline stages (VAD, STT, LLM, TTS). */
export type AgentSessionSettings = Required<
  Pick<voice.AgentSessionOptions, 'userAwayTimeout' | 'turnHandling'>
>;

export interface AssemblyInput {
  cfg: Pick<Config, 'agent' | 'providers' | 'safety'>;
  request: SessionRequest;
  /** The profile version the request resolved to, before rendering. */
  profile: Profile;
  /**
   * Builds the end-of-turn model for `AGENT_TURN_DETECTION=model`.
   * @defaultValue the framework's on-device detector
   */
  turnDetector?: (version: inference.TurnDetectorVersion) => TurnDetection;
}

/** The on-machine dialogue engine's settings (`agent/protocol/engine.ts`). */
export interface DialogueEnginePlan {
  /** Free speech the embedded recogniser heard is read back for the patient to confirm. */
  readBackFreeSpeech: boolean;
  timeZone?: string;
}

/** The LLM safety classifier's settings (`agent/safety/classifier.ts`). */
export interface ClassifierPlan {
  /** Unset: the conversation's model. */
  model?: string;
  timeoutMs: number;
  maxAttempts: number;
}

export interface SessionPlan {
  profile: RenderedProfile;
  providers: {
    /** The chains to build, primary first (`buildProviders`). */
    chains: Config['providers'];
    /** What the profile says about language, voice and recogniser. */
    preferences: ProviderPreferences;
  };
  /** Built when `local` is in the LLM chain; it also feeds the local recogniser. */
  dialogueEngine: DialogueEnginePlan | undefined;
  agent: {
    /** `dialogue_engine`: the engine's greeting (first message and first question). */
    greeting: 'dialogue_engine' | 'profile';
    embeddedStt: boolean;
    timeZone?: string;
    /** Read safety matches through the context model (SAFETY_CONTEXT_MODEL). */
    contextModel: boolean;
  };
  classifier: ClassifierPlan | undefined;
  session: AgentSessionSettings;
  /** When the call is ended for running too long. */
  maxDurationMs: number;
  room: {
    closeOnDisconnect: true;
    /** The identity the API's join token carries: the only participant the agent hears. */
    participantIdentity: string;
    textEnabled: true;
    maxTypedChars: number;
    /** The patient's audio is taken from the room at this rate (AGENT_INPUT_SAMPLE_RATE). */
    audioSampleRate: number;
    /** Audio per frame from the room (AGENT_INPUT_FRAME_MS), through our own input (`room-audio-input.ts`). */
    audioFrameMs: number;
  };
}

const onDeviceTurnDetector = (version: inference.TurnDetectorVersion): TurnDetection =>
  new inference.TurnDetector({ version });

export function assembleSession(input: AssemblyInput): SessionPlan {
  const { cfg, request } = input;
  const { agent: agentCfg, providers } = cfg;
  // Throws a TemplateError for a variable with no value and no fallback: the caller fails the
  // session with the profile's error code.
  const profile = renderProfile(input.profile, templateValuesFor(request.patient));

  // The first STT provider is the embedded recogniser: its free speech is read back (engine) or
  // flagged (LLM). A fallback to it mid-call is not seen here; its answers then rest on the
  // confidence it reports.
  const embeddedStt = providers.stt[0] === 'local';
  const timeZone = agentCfg.timeZone ? { timeZone: agentCfg.timeZone } : {};
  const settings = cfg.safety.classifier;

  return {
    profile,
    providers: {
      chains: providers,
      preferences: { language: profile.language, voice: profile.voice, stt: profile.stt },
    },
    dialogueEngine: providers.llm.includes('local')
      ? { readBackFreeSpeech: embeddedStt, ...timeZone }
      : undefined,
    agent: {
      // Leading, the engine's protocol starts at its greeting; as a fallback behind a cloud LLM
      // it takes over mid-call, and the profile's opening stands.
      greeting: providers.llm[0] === 'local' ? 'dialogue_engine' : 'profile',
      embeddedStt,
      ...timeZone,
      contextModel: cfg.safety.contextModel,
    },
    // It asks the cloud LLM (its own instance); the dialogue engine alone has no model to ask.
    classifier:
      settings.enabled && providers.llm.some((p) => p !== 'local')
        ? {
            ...(settings.model === undefined ? {} : { model: settings.model }),
            timeoutMs: settings.timeoutMs,
            maxAttempts: settings.maxAttempts,
          }
        : undefined,
    session: {
      userAwayTimeout: profile.limits.silenceTimeoutMs / 1000,
      turnHandling: {
        // Always explicit: left unset, dev mode picks LiveKit's hosted model, unreachable offline.
        turnDetection:
          agentCfg.turnDetection === 'model'
            ? (input.turnDetector ?? onDeviceTurnDetector)('v1-mini')
            : agentCfg.turnDetection,
        endpointing: {
          minDelay: agentCfg.endpointing.minDelayMs,
          maxDelay: agentCfg.endpointing.maxDelayMs,
        },
        preemptiveGeneration: {
          enabled: agentCfg.preemptiveGeneration,
          preemptiveTts: agentCfg.preemptiveTts,
        },
        // 'vad' keeps barge-in local; the adaptive mode reaches for hosted inference.
        interruption: { mode: 'vad' },
      },
    },
    maxDurationMs: Math.min(profile.limits.maxDurationMs, agentCfg.maxSessionMs),
    room: {
      closeOnDisconnect: true,
      participantIdentity: patientIdentity(request.sessionId),
      // Typed text is screened like speech (agent/text-input.ts), never sent straight on.
      textEnabled: true,
      maxTypedChars: cfg.safety.maxTypedChars,
      audioSampleRate: agentCfg.inputSampleRate,
      audioFrameMs: agentCfg.inputFrameMs,
    },
  };
}
