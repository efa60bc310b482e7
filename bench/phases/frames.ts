/**
 * What the room input's frame size (AGENT_INPUT_FRAME_MS) costs and saves, side by side in one
 * run: one worker per setting, and the bare framework agent, whose room input is the framework's
 * own at 10 ms. In rounds, each setting in turn (forward order on even rounds, backward on odd
 * ones, so drift on a shared machine hits all alike) gets a fresh session on its warm job
 * process: greeting and a warm-up turn, then a measured window of plain turns (voice-to-voice)
 * and one barge-in over a long reply, while the CPU of the job process holding the call is read;
 * then the patient leaves. One call at a time: a connected session costs about as much while it
 * listens to silence as while it talks (the input runs at its frame rate either way), so calls
 * kept waiting would load the 2 cores as much as the measured one.
 *
 * Per window: CPU seconds per minute of the talking session; per round, each setting's figure
 * over the 10 ms one (the ratio); over rounds, medians of both.
 */
import { percentile } from '../../infra/stats.ts';
import type { SimulatedPatient } from '../../sim/patient.ts';
import { speechBounds, synthesize } from '../../sim/speech.ts';
import { phraseAt, startTurn } from '../lib/conversation.ts';
import { waitGreeted, type BenchContext, type StartedBenchSession } from '../lib/context.ts';
import { groupSnapshot, machineTicks } from '../lib/procs.ts';
import { summarize, type Summary } from '../lib/stats.ts';
import type { BenchWorker } from '../lib/workers.ts';

const TICKS_PER_S = 100;

/** One column of the table: a frame size on our worker, or the bare framework's input. */
export interface FrameSetting {
  name: string;
  /** AGENT_INPUT_FRAME_MS; the bare agent's is the framework's 10 ms. */
  frameMs: number;
  kind: 'ours' | 'bare';
}

export interface FrameSettingResult extends FrameSetting {
  /** CPU seconds per minute of the talking session's job process, one per window. */
  cpuSecPerMin: number[];
  cpu: Summary;
  /** CPU seconds per minute of the same call while it listened to an open, silent microphone. */
  listenSecPerMin: number[];
  listen: Summary;
  /** This setting's window over the 10 ms one of the same round. */
  ratioTo10: Summary;
  v2v: Summary;
  v2vSamples: number[];
  /** From the patient's first speech frame over a reply to the agent's audio stopping at the patient. */
  bargeIn: Summary;
  bargeInSamples: number[];
  failures: string[];
}

export interface FramesResult {
  settings: FrameSettingResult[];
  rounds: number;
  turnsPerWindow: number;
  /** Median machine busy share (all cores) over the windows. */
  machineBusy: number;
  wallMs: number;
}

/** A reply long enough (~15 s) to talk over. */
const LONG_REPLY =
  'Thank you. Before we go on, I would like to explain how this call works. I will ask you a ' +
  'few short questions about your health and your medicines, and your care team will read ' +
  'your answers before your visit. You can ask me to repeat anything at any time.';
const BARGE_PHRASE = 'sorry can you say that again';

interface Seat {
  setting: FrameSetting;
  worker: BenchWorker;
  cpu: number[];
  /** The same by round; a round whose window failed has none. */
  cpuByRound: (number | undefined)[];
  listen: number[];
  v2v: number[];
  bargeIn: number[];
  failures: string[];
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Ticks of each job process in the worker's group. */
function jobTicks(w: BenchWorker): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of groupSnapshot(w.pgid).procs) if (p.kind === 'job') out.set(p.pid, p.cpuTicks);
  return out;
}

/**
 * Talks over a long reply: the patient starts speaking 1.5 s into it, and the figure is from the
 * first speech frame sent to the agent's audio going quiet at the patient (VAD onset, the
 * framework's interruption and the transport back).
 */
async function bargeIn(ctx: BenchContext, patient: SimulatedPatient): Promise<number> {
  ctx.h.standins.deepgram.hear('sure');
  ctx.h.standins.openai.reply(LONG_REPLY);
  const u = await patient.say('sure');
  const replyStart = await patient.waitForAgentSpeech({
    after: u.speechEndedAt,
    timeoutMs: 15_000,
  });
  await new Promise((r) => setTimeout(r, 1500));
  const pcm = await synthesize(BARGE_PHRASE, { sampleRate: patient.options.sampleRate });
  const onsetMs = speechBounds(pcm, {
    thresholdDbfs: patient.options.speechThresholdDbfs,
  })?.startMs;
  ctx.h.standins.deepgram.hear(BARGE_PHRASE);
  ctx.h.standins.openai.reply('Of course.');
  const barge = patient.say(pcm);
  const quietAt = await patient.waitForAgentSilence({
    after: replyStart.at + 1500,
    silenceMs: 300,
    timeoutMs: 8000,
  });
  const b = await barge;
  const onsetAt = b.startedAt + (onsetMs ?? 0);
  // The reply had already stopped (or never was the long one): no barge-in to time.
  if (quietAt <= onsetAt) throw new Error('the reply was over before the patient talked over it');
  // Let the short answer to the barge-in play out before the next window.
  await patient
    .waitForAgentSpeech({ after: b.speechEndedAt, timeoutMs: 10_000 })
    .then((f) => patient.waitForAgentSilence({ after: f.at, silenceMs: 600, timeoutMs: 15_000 }))
    .catch(() => undefined);
  return quietAt - onsetAt;
}

/** One talking window of one seat: plain turns, then a barge-in; CPU over all of it. */
async function talkWindow(
  ctx: BenchContext,
  seat: Seat,
  patient: SimulatedPatient,
  turns: number,
): Promise<{ busy: number; total: number; cpuSecPerMin: number }> {
  await patient.waitForAgentSilence({ silenceMs: 600, timeoutMs: 20_000 }).catch(() => undefined);
  const m0 = machineTicks();
  const j0 = jobTicks(seat.worker);
  const t0 = performance.now();
  for (let i = 0; i < turns; i++) {
    try {
      const t = await startTurn(patient, phraseAt(i));
      seat.v2v.push(t.v2vMs);
      await t.done;
    } catch (err) {
      seat.failures.push(`turn: ${errText(err)}`);
      await patient
        .waitForAgentSilence({ silenceMs: 600, timeoutMs: 20_000 })
        .catch(() => undefined);
    }
  }
  try {
    seat.bargeIn.push(await bargeIn(ctx, patient));
  } catch (err) {
    seat.failures.push(`barge-in: ${errText(err)}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const j1 = jobTicks(seat.worker);
  const m1 = machineTicks();
  // The job process holding the call is the one that used the most; the idle one uses ~nothing.
  let ticks = 0;
  for (const [pid, t] of j1) ticks = Math.max(ticks, t - (j0.get(pid) ?? t));
  const cpuSecPerMin = ((ticks / TICKS_PER_S) * 60) / seconds;
  return { busy: m1.busy - m0.busy, total: m1.total - m0.total, cpuSecPerMin };
}

/** How long a call is measured while the patient says nothing. */
const LISTEN_MS = 10_000;

/** CPU seconds per minute of the seat's call over `ms` with the patient silent. */
async function listenWindow(seat: Seat, patient: SimulatedPatient, ms: number): Promise<number> {
  await patient.waitForAgentSilence({ silenceMs: 600, timeoutMs: 20_000 }).catch(() => undefined);
  const j0 = jobTicks(seat.worker);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const seconds = (performance.now() - t0) / 1000;
  let ticks = 0;
  for (const [pid, t] of jobTicks(seat.worker)) ticks = Math.max(ticks, t - (j0.get(pid) ?? t));
  return ((ticks / TICKS_PER_S) * 60) / seconds;
}

/**
 * A fresh session on the seat's worker, greeted and warmed up, then one measured talking window
 * and a listening one.
 */
async function visit(
  ctx: BenchContext,
  seat: Seat,
  turns: number,
  round: number,
): Promise<number | undefined> {
  let session: StartedBenchSession | undefined;
  // One call at a time: replies scripted for an earlier call that failed must not reach this one.
  ctx.h.standins.reset();
  try {
    session =
      seat.setting.kind === 'bare'
        ? await ctx.startBare(seat.worker)
        : await ctx.startOurs(seat.worker);
    await waitGreeted(session, 90_000);
    const warm = await startTurn(session.patient, phraseAt(7));
    await warm.done;
    const m = await talkWindow(ctx, seat, session.patient, turns);
    seat.cpu.push(m.cpuSecPerMin);
    seat.cpuByRound[round] = m.cpuSecPerMin;
    seat.listen.push(await listenWindow(seat, session.patient, LISTEN_MS));
    return m.total > 0 ? m.busy / m.total : undefined;
  } catch (err) {
    seat.failures.push(`session: ${errText(err)}`);
    return undefined;
  } finally {
    await session?.patient.leave().catch(() => undefined);
  }
}

export async function framesPhase(
  ctx: BenchContext,
  seats: { setting: FrameSetting; worker: BenchWorker }[],
  opts: { rounds: number; turnsPerWindow: number },
): Promise<FramesResult> {
  const t0 = performance.now();
  const all: Seat[] = seats.map((s) => ({
    ...s,
    cpu: [],
    cpuByRound: [],
    listen: [],
    v2v: [],
    bargeIn: [],
    failures: [],
  }));
  const busy: number[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    const order = r % 2 === 0 ? all : [...all].reverse();
    for (const seat of order) {
      const b = await visit(ctx, seat, opts.turnsPerWindow, r);
      if (b !== undefined) busy.push(b);
      // The worker warms its next idle process after a job: let that settle before the next call.
      await new Promise((res) => setTimeout(res, 3000));
    }
    ctx.say(
      `frames: round ${r + 1}/${opts.rounds}: ${all.map((s) => `${s.setting.name} ${s.cpuByRound[r]?.toFixed(1) ?? '–'}`).join(', ')} CPU s/min`,
    );
  }
  // Rounds line up by index only when no window failed; a failed one is left out of the ratios.
  const base = all.find((s) => s.setting.kind === 'ours' && s.setting.frameMs === 10);
  const settings = all.map((s): FrameSettingResult => {
    const ratios = base
      ? s.cpuByRound.flatMap((c, i) => {
          const b = base.cpuByRound[i];
          return c === undefined || b === undefined ? [] : [c / b];
        })
      : [];
    return {
      ...s.setting,
      cpuSecPerMin: s.cpu,
      cpu: summarize(s.cpu),
      listenSecPerMin: s.listen,
      listen: summarize(s.listen),
      ratioTo10: summarize(ratios),
      v2v: summarize(s.v2v),
      v2vSamples: s.v2v,
      bargeIn: summarize(s.bargeIn),
      bargeInSamples: s.bargeIn,
      failures: s.failures,
    };
  });
  return {
    settings,
    rounds: opts.rounds,
    turnsPerWindow: opts.turnsPerWindow,
    machineBusy: busy.length ? percentile(busy, 50) : Number.NaN,
    wallMs: performance.now() - t0,
  };
}
