/**
 * Voice-to-voice latency of our agent and of the bare framework agent, in the same run, turn by
 * turn: one session each, taking turns in ABBA order (ours, bare, bare, ours, ...), so whatever
 * else the machine is doing hits both alike. A turn starts once the previous reply of the other
 * agent has begun (its tail plays while this patient is still speaking; see `Lane`). Also: the
 * LiveKit transport on its own (patient to patient), each worker's CPU over the phase, and the
 * framework's own per-turn breakdown from our stored utterances.
 */
import type { TurnLatency } from '../../sessions/schema.ts';
import { SimulatedPatient } from '../../sim/patient.ts';
import { speechBounds, synthesize } from '../../sim/speech.ts';
import { uniqueName } from '../../tests/support/env.ts';
import {
  addFrameStats,
  noFrames,
  phraseAt,
  startTurn,
  type FrameStats,
  type StartedTurn,
  type TurnSample,
} from '../lib/conversation.ts';
import { waitGreeted, type BenchContext, type StartedBenchSession } from '../lib/context.ts';
import { cpuWindow, type CpuWindow } from '../lib/procs.ts';
import { percentile } from '../../infra/stats.ts';
import { summarize, type Summary } from '../lib/stats.ts';
import type { BenchWorker } from '../lib/workers.ts';

export interface AgentLatency {
  v2v: Summary;
  samples: number[];
  warmupMs: number | undefined;
  failures: number;
  frames: FrameStats;
  cpu: CpuWindow;
}

export interface LatencyResult {
  ours: AgentLatency;
  bare: AgentLatency;
  /** ours / bare, per turn pair. */
  pairRatios: Summary;
  ratioOfMedians: number;
  ratioOfP95s: number;
  /** ours / bare worker CPU over the same phase. */
  cpuRatio: number;
  /** One-way latency through LiveKit between two plain participants, at speech onset. */
  transportOnset: Summary;
  /** The same at the end of speech. */
  transportEnd: Summary;
  /** The framework's own metrics for our turns (agent-side clocks), medians. */
  breakdown: Partial<Record<keyof TurnLatency, number>>;
  oursSessionId: string;
  wallMs: number;
}

/**
 * One agent's turn: waits for its previous reply to finish, speaks, and returns once the reply
 * starts; the reply's end is measured in the background (`pending`), so the other agent's patient
 * can already speak. The patients' phrases (~1.2 s) outlast the replies (~0.7 s), so each
 * measured window (end of speech → first reply frame) starts after the other agent went quiet.
 */
class Lane {
  pending: Promise<TurnSample | undefined> = Promise.resolve(undefined);
  constructor(
    readonly who: 'ours' | 'bare',
    readonly s: StartedBenchSession,
    private readonly ctx: BenchContext,
  ) {}

  async turn(phrase: string): Promise<StartedTurn | undefined> {
    await this.pending;
    try {
      const t = await startTurn(this.s.patient, phrase);
      this.pending = t.done.catch(() => undefined);
      return t;
    } catch (err) {
      this.ctx.say(`${this.who}: turn failed: ${err instanceof Error ? err.message : String(err)}`);
      // Let whatever is still playing finish before the next turn.
      this.pending = this.s.patient.waitForAgentSilence({ silenceMs: 600, timeoutMs: 20_000 }).then(
        () => undefined,
        () => undefined,
      );
      return undefined;
    }
  }
}

/**
 * Patient A speaks, patient B hears it: the room's own delay, with no agent in between. Measured
 * at both ends of each phrase: onset (a talk spurt after silence, like the start of a reply, which
 * also pays for the receiver's jitter buffer starting up) and end (like the end of the patient's
 * turn, where voice-to-voice starts).
 */
async function transportFloor(
  ctx: BenchContext,
  samples: number,
): Promise<{ onset: number[]; end: number[] }> {
  const room = uniqueName('floor');
  const livekit = ctx.h.cfg.livekit;
  const speaker = await SimulatedPatient.join({ livekit, room, identity: uniqueName('echo') });
  const listener = await SimulatedPatient.join({ livekit, room, agentIdentityPrefix: 'echo-' });
  const onset: number[] = [];
  const end: number[] = [];
  try {
    await listener.waitForParticipant('echo-', { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 1000)); // subscription settles
    for (let i = 0; i < samples; i++) {
      const phrase = phraseAt(i);
      const pcm = await synthesize(phrase, { sampleRate: speaker.options.sampleRate });
      const bounds = speechBounds(pcm, { thresholdDbfs: speaker.options.speechThresholdDbfs });
      const u = await speaker.say(pcm);
      const heard = await listener.waitForAgentSpeech({ after: u.startedAt, timeoutMs: 5000 });
      const lastHeard = await listener.waitForAgentSilence({
        after: heard.at,
        silenceMs: 300,
        timeoutMs: 10_000,
      });
      onset.push(heard.at - (u.startedAt + (bounds?.startMs ?? 0)));
      end.push(lastHeard - u.speechEndedAt);
    }
  } finally {
    await Promise.allSettled([speaker.leave(), listener.leave()]);
  }
  return { onset, end };
}

export async function latencyPhase(
  ctx: BenchContext,
  ours: BenchWorker,
  bare: BenchWorker,
): Promise<LatencyResult> {
  const t0 = performance.now();
  const floor = await transportFloor(ctx, 6);
  ctx.say(
    `transport (one way, patient to patient): onset ${percentile(floor.onset, 50).toFixed(0)} ms, end ${percentile(floor.end, 50).toFixed(0)} ms`,
  );

  const [o, b] = await Promise.all([ctx.startOurs(ours), ctx.startBare(bare)]);
  await Promise.all([waitGreeted(o), waitGreeted(b)]);
  ctx.say('latency: both agents greeted; warm-up turn each');
  const lanes = { ours: new Lane('ours', o, ctx), bare: new Lane('bare', b, ctx) };
  const warmO = await lanes.ours.turn(phraseAt(7));
  const warmB = await lanes.bare.turn(phraseAt(7));
  await Promise.all([lanes.ours.pending, lanes.bare.pending]);

  const cpuO = cpuWindow(ours.pgid);
  const cpuB = cpuWindow(bare.pgid);
  const v = { ours: [] as number[], bare: [] as number[] };
  const replies: { who: 'ours' | 'bare'; reply: Promise<TurnSample | undefined> }[] = [];
  const failures = { ours: 0, bare: 0 };
  const ratios: number[] = [];
  for (let i = 0; i < ctx.opts.turns; i++) {
    // ABBA order: ours first on even pairs, bare first on odd ones.
    const order = i % 2 === 0 ? (['ours', 'bare'] as const) : (['bare', 'ours'] as const);
    const pair: Partial<Record<'ours' | 'bare', number>> = {};
    for (const who of order) {
      const t = await lanes[who].turn(phraseAt(i));
      if (!t) {
        failures[who]++;
        continue;
      }
      v[who].push(t.v2vMs);
      replies.push({ who, reply: lanes[who].pending });
      pair[who] = t.v2vMs;
    }
    if (pair.ours !== undefined && pair.bare !== undefined) ratios.push(pair.ours / pair.bare);
    if ((i + 1) % 8 === 0) {
      ctx.say(
        `latency: ${i + 1}/${ctx.opts.turns} pairs; median ours ${percentile(v.ours, 50).toFixed(0)} ms, bare ${percentile(v.bare, 50).toFixed(0)} ms`,
      );
    }
  }
  await Promise.all([lanes.ours.pending, lanes.bare.pending]);
  const cpuOurs = cpuO();
  const cpuBare = cpuB();
  const frames = { ours: noFrames, bare: noFrames };
  for (const { who, reply } of replies) {
    const r = await reply;
    if (r) frames[who] = addFrameStats(frames[who], r.frames);
  }

  // Let the last replies land in Mongo, then read the framework's per-turn metrics back.
  await new Promise((r) => setTimeout(r, 300));
  const stored = await ctx.h.utterances.listUtterances(o.sessionId);
  const keys: (keyof TurnLatency)[] = [
    'endOfUtteranceMs',
    'transcriptionDelayMs',
    'llmTtftMs',
    'ttsTtfbMs',
    'endToEndMs',
  ];
  const breakdown: LatencyResult['breakdown'] = {};
  for (const k of keys) {
    // Skip the greeting and the warm-up turn, like the patient-side figures.
    const xs = stored
      .filter((u) => u.seq > 2)
      .map((u) => u.latency?.[k])
      .filter((x): x is number => typeof x === 'number');
    if (xs.length) breakdown[k] = percentile(xs, 50);
  }

  await Promise.allSettled([o.patient.leave(), b.patient.leave()]);
  const medO = percentile(v.ours, 50);
  const medB = percentile(v.bare, 50);
  return {
    ours: {
      v2v: summarize(v.ours),
      samples: v.ours,
      warmupMs: warmO?.v2vMs,
      failures: failures.ours,
      frames: frames.ours,
      cpu: cpuOurs,
    },
    bare: {
      v2v: summarize(v.bare),
      samples: v.bare,
      warmupMs: warmB?.v2vMs,
      failures: failures.bare,
      frames: frames.bare,
      cpu: cpuBare,
    },
    pairRatios: summarize(ratios),
    ratioOfMedians: medO / medB,
    ratioOfP95s: percentile(v.ours, 95) / percentile(v.bare, 95),
    cpuRatio: cpuOurs.workerCores / cpuBare.workerCores,
    transportOnset: summarize(floor.onset),
    transportEnd: summarize(floor.end),
    breakdown,
    oursSessionId: o.sessionId,
    wallMs: performance.now() - t0,
  };
}
