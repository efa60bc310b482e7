/**
 * Faster turns against patients who pause mid-sentence: for each end-of-turn setting (the VAD's
 * silence and the endpointing delay), one session on a worker started with it, where the patient
 * alternates between a plain phrase (voice-to-voice, as the latency phase measures it) and a
 * sentence with natural pauses of 300–800 ms inside it ("i take… um… two of the white ones").
 * A reply whose first audible frame reaches the patient before the patient has finished the
 * sentence is a cut-off. The result is the frontier: median voice-to-voice against cut-off rate
 * for each setting, from which the default is chosen.
 */
import type { AgentAudioFrame, SimulatedPatient } from '../../sim/patient.ts';
import {
  concatPcm,
  durationMs,
  silence,
  speechBounds,
  synthesize,
  type Pcm,
} from '../../sim/speech.ts';
import { percentile } from '../../infra/stats.ts';
import { phraseAt, startTurn } from '../lib/conversation.ts';
import { waitGreeted, type BenchContext } from '../lib/context.ts';
import type { BenchWorker } from '../lib/workers.ts';

export interface TurnSetting {
  name: string;
  vadMinSilenceMs: number;
  endpointingMinDelayMs: number;
}

/**
 * The framework waits for the longer of the VAD's silence and the endpointing delay, both counted
 * from the end of speech (audio_recognition.ts), so each setting is an effective silence: a
 * quicker one, today's default, and two that outwait longer pauses.
 */
export const TURN_SETTINGS: readonly TurnSetting[] = [
  { name: 'quick', vadMinSilenceMs: 300, endpointingMinDelayMs: 400 },
  { name: 'default', vadMinSilenceMs: 550, endpointingMinDelayMs: 500 },
  { name: 'patient', vadMinSilenceMs: 550, endpointingMinDelayMs: 800 },
  { name: 'very patient', vadMinSilenceMs: 550, endpointingMinDelayMs: 1000 },
];

/** Sentences as patients say them, cut where they pause. */
export const PAUSED_SENTENCES: readonly (readonly string[])[] = [
  ['i take', 'um', 'two of the white ones'],
  ['it started', 'on tuesday i think', 'or maybe wednesday'],
  ['my knee is', 'well it is a bit', 'sore when i walk'],
  ['the tablets', 'the blue ones', 'make me a bit dizzy'],
  ['i have been', 'let me think', 'taking them every morning'],
  ['no', 'not really', 'just the usual aches'],
];

/** Pauses inside a sentence, in the 300–800 ms people leave while they think. */
export const PAUSES_MS: readonly number[] = [300, 450, 600, 800];

export interface SettingResult extends TurnSetting {
  /** Voice-to-voice of the plain turns. */
  v2vMedianMs: number | undefined;
  v2vP95Ms: number | undefined;
  v2vSamples: number[];
  /** Paused sentences, and those the agent started replying to before they were finished. */
  pausedTurns: number;
  cutOffs: number;
  /** For each cut-off: how far into the sentence (ms) the reply reached the patient, and the sentence's pauses. */
  cutOffAt: { atMs: number; sentenceMs: number; pausesMs: number[] }[];
  cutOffRate: number | undefined;
  /** Turns that failed (no reply in time), with why. */
  failures: string[];
}

export interface TurnsResult {
  settings: SettingResult[];
  /** Plain and paused turns per setting. */
  turnsPerSetting: number;
  /** The setting with the lowest median voice-to-voice among those cutting off no more than the default. */
  chosen: string | undefined;
}

/** `pcm` from its first speech frame to the end of its last. */
function trimmed(pcm: Pcm): Pcm {
  const b = speechBounds(pcm);
  if (!b) return pcm;
  const at = (ms: number) => Math.round((ms / 1000) * pcm.sampleRate);
  return { ...pcm, samples: pcm.samples.subarray(at(b.startMs), at(b.endMs)) };
}

/** A sentence with a pause after each part but the last, at the patient's rate. */
export async function pausedSentence(
  parts: readonly string[],
  pausesMs: readonly number[],
  sampleRate: number,
): Promise<Pcm> {
  const pieces: Pcm[] = [];
  for (let i = 0; i < parts.length; i++) {
    // espeak-ng pads each phrase with silence: trimmed, so a pause is exactly what it says.
    pieces.push(trimmed(await synthesize(parts[i]!, { sampleRate })));
    if (i < parts.length - 1) pieces.push(silence(pausesMs[i % pausesMs.length]!, sampleRate));
  }
  return concatPcm(...pieces);
}

/** Agent speech this long without a break is a reply, not the tail blip of the last one. */
const REPLY_RUN_MS = 250;

/**
 * When a reply started at the patient between `from` and `until`, if one did: a run of at least
 * {@link REPLY_RUN_MS} of loud agent frames (short gaps of up to 3 frames allowed) that began in
 * that window.
 */
export function replyStartWithin(
  frames: readonly AgentAudioFrame[],
  thresholdDbfs: number,
  from: number,
  until: number,
): number | undefined {
  let runStart: number | undefined;
  let loudMs = 0;
  let quiet = 0;
  for (const f of frames) {
    if (f.at <= from) continue;
    const ms = (1000 * f.samplesPerChannel) / f.sampleRate;
    if (f.dbfs >= thresholdDbfs) {
      runStart ??= f.at;
      loudMs += ms;
      quiet = 0;
      if (loudMs >= REPLY_RUN_MS) return runStart < until ? runStart : undefined;
    } else if (runStart !== undefined && ++quiet > 3) {
      runStart = undefined;
      loudMs = 0;
      quiet = 0;
    }
    if (runStart === undefined && f.at >= until) return undefined;
  }
  return undefined;
}

/**
 * Says a paused sentence and reports whether the agent's reply reached the patient before the
 * sentence was finished. Waits for the agent to be quiet before and after.
 */
async function pausedTurn(patient: SimulatedPatient, pcm: Pcm): Promise<number | undefined> {
  await patient.waitForAgentSilence({ silenceMs: 800, timeoutMs: 20_000 });
  const u = await patient.say(pcm);
  // Let the reply (and any second reply to the rest of the sentence) play out.
  await patient
    .waitForAgentSpeech({ after: u.startedAt, timeoutMs: 15_000 })
    .then((first) =>
      patient.waitForAgentSilence({ after: first.at, silenceMs: 1200, timeoutMs: 30_000 }),
    )
    .catch(() => undefined);
  const at = replyStartWithin(
    patient.agentFrames,
    patient.options.speechThresholdDbfs,
    u.startedAt,
    u.speechEndedAt,
  );
  // How far into the sentence the reply reached the patient.
  return at === undefined ? undefined : at - u.startedAt;
}

async function measureSetting(
  ctx: BenchContext,
  worker: BenchWorker,
  setting: TurnSetting,
  turns: number,
): Promise<SettingResult> {
  const s = await ctx.startOurs(worker);
  const failures: string[] = [];
  const v2v: number[] = [];
  let cutOffs = 0;
  let paused = 0;
  const cutOffAt: SettingResult['cutOffAt'] = [];
  try {
    await waitGreeted(s);
    const rate = s.patient.options.sampleRate;
    for (let i = 0; i < turns; i++) {
      try {
        await s.patient.waitForAgentSilence({ silenceMs: 600, timeoutMs: 20_000 });
        const t = await startTurn(s.patient, phraseAt(i));
        await t.done;
        // The first plain turn warms the pipeline up; it is not counted.
        if (i > 0) v2v.push(t.v2vMs);
      } catch (err) {
        failures.push(`plain turn ${i}: ${err instanceof Error ? err.message : String(err)}`);
      }
      const parts = PAUSED_SENTENCES[i % PAUSED_SENTENCES.length]!;
      // (300, 450), (450, 600), (600, 800), (800, 300), …: the longest pause differs each time.
      const pauses = [PAUSES_MS[i % PAUSES_MS.length]!, PAUSES_MS[(i + 1) % PAUSES_MS.length]!];
      try {
        const pcm = await pausedSentence(parts, pauses, rate);
        const cut = await pausedTurn(s.patient, pcm);
        paused++;
        if (cut !== undefined) {
          cutOffs++;
          cutOffAt.push({
            atMs: Math.round(cut),
            sentenceMs: Math.round(durationMs(pcm)),
            pausesMs: pauses,
          });
        }
      } catch (err) {
        failures.push(`paused turn ${i}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  } finally {
    await s.patient.leave().catch(() => undefined);
  }
  return {
    ...setting,
    v2vMedianMs: v2v.length ? percentile(v2v, 50) : undefined,
    v2vP95Ms: v2v.length ? percentile(v2v, 95) : undefined,
    v2vSamples: v2v,
    pausedTurns: paused,
    cutOffs,
    cutOffAt,
    cutOffRate: paused ? cutOffs / paused : undefined,
    failures,
  };
}

/** Among the settings that cut off no more often than the default, the quickest. */
export function chooseSetting(results: readonly SettingResult[]): string | undefined {
  const base = results.find((r) => r.name === 'default');
  if (base?.cutOffRate === undefined) return undefined;
  const ok = results.filter(
    (r) =>
      r.cutOffRate !== undefined &&
      r.v2vMedianMs !== undefined &&
      r.cutOffRate <= base.cutOffRate! + 1e-9,
  );
  ok.sort((a, b) => a.v2vMedianMs! - b.v2vMedianMs!);
  return ok[0]?.name;
}

export async function turnsPhase(
  ctx: BenchContext,
  startWorker: (setting: TurnSetting) => Promise<BenchWorker>,
  stopWorker: (w: BenchWorker) => Promise<void>,
  turns: number,
): Promise<TurnsResult> {
  const settings: SettingResult[] = [];
  for (const setting of TURN_SETTINGS) {
    const w = await startWorker(setting);
    try {
      const r = await measureSetting(ctx, w, setting, turns);
      settings.push(r);
      ctx.say(
        `turns: ${setting.name} (VAD ${setting.vadMinSilenceMs} ms, endpointing ${setting.endpointingMinDelayMs} ms): v2v median ${r.v2vMedianMs?.toFixed(0) ?? '–'} ms, cut off ${r.cutOffs}/${r.pausedTurns}${r.cutOffAt.length ? ` (reply at ${r.cutOffAt.map((c) => `${c.atMs}/${c.sentenceMs} ms, pauses ${c.pausesMs.join('+')}`).join('; ')})` : ''}`,
      );
    } finally {
      await stopWorker(w);
    }
  }
  return { settings, turnsPerSetting: turns, chosen: chooseSetting(settings) };
}
