/**
 * Drives one patient turn through the real LiveKit server and measures it on the patient's clock:
 * voice-to-voice is the agent's first audible frame at the patient minus the moment the patient's
 * last speech frame was sent. Also inspects the reply's frames for drops and late arrivals.
 */
import type { AgentAudioFrame, SimulatedPatient } from '../../sim/patient.ts';

export interface TurnSample {
  v2vMs: number;
  /** Patient clock (`performance.now()`), for pairing and ordering. */
  speechEndedAt: number;
  replyStartedAt: number;
  replyEndedAt: number;
  frames: FrameStats;
}

export interface FrameStats {
  /** Frames received while the reply played. */
  frames: number;
  /** Silent stretches (>= 3 quiet frames, speech going on after) inside the reply: audio lost. */
  dropouts: number;
  /** Quiet frames inside those stretches. */
  droppedFrames: number;
  /** Frames that reached the patient more than `lateMs` after the one before. */
  lateFrames: number;
  /** Largest gap between consecutive frames. */
  maxGapMs: number;
}

export interface TurnOptions {
  /** How long to wait for the reply to start. @defaultValue 15000 */
  replyTimeoutMs?: number;
  /** Agent silence that ends its reply. @defaultValue 400 */
  replySilenceMs?: number;
}

/** A 10 ms frame stream has no gap this long unless something stalled. */
const LATE_MS = 40;
/** Quiet frames in a row that count as a dropout in continuous synthetic speech. */
const GAP_FRAMES = 3;
/**
 * A gap counts only with speech going on after it: the stand-in TTS ends every reply with a fade
 * and a ~60 ms blip (its sentence-final generation), which is not a dropout.
 */
const SPEECH_AFTER = 8;

function loudRunFrom(frames: readonly AgentAudioFrame[], i: number, threshold: number): number {
  let n = 0;
  while (n + i < frames.length && frames[n + i]!.dbfs >= threshold) n++;
  return n;
}

export interface StartedTurn {
  v2vMs: number;
  /** Resolves once the reply has finished playing, with the whole turn measured. */
  done: Promise<TurnSample>;
}

/**
 * Speaks `phrase` and resolves as soon as the reply starts (voice-to-voice is known then); the
 * rest of the reply is measured in `done`, so another patient can speak in the meantime.
 */
export async function startTurn(
  patient: SimulatedPatient,
  phrase: string,
  opts: TurnOptions = {},
): Promise<StartedTurn> {
  const u = await patient.say(phrase);
  const first = await patient.waitForAgentSpeech({
    after: u.speechEndedAt,
    timeoutMs: opts.replyTimeoutMs ?? 15_000,
  });
  const done = patient
    .waitForAgentSilence({
      after: first.at,
      silenceMs: opts.replySilenceMs ?? 400,
      timeoutMs: 30_000,
    })
    .then((replyEndedAt) => ({
      v2vMs: first.at - u.speechEndedAt,
      speechEndedAt: u.speechEndedAt,
      replyStartedAt: first.at,
      replyEndedAt,
      frames: frameStats(patient.agentFrames, first.at, replyEndedAt, patient.options),
    }));
  done.catch(() => undefined); // observed by whoever awaits it; never unhandled
  return { v2vMs: first.at - u.speechEndedAt, done };
}

/** Speaks `phrase`, waits for the reply to start and to finish, and measures both. */
export async function runTurn(
  patient: SimulatedPatient,
  phrase: string,
  opts: TurnOptions = {},
): Promise<TurnSample> {
  return (await startTurn(patient, phrase, opts)).done;
}

/** Frame health between the reply's first and last audible frame. */
export function frameStats(
  all: readonly AgentAudioFrame[],
  from: number,
  to: number,
  opts: { speechThresholdDbfs: number },
): FrameStats {
  const frames = all.filter((f) => f.at >= from && f.at <= to);
  let dropouts = 0;
  let droppedFrames = 0;
  let lateFrames = 0;
  let maxGapMs = 0;
  let quietRun = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    const prev = frames[i - 1];
    if (prev) {
      const gap = f.at - prev.at;
      maxGapMs = Math.max(maxGapMs, gap);
      if (gap > LATE_MS) lateFrames++;
    }
    if (f.dbfs < opts.speechThresholdDbfs) {
      quietRun++;
    } else {
      if (
        quietRun >= GAP_FRAMES &&
        loudRunFrom(frames, i, opts.speechThresholdDbfs) >= SPEECH_AFTER
      ) {
        dropouts++;
        droppedFrames += quietRun;
      }
      quietRun = 0;
    }
  }
  return { frames: frames.length, dropouts, droppedFrames, lateFrames, maxGapMs };
}

export function addFrameStats(a: FrameStats, b: FrameStats): FrameStats {
  return {
    frames: a.frames + b.frames,
    dropouts: a.dropouts + b.dropouts,
    droppedFrames: a.droppedFrames + b.droppedFrames,
    lateFrames: a.lateFrames + b.lateFrames,
    maxGapMs: Math.max(a.maxGapMs, b.maxGapMs),
  };
}

export const noFrames: FrameStats = {
  frames: 0,
  dropouts: 0,
  droppedFrames: 0,
  lateFrames: 0,
  maxGapMs: 0,
};

/** What patients say: short, one clause each, no commas (one STT segment per turn). */
export const PHRASES = [
  'yes that is fine',
  'my knee has been hurting',
  'no they have not changed',
  'about a four out of ten',
  'I take it every morning',
  'not that I know of',
  'yes I can do that',
  'it started last week',
] as const;

export const phraseAt = (i: number): string => PHRASES[i % PHRASES.length]!;
