/** Defaults and printing shared by the main command and the `call` command. */
import type { Config } from '../../infra/config.ts';
import type { CapturedAnswer } from '../../sessions/schema.ts';
import type { CallResult } from './call.ts';

/**
 * The local demo's defaults; any of them can be overridden from the environment.
 * - VAD turn detection: the end-of-turn model waits its full delay on synthetic speech (INFRA.md).
 * - Load by session count, not CPU: a 2-core laptop is "busy" at the start of every call.
 * - Quiet logs, so the conversation is readable.
 */
export const DEMO_DEFAULTS: Readonly<Record<string, string>> = {
  PUBSUB_EMULATOR_HOST: '127.0.0.1:8085',
  LOG_LEVEL: 'warn',
  AGENT_TURN_DETECTION: 'vad',
  AGENT_CPU_LOAD: 'false',
  AGENT_MAX_JOBS: '2',
  METADATA_SERVER_DETECTION: 'none',
};

/** The worker gets the same configuration the parent resolved. */
export function workerEnvFor(cfg: Config): Record<string, string> {
  return {
    NODE_ENV: 'development',
    LOG_LEVEL: cfg.log.level,
    AGENT_TURN_DETECTION: cfg.agent.turnDetection,
    AGENT_CPU_LOAD: String(cfg.agent.cpuLoad),
    AGENT_MAX_JOBS: String(cfg.agent.maxJobs),
    LIVEKIT_URL: cfg.livekit.url,
    LIVEKIT_API_KEY: cfg.livekit.apiKey,
    LIVEKIT_API_SECRET: cfg.livekit.apiSecret,
    GOOGLE_CLOUD_PROJECT: cfg.pubsub.projectId,
    ...(cfg.pubsub.emulatorHost ? { PUBSUB_EMULATOR_HOST: cfg.pubsub.emulatorHost } : {}),
    MONGODB_URL: cfg.mongo.url,
    MONGODB_DB: cfg.mongo.db,
    PUBSUB_EVENTS_TOPIC: cfg.pubsub.eventsTopic,
    STT_PROVIDERS: cfg.providers.stt.join(','),
    LLM_PROVIDERS: cfg.providers.llm.join(','),
    TTS_PROVIDERS: cfg.providers.tts.join(','),
  };
}

function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/**
 * One answer as a reviewer reads it: the value, how sure we are, which utterance it came from,
 * and a loud flag when it is not to be relied on. Records written before answers carried their
 * provenance hold the bare value.
 */
export function describeAnswer(a: unknown): string {
  if (typeof a !== 'object' || a === null || !('needsReview' in a)) {
    return `${JSON.stringify(a)}  (no confidence or source recorded)`;
  }
  const c = a as CapturedAnswer;
  const value = c.value === null ? '(none)' : JSON.stringify(c.value);
  const from = c.source.seq === undefined ? 'utterance unknown' : `from utterance #${c.source.seq}`;
  const confirmed =
    c.confirmed && c.source.confirmedSeq !== undefined
      ? `, confirmed at #${c.source.confirmedSeq}`
      : c.confirmed
        ? ', confirmed'
        : '';
  const review = c.needsReview ? `  NEEDS REVIEW (${c.reviewReason ?? 'unknown'})` : '';
  return `${value.padEnd(18)} confidence ${c.confidence.toFixed(2)}, ${c.source.method} ${from}${confirmed}${review}`;
}

export function printCallSummary(r: CallResult, cfg: Config, out: (l: string) => void): void {
  const s = r.session;
  out('');
  out(`▸ call ${s?.state ?? 'unknown'}${s?.endReason ? ` (${s.endReason})` : ''}`);
  if (s?.unanswered?.length) {
    out(`  unanswered required steps: ${s.unanswered.join(', ')}`);
  }
  const answers = s?.answers ?? {};
  if (Object.keys(answers).length) {
    out('  captured answers:');
    for (const [k, v] of Object.entries(answers)) out(`    ${k.padEnd(22)} ${describeAnswer(v)}`);
  } else {
    out('  no answers captured');
  }
  const m = median(r.voiceToVoiceMs);
  if (m !== undefined) {
    out(
      `  voice-to-voice (patient's last word → agent's first audio): median ${m.toFixed(0)} ms over ${r.voiceToVoiceMs.length} turns`,
    );
  }
  out(
    `  transcript: ${r.utterances.length} utterances in MongoDB ${cfg.mongo.url}/${cfg.mongo.db}, collection "utterances", sessionId "${r.sessionId}"`,
  );
}
