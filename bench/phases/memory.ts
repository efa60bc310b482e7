/**
 * Memory and warm dispatch: sequential sessions through the real dispatcher. Each one: publish a
 * request, the dispatcher places it, the patient joins the room the dispatcher made, hears the
 * greeting start, and leaves. Before each publish the bench waits until the worker is idle again
 * with a warm process ready (the previous session's job process gone), then records the RSS of
 * the worker's long-lived processes. publish → agent joined comes from the same sessions.
 */
import { SimulatedPatient } from '../../sim/patient.ts';
import type { BenchContext } from '../lib/context.ts';
import { openLane } from '../lib/lane.ts';
import { countOf, groupSnapshot, rssOf } from '../lib/procs.ts';
import { slope, sleep, summarize, type Summary } from '../lib/stats.ts';
import type { BenchWorker } from '../lib/workers.ts';
import { patientIdentity } from '../../sessions/participants.ts';

export interface MemorySample {
  /** Sessions completed before this sample. */
  after: number;
  mainMb: number;
  inferenceMb: number;
  /** Idle job processes at that moment, and their RSS together. */
  idleJobs: number;
  idleJobsMb: number;
  totalMb: number;
}

export interface MemoryResult {
  requested: number;
  completed: number;
  failed: number;
  samples: MemorySample[];
  /**
   * Least-squares growth of the long-lived processes (main + inference), MB per 100 sessions,
   * after the first WARMUP_SESSIONS (heaps settle and shrink there).
   */
  growthMbPer100: number;
  /** The same over every sample, warm-up included. */
  growthAllMbPer100: number;
  /** Median of the last 10 samples minus median of the 10 after warm-up, MB. */
  lateMinusEarlyMb: number;
  dispatch: {
    /** Producer's publish call → LiveKit's join time of the agent, every session. */
    publishToJoined: Summary;
    /** The dispatcher's own figure (Pub/Sub publish time → join), sessions it settled `placed`. */
    dispatcherPublishToJoined: Summary;
    /** Publish → received by the dispatcher. */
    queued: Summary;
    /** createDispatch returned → agent joined. */
    dispatchToJoined: Summary;
    /** Agent joined → first greeting audio at the patient (the patient joins after placement). */
    joinedToGreeting: Summary;
  };
  perSessionMs: number;
  stoppedBecause: string;
  /** Placements that did not settle as `placed` in time (the session still ran). */
  anomalies: string[];
}

/** Sessions before the heaps settle (the worker's main heap shrinks by ~60 MB over them). */
const WARMUP_SESSIONS = 20;

function sample(worker: BenchWorker, after: number): MemorySample {
  const s = groupSnapshot(worker.pgid);
  return {
    after,
    mainMb: rssOf(s, 'main'),
    inferenceMb: rssOf(s, 'inference'),
    idleJobs: countOf(s, 'job'),
    idleJobsMb: rssOf(s, 'job'),
    totalMb: s.totalRssMb,
  };
}

const jobTicks = (worker: BenchWorker) =>
  groupSnapshot(worker.pgid)
    .procs.filter((p) => p.kind === 'job')
    .reduce((a, p) => a + p.cpuTicks, 0);

/**
 * Until only `idle` job processes are left (the last session's is gone) and they are warm: a
 * process still starting burns most of a core, a warm idle one next to nothing.
 */
export async function waitQuiet(
  worker: BenchWorker,
  idle: number,
  timeoutMs: number,
): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (countOf(groupSnapshot(worker.pgid), 'job') === idle) {
      const before = jobTicks(worker);
      await sleep(300);
      // Under 10 % of a core across the idle processes for 300 ms (100 ticks per second).
      if (jobTicks(worker) - before <= 3) return true;
    } else {
      await sleep(100);
    }
  }
  return false;
}

export async function memoryPhase(
  ctx: BenchContext,
  worker: BenchWorker,
  idleProcesses: number,
): Promise<MemoryResult> {
  const lane = await openLane(ctx, worker.agentName);
  const samples: MemorySample[] = [];
  const p2j: number[] = [];
  const joined: number[] = [];
  const queued: number[] = [];
  const d2j: number[] = [];
  const j2g: number[] = [];
  let failed = 0;
  let completed = 0;
  const anomalies: string[] = [];
  let stoppedBecause = 'all sessions run';
  const t0 = performance.now();
  try {
    // One session straight away: the worker registers before its idle process is warm.
    for (let i = 0; i < ctx.opts.memorySessions; i++) {
      if (!(await waitQuiet(worker, idleProcesses, 20_000))) {
        ctx.note(`memory: worker not back to idle before session ${i + 1}`);
      }
      samples.push(sample(worker, i));
      // Keep the budget: project from the sessions so far.
      const perSession = i > 0 ? (performance.now() - t0) / i : 4000;
      if (ctx.remainingMs() - perSession < ctx.reserveMs) {
        stoppedBecause = `time budget: stopped after ${i} sessions`;
        ctx.note(`memory: ${stoppedBecause} (${(perSession / 1000).toFixed(1)} s per session)`);
        break;
      }

      const request = ctx.h.request();
      const id = request.sessionId;
      const { publishedAtMs } = await lane.publish(request);
      const settled = await lane.waitSettled(
        (s) => s.sessionId === id && (s.outcome === 'placed' || s.outcome === 'duplicate'),
        20_000,
      );
      if (settled?.outcome === 'placed' && settled.timings) {
        p2j.push(settled.timings.publishToJoinedMs);
        queued.push(settled.timings.queuedMs);
        d2j.push(settled.timings.dispatchToJoinedMs);
      } else {
        // The agent records `active` itself on joining; when that lands before the dispatcher's
        // own transition, the placing delivery settles as `duplicate` (no timings). The session
        // is placed all the same: the patient joins its room.
        anomalies.push(
          `${id}: ${settled ? `settled ${settled.outcome}` : 'not settled'} within 20 s`,
        );
      }
      const room = settled?.room ?? (await ctx.h.sessions.get(id))?.room;
      if (!room) {
        failed++;
        continue;
      }
      // LiveKit's own record of when the agent joined, for every session alike.
      const agent = (await lane.rooms.listParticipants(room).catch(() => [])).find(
        (p) => p.attributes['lk.agent.name'] === worker.agentName,
      );
      if (agent && agent.joinedAtMs > 0n) joined.push(Number(agent.joinedAtMs) - publishedAtMs);
      const joinedAt = performance.now();
      const patient = await SimulatedPatient.join({
        livekit: ctx.h.cfg.livekit,
        room,
        identity: patientIdentity(id),
        recordAgentAudio: false,
      });
      try {
        const first = await patient.waitForAgentSpeech({ after: 0, timeoutMs: 15_000 });
        j2g.push(first.at - joinedAt);
        completed++;
      } catch {
        failed++;
      } finally {
        await patient.leave();
        // The patient leaving ends the job; closing the room makes sure, whatever happened.
        await lane.rooms.deleteRoom(room).catch(() => undefined);
      }
      if ((i + 1) % 20 === 0) {
        const last = samples.at(-1)!;
        ctx.say(
          `memory: ${i + 1} sessions; main ${last.mainMb.toFixed(0)} MB, inference ${last.inferenceMb.toFixed(0)} MB`,
        );
      }
    }
    await waitQuiet(worker, idleProcesses, 20_000);
    samples.push(sample(worker, completed + failed));
  } finally {
    await lane.close();
  }
  const longLived = samples.map((s) => s.mainMb + s.inferenceMb);
  const median = (xs: number[]) => summarize(xs).median;
  const early = longLived.slice(WARMUP_SESSIONS, WARMUP_SESSIONS + 10);
  const late = longLived.slice(-10);
  const settled = samples.filter((s) => s.after >= WARMUP_SESSIONS);
  return {
    requested: ctx.opts.memorySessions,
    completed,
    failed,
    samples,
    growthMbPer100:
      slope(
        settled.map((s) => s.after),
        settled.map((s) => s.mainMb + s.inferenceMb),
      ) * 100,
    growthAllMbPer100:
      slope(
        samples.map((s) => s.after),
        longLived,
      ) * 100,
    lateMinusEarlyMb: early.length && late.length ? median(late) - median(early) : NaN,
    dispatch: {
      publishToJoined: summarize(joined),
      dispatcherPublishToJoined: summarize(p2j),
      queued: summarize(queued),
      dispatchToJoined: summarize(d2j),
      joinedToGreeting: summarize(j2g),
    },
    perSessionMs: (performance.now() - t0) / Math.max(1, completed + failed),
    stoppedBecause,
    anomalies,
  };
}
