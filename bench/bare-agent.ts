/**
 * The baseline for the overhead ratio: a bare `@livekit/agents` worker with the same plugins,
 * stand-in endpoints, Silero VAD, turn detection, endpointing and preemptive-generation settings
 * as the real agent (all read from the same `infra/config.ts` knobs), and nothing of ours: no
 * profile, no transcript sink, no safety rules, no session records, no events.
 *
 *   node --import tsx bench/bare-agent.ts start
 *
 * Its job connects, greets with a fixed line and answers every turn through the LLM.
 */
import {
  AutoSubscribe,
  cli,
  defineAgent,
  inference,
  ServerOptions,
  voice,
  type JobContext,
  type JobProcess,
  type VAD,
} from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as elevenlabs from '@livekit/agents-plugin-elevenlabs';
import * as openai from '@livekit/agents-plugin-openai';
import * as silero from '@livekit/agents-plugin-silero';
import { fileURLToPath } from 'node:url';
import { config, type Config } from '../infra/config.ts';

/** The greeting the bench's profile override also uses, so both agents say the same words. */
export const BARE_GREETING = 'Hi Ann, is now a good time?';

interface ProcData {
  vad: VAD;
}

type TurnDetection = NonNullable<voice.AgentSessionOptions['turnHandling']>['turnDetection'];

function turnDetector(mode: Config['agent']['turnDetection']): TurnDetection {
  return mode === 'model' ? new inference.TurnDetector({ version: 'v1-mini' }) : mode;
}

function need(value: string | undefined, name: string): string {
  if (!value) throw new Error(`bare agent: ${name} is required`);
  return value;
}

export default defineAgent<ProcData>({
  prewarm: async (proc: JobProcess<ProcData>) => {
    proc.userData.vad = await silero.VAD.load({
      minSilenceDuration: config().agent.vadMinSilenceMs,
    });
  },
  entry: async (ctx: JobContext<ProcData>) => {
    const cfg = config();
    const p = cfg.providers;
    await ctx.connect(undefined, AutoSubscribe.AUDIO_ONLY);
    const session = new voice.AgentSession({
      vad: ctx.proc.userData.vad,
      stt: new deepgram.STT({
        apiKey: need(p.deepgram.apiKey, 'DEEPGRAM_API_KEY'),
        ...(p.deepgram.baseUrl ? { baseUrl: p.deepgram.baseUrl } : {}),
        model: p.deepgram.model as deepgram.STTModels,
        language: 'en-US',
      }),
      llm: new openai.LLM({
        apiKey: need(p.openai.apiKey, 'OPENAI_API_KEY'),
        ...(p.openai.baseUrl ? { baseURL: p.openai.baseUrl } : {}),
        model: p.openai.llmModel,
        temperature: 0.3,
      }),
      tts: new elevenlabs.TTS({
        apiKey: need(p.elevenlabs.apiKey, 'ELEVENLABS_API_KEY'),
        ...(p.elevenlabs.baseUrl ? { baseURL: p.elevenlabs.baseUrl } : {}),
        model: p.elevenlabs.model,
        voiceId: p.elevenlabs.voiceId,
        language: 'en',
        voiceSettings: { stability: 0.6, similarity_boost: 0.8 },
      }),
      turnHandling: {
        turnDetection: turnDetector(cfg.agent.turnDetection),
        endpointing: {
          minDelay: cfg.agent.endpointing.minDelayMs,
          maxDelay: cfg.agent.endpointing.maxDelayMs,
        },
        preemptiveGeneration: {
          enabled: cfg.agent.preemptiveGeneration,
          preemptiveTts: cfg.agent.preemptiveTts,
        },
        interruption: { mode: 'vad' },
      },
    });
    const agent = new voice.Agent({ instructions: 'You are a helpful voice assistant.' });
    await session.start({ agent, room: ctx.room, inputOptions: { closeOnDisconnect: true } });
    session.say(BARE_GREETING, { allowInterruptions: true });
  },
});

// Every job process imports this file; only the entry point starts a worker.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const cfg = config();
  const opts = new ServerOptions({
    agent: fileURLToPath(import.meta.url),
    agentName: cfg.agent.name,
    wsURL: cfg.livekit.url,
    apiKey: cfg.livekit.apiKey,
    apiSecret: cfg.livekit.apiSecret,
    host: cfg.agent.httpHost,
    port: cfg.agent.httpPort,
    numIdleProcesses: cfg.agent.numIdleProcesses,
    // Like the bench's real worker (AGENT_CPU_LOAD=false): never report full on a busy box.
    loadFunc: async () => 0,
    logLevel: cfg.log.level === 'silent' ? 'fatal' : cfg.log.level,
  });
  // As in agent/worker.ts: the framework's `||` would turn 0 into min(cores, 4).
  opts.numIdleProcesses = cfg.agent.numIdleProcesses;
  cli.runApp(opts);
}
