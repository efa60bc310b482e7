import { fileURLToPath } from 'node:url';
import { inference } from '@livekit/agents';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../infra/config.ts';
import { readProfile } from '../prompts/loader.ts';
import type { Profile } from '../prompts/schema.ts';
import { TemplateError } from '../prompts/template.ts';
import { patientIdentity } from '../sessions/participants.ts';
import type { SessionRequest } from '../sessions/schema.ts';
import { assembleSession, type AssemblyInput, type TurnDetection } from './assembly.ts';

const intakePath = fileURLToPath(new URL('../prompts/intake.yaml', import.meta.url));
const request: SessionRequest = {
  sessionId: 'sess-1',
  profile: { id: 'intake' },
  patient: { ref: 'pt-123', displayName: 'Ann' },
  requestedAt: '2026-11-22T10:00:00Z',
  priority: 'routine',
};

let intake: Profile;
beforeAll(async () => {
  intake = await readProfile(intakePath);
});

/** A stand-in end-of-turn model: assembly only decides which version to ask for. */
const modelDetector = { stub: 'turn-detector' } as unknown as TurnDetection;

function plan(env: Record<string, string> = {}, overrides: Partial<AssemblyInput> = {}) {
  return assembleSession({
    cfg: loadConfig(env),
    request,
    profile: intake,
    turnDetector: () => modelDetector,
    ...overrides,
  });
}

const cloudKeys = { OPENAI_API_KEY: 'k', DEEPGRAM_API_KEY: 'k', ELEVENLABS_API_KEY: 'k' };

describe('which engines lead a session', () => {
  it('runs the dialogue engine with no cloud keys, and opens with its greeting', () => {
    const p = plan();
    expect(p.providers.chains.llm).toEqual(['local']);
    expect(p.dialogueEngine).toBeDefined();
    expect(p.agent.greeting).toBe('dialogue_engine');
    expect(p.classifier).toBeUndefined();
  });

  it('enables the safety classifier with a cloud LLM and leaves the greeting to the profile', () => {
    const p = plan(cloudKeys);
    expect(p.providers.chains.llm).toEqual(['openai']);
    expect(p.dialogueEngine).toBeUndefined();
    expect(p.agent.greeting).toBe('profile');
    expect(p.classifier).toEqual({ timeoutMs: 4000, maxAttempts: 2 });
  });

  it('keeps the dialogue engine as a fallback behind a cloud LLM without taking the greeting', () => {
    const p = plan({ ...cloudKeys, LLM_PROVIDERS: 'openai,local' });
    expect(p.dialogueEngine).toBeDefined();
    expect(p.agent.greeting).toBe('profile');
    expect(p.classifier).toBeDefined();
  });

  it('gives the classifier its own model and limits from the config', () => {
    const p = plan({
      ...cloudKeys,
      SAFETY_CLASSIFIER_MODEL: 'gpt-4.1-nano',
      SAFETY_CLASSIFIER_TIMEOUT_MS: '1500',
      SAFETY_CLASSIFIER_MAX_ATTEMPTS: '3',
    });
    expect(p.classifier).toEqual({ model: 'gpt-4.1-nano', timeoutMs: 1500, maxAttempts: 3 });
  });

  it('leaves the classifier off when the config turns it off, even with a cloud LLM', () => {
    expect(plan({ ...cloudKeys, SAFETY_CLASSIFIER: 'false' }).classifier).toBeUndefined();
  });

  it('treats the recogniser as embedded only when local leads the STT chain', () => {
    const leading = plan({ ...cloudKeys, LLM_PROVIDERS: 'local', STT_PROVIDERS: 'local,deepgram' });
    expect(leading.agent.embeddedStt).toBe(true);
    expect(leading.dialogueEngine?.readBackFreeSpeech).toBe(true);

    const behind = plan({ ...cloudKeys, LLM_PROVIDERS: 'local', STT_PROVIDERS: 'deepgram,local' });
    expect(behind.agent.embeddedStt).toBe(false);
    expect(behind.dialogueEngine?.readBackFreeSpeech).toBe(false);
  });

  it('hands the chains as configured, and the profile language, voice and key terms, to the providers', () => {
    const p = plan(cloudKeys);
    expect(p.providers.chains.stt).toEqual(['deepgram', 'local']);
    expect(p.providers.chains.tts).toEqual(['elevenlabs', 'openai', 'local']);
    expect(p.providers.preferences).toEqual({
      language: 'en-US',
      voice: intake.voice,
      stt: intake.stt,
    });
  });
});

describe('the rendered profile and the agent options', () => {
  it('renders the profile for the patient in the request', () => {
    expect(plan().profile.firstMessage).toMatch(/^Hi Ann,/);
  });

  it('refuses a profile whose template the request cannot fill', () => {
    const strict = { ...intake, firstMessage: 'Hello {{patient.displayName}}.' };
    const anonymous = { ...request, patient: { ref: 'pt-1' } };
    expect(() =>
      assembleSession({ cfg: loadConfig({}), request: anonymous, profile: strict }),
    ).toThrow(TemplateError);
  });

  it('gives the configured time zone to both the agent and the dialogue engine', () => {
    const p = plan({ AGENT_TIME_ZONE: 'Europe/Berlin' });
    expect(p.agent.timeZone).toBe('Europe/Berlin');
    expect(p.dialogueEngine?.timeZone).toBe('Europe/Berlin');
  });

  it('leaves the time zone out when none is configured (the host zone applies)', () => {
    const p = plan();
    expect(p.agent).not.toHaveProperty('timeZone');
    expect(p.dialogueEngine).not.toHaveProperty('timeZone');
  });
});

describe('the AgentSession options', () => {
  it("pins the on-device v1-mini model for turn detection 'model', with barge-in left to the VAD", () => {
    const asked: string[] = [];
    const p = plan(
      { AGENT_TURN_DETECTION: 'model' },
      {
        turnDetector: (version) => {
          asked.push(version);
          return modelDetector;
        },
      },
    );
    expect(asked).toEqual(['v1-mini']);
    expect(p.session.turnHandling.turnDetection).toBe(modelDetector);
    expect(p.session.turnHandling.interruption).toEqual({ mode: 'vad' });
  });

  it("builds the framework's on-device turn detector when none is injected", () => {
    const p = plan({ AGENT_TURN_DETECTION: 'model' }, { turnDetector: undefined });
    const detector = p.session.turnHandling.turnDetection;
    expect(detector).toBeInstanceOf(inference.TurnDetector);
    expect((detector as inference.TurnDetector).model).toBe('turn-detector-v1-mini');
  });

  it("passes the 'vad' and 'stt' turn detection modes on as they are", () => {
    const refuse = () => {
      throw new Error('no model detector for this mode');
    };
    for (const mode of ['vad', 'stt'] as const) {
      const p = plan({ AGENT_TURN_DETECTION: mode }, { turnDetector: refuse });
      expect(p.session.turnHandling.turnDetection).toBe(mode);
      expect(p.session.turnHandling.interruption).toEqual({ mode: 'vad' });
    }
  });

  it('takes endpointing and preemptive generation from the config', () => {
    const p = plan({
      AGENT_TURN_DETECTION: 'vad',
      AGENT_ENDPOINTING_MIN_DELAY_MS: '300',
      AGENT_ENDPOINTING_MAX_DELAY_MS: '2000',
      AGENT_PREEMPTIVE_GENERATION: 'false',
      AGENT_PREEMPTIVE_TTS: 'false',
    });
    expect(p.session.turnHandling.endpointing).toEqual({ minDelay: 300, maxDelay: 2000 });
    expect(p.session.turnHandling.preemptiveGeneration).toEqual({
      enabled: false,
      preemptiveTts: false,
    });
  });

  it("counts the patient as away after the profile's silence timeout, in seconds", () => {
    expect(plan().session.userAwayTimeout).toBe(20);
    const quick = { ...intake, limits: { ...intake.limits, silenceTimeoutMs: 7500 } };
    expect(plan({}, { profile: quick }).session.userAwayTimeout).toBe(7.5);
  });
});

describe('the call limit and the room input', () => {
  it("ends the call at the smaller of the profile's limit and the config's cap", () => {
    expect(plan().maxDurationMs).toBe(600_000);
    expect(plan({ AGENT_MAX_SESSION_MS: '60000' }).maxDurationMs).toBe(60_000);
  });

  it("hears only the session's patient, closes with them and screens their typed text", () => {
    const p = plan({ AGENT_MAX_TYPED_CHARS: '500' });
    expect(p.room).toEqual({
      closeOnDisconnect: true,
      participantIdentity: patientIdentity('sess-1'),
      textEnabled: true,
      maxTypedChars: 500,
      audioSampleRate: 16_000,
      audioFrameMs: 20,
    });
  });

  it('takes the patient audio at 16 kHz, the rate every listener uses, unless told otherwise', () => {
    expect(plan({ AGENT_INPUT_SAMPLE_RATE: '24000' }).room.audioSampleRate).toBe(24_000);
    expect(() => plan({ AGENT_INPUT_SAMPLE_RATE: '22050' })).toThrow(/AGENT_INPUT_SAMPLE_RATE/);
  });

  it('takes the patient audio in 20 ms frames unless AGENT_INPUT_FRAME_MS says another multiple of 10 ms up to 100', () => {
    expect(plan().room.audioFrameMs).toBe(20);
    expect(plan({ AGENT_INPUT_FRAME_MS: '10' }).room.audioFrameMs).toBe(10);
    expect(plan({ AGENT_INPUT_FRAME_MS: '40' }).room.audioFrameMs).toBe(40);
    expect(plan({ AGENT_INPUT_FRAME_MS: '100' }).room.audioFrameMs).toBe(100);
    for (const bad of ['0', '5', '25', '110', '20.5', 'forty']) {
      expect(() => plan({ AGENT_INPUT_FRAME_MS: bad }), bad).toThrow(/AGENT_INPUT_FRAME_MS/);
    }
  });
});
