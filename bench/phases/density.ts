/**
 * Density: N concurrent sessions on one worker, N = 5, 10, 20, …, each patient taking turns at
 * its own pace. A step passes while p95 voice-to-voice stays within 10 % of the single-session
 * p95 (the latency phase's) and no audio drops: every turn gets a reply, silent gaps inside
 * replies stay at the single-session rate (+5 % of replies), and the worker never logs "VAD
 * inference is slower than realtime". After the first failure the bench halves the gap to the
 * last passing N while the budget allows. Then, budget permitting, the bare framework agent runs
 * the smallest failing N too, against its own single-session p95: if it degrades alike, the
 * limit is not ours.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  addFrameStats,
  noFrames,
  phraseAt,
  runTurn,
  type FrameStats,
} from '../lib/conversation.ts';
import { waitGreeted, type BenchContext, type StartedBenchSession } from '../lib/context.ts';
import { countOf, cpuWindow, groupSnapshot, pssOf, rssOf, type CpuWindow } from '../lib/procs.ts';
import type { FailedStep } from '../lib/steps.ts';
import { sleep, summarize, type Summary } from '../lib/stats.ts';
import type { BenchWorker } from '../lib/workers.ts';

export interface DensityStep {
  agent: 'ours' | 'bare';
  sessions: number;
  v2v: Summary;
  /** Every voice-to-voice sample, in completion order. */
  samples: number[];
  p95VsBaseline: number;
  failures: number;
  frames: FrameStats;
  /** Replies measured (frames are over these). */
  replies: number;
  cpu: CpuWindow;
  /** The bench process's own event-loop delay (patients and stand-ins live there), p99 / max. */
  benchLoopDelayMs: { p99: number; max: number };
  /** Worker process group RSS at the busiest sample. */
  groupRssMb: number;
  /** Mean RSS of a job process at that sample (idle ones included). */
  jobRssMb: number;
  /** Extra group RSS per session over the idle worker. */
  rssPerSessionMb: number;
  /** Worker process group PSS at the same sample: shared pages counted once. */
  groupPssMb: number;
  /** Mean PSS of a job process at that sample (idle ones included). */
  jobPssMb: number;
  /** The worker's main process PSS at that sample. */
  mainPssMb: number;
  /** Extra group PSS per session over the idle worker: what one more session really costs. */
  pssPerSessionMb: number;
  vadSlowerWarnings: number;
  loopBlockedWarnings: number;
  startupMs: number;
  passed: boolean;
  why: string;
}

export interface DensityResult {
  baselineP95: number;
  steps: DensityStep[];
  /** The largest N that passed below the smallest N that failed (1: the latency phase). */
  maxPassing: number;
  stoppedBecause: string;
  /** The bare agent at the smallest failing N, against its own single-session p95. */
  bare?: DensityStep;
}

export interface Baseline {
  p95: number;
  droppedPerReply: number;
}

/** The worker's memory with no session, what each step's per-session figures are over. */
interface IdleMemory {
  rssMb: number;
  pssMb: number;
}

function idleMemoryOf(worker: BenchWorker): IdleMemory {
  const s = groupSnapshot(worker.pgid, { pss: true });
  return { rssMb: s.totalRssMb, pssMb: s.totalPssMb };
}

const stepFailed = (n: number, f: FailedStep) => `N=${n}: step failed: ${f.reason}`;

/** The worker must be back to idle (its sessions' job processes gone) before the next step. */
async function waitIdle(worker: BenchWorker, maxJobs: number, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (countOf(groupSnapshot(worker.pgid), 'job') > maxJobs && performance.now() < until) {
    await sleep(250);
  }
}

/** A step costs its startup (serial job-process start-up, ~2.5 s each here) plus its turns. */
const stepEstimateMs = (n: number) => n * 2500 + 50_000;

export async function densityPhase(
  ctx: BenchContext,
  worker: BenchWorker,
  given: Baseline | undefined,
  idleJobs: number,
  bare?: { worker: BenchWorker; baseline: Baseline | undefined },
): Promise<DensityResult> {
  const steps: DensityStep[] = [];
  let stoppedBecause = 'all steps passed';
  await waitIdle(worker, idleJobs, 20_000);
  const idle = idleMemoryOf(worker);
  let baseline = given;
  const measure = (w: BenchWorker, n: number, base: Baseline, idle: IdleMemory) =>
    ctx.steps.step('density', `${w.kind} N=${n}`, () => runStep(ctx, w, n, base, idle));
  if (!baseline) {
    // Run on its own (no latency phase): one session is the baseline.
    const r = await measure(worker, 1, { p95: NaN, droppedPerReply: Infinity }, idle);
    if (!r.ok) {
      return { baselineP95: NaN, steps, maxPassing: 0, stoppedBecause: stepFailed(1, r.failure) };
    }
    const one = r.value;
    baseline = {
      p95: one.v2v.p95,
      droppedPerReply: one.frames.dropouts / Math.max(1, one.replies),
    };
    steps.push({ ...one, p95VsBaseline: 1, passed: true, why: 'baseline' });
    await waitIdle(worker, idleJobs, 30_000);
  }

  let lastPass = 1;
  let firstFail: number | undefined;
  let bareStep: DensityStep | undefined;
  const queue = [...ctx.opts.densitySteps];
  while (queue.length > 0) {
    const n = queue.shift()!;
    if (ctx.remainingMs() - stepEstimateMs(n) < ctx.reserveMs) {
      const skipped = `N=${n} not run: time budget`;
      stoppedBecause = firstFail === undefined ? skipped : `${stoppedBecause}; ${skipped}`;
      ctx.note(`density: ${skipped}`);
      break;
    }
    const r = await measure(worker, n, baseline, idle);
    if (!r.ok) {
      // A step that broke (no greeting, a patient that could not join) ends the phase; what
      // the steps before it measured stands.
      const failed = stepFailed(n, r.failure);
      stoppedBecause = firstFail === undefined ? failed : `${stoppedBecause}; ${failed}`;
      break;
    }
    const step = r.value;
    steps.push(step);
    report(ctx, step);
    await waitIdle(worker, idleJobs, 30_000);
    if (step.passed) {
      lastPass = Math.max(lastPass, n);
    } else if (firstFail === undefined) {
      firstFail = n;
      stoppedBecause = `N=${n}: ${step.why}`;
      queue.length = 0;
      // The same N on the bare framework agent first: is the limit ours?
      if (bare) bareStep = await bareAt(ctx, bare, n, idleJobs);
    } else {
      firstFail = Math.min(firstFail, n);
      stoppedBecause = `N=${firstFail}: ${steps.find((x) => x.sessions === firstFail)?.why}`;
    }
    if (queue.length === 0 && firstFail !== undefined && firstFail - lastPass > 1) {
      queue.push(Math.floor((lastPass + firstFail) / 2));
    }
  }
  return {
    baselineP95: baseline.p95,
    steps,
    maxPassing: lastPass,
    stoppedBecause,
    ...(bareStep ? { bare: bareStep } : {}),
  };
}

/** The bare agent at `n` sessions, against its own single-session p95 (measured here if need be). */
async function bareAt(
  ctx: BenchContext,
  bare: { worker: BenchWorker; baseline: Baseline | undefined },
  n: number,
  idleJobs: number,
): Promise<DensityStep | undefined> {
  const w = bare.worker;
  if (ctx.remainingMs() - stepEstimateMs(n) - (bare.baseline ? 0 : 45_000) < ctx.reserveMs) {
    ctx.note(`density: the bare agent at N=${n} not run: time budget`);
    return undefined;
  }
  await waitIdle(w, idleJobs, 20_000);
  const idle = idleMemoryOf(w);
  const measure = (n: number, base: Baseline) =>
    ctx.steps.step('density', `bare N=${n}`, () => runStep(ctx, w, n, base, idle));
  let baseline = bare.baseline;
  if (!baseline) {
    const r = await measure(1, { p95: NaN, droppedPerReply: Infinity });
    if (!r.ok) return undefined;
    const one = r.value;
    baseline = {
      p95: one.v2v.p95,
      droppedPerReply: one.frames.dropouts / Math.max(1, one.replies),
    };
    await waitIdle(w, idleJobs, 30_000);
  }
  const r = await measure(n, baseline);
  if (!r.ok) return undefined;
  report(ctx, r.value);
  await waitIdle(w, idleJobs, 30_000);
  return r.value;
}

function report(ctx: BenchContext, step: DensityStep): void {
  ctx.say(
    `density ${step.agent} N=${step.sessions}: p95 ${step.v2v.p95.toFixed(0)} ms (x${step.p95VsBaseline.toFixed(2)}), median ${step.v2v.median.toFixed(0)} ms, CPU ${(step.cpu.machineBusy * 100).toFixed(0)} %, PSS/session ${step.pssPerSessionMb.toFixed(0)} MB, ${step.passed ? 'pass' : `FAIL: ${step.why}`}`,
  );
}

async function runStep(
  ctx: BenchContext,
  worker: BenchWorker,
  n: number,
  baseline: Baseline,
  idle: IdleMemory,
): Promise<DensityStep> {
  const t0 = performance.now();
  const sessions: StartedBenchSession[] = [];
  const start = (w: BenchWorker) => (w.kind === 'ours' ? ctx.startOurs(w) : ctx.startBare(w));
  try {
    // Staggered, like patients arriving; all greeted before the measured turns start.
    const greeted: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const s = await start(worker);
      sessions.push(s);
      const g = waitGreeted(s, 30_000 + n * 4000);
      // If a later start throws, Promise.all below is never reached: no unhandled rejection.
      g.catch(() => undefined);
      greeted.push(g);
      await sleep(200);
    }
    await Promise.all(greeted);
    const startupMs = performance.now() - t0;
    await sleep(1500);

    worker.tap.resetWarnings();
    const cpu = cpuWindow(worker.pgid);
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    let busiest = groupSnapshot(worker.pgid, { pss: true });
    const sampler = setInterval(() => {
      const s = groupSnapshot(worker.pgid, { pss: true });
      if (s.totalRssMb > busiest.totalRssMb) busiest = s;
    }, 1000);

    const turnsEach = Math.max(2, Math.ceil(ctx.opts.densitySamples / n));
    const v2v: number[] = [];
    let frames = noFrames;
    let failures = 0;
    await Promise.all(
      sessions.map(async (s, k) => {
        await sleep(Math.random() * 1500); // patients do not speak in lockstep
        for (let t = 0; t < turnsEach; t++) {
          try {
            const r = await runTurn(s.patient, phraseAt(k + t));
            v2v.push(r.v2vMs);
            frames = addFrameStats(frames, r.frames);
          } catch {
            failures++;
            await s.patient
              .waitForAgentSilence({ silenceMs: 600, timeoutMs: 20_000 })
              .catch(() => 0);
          }
          await sleep(200 + Math.random() * 600);
        }
      }),
    );
    clearInterval(sampler);
    loop.disable();
    const cpuUsed = cpu();
    const summary = summarize(v2v);
    const jobs = busiest.procs.filter((p) => p.kind === 'job');
    const ratio = summary.p95 / baseline.p95;
    const droppedPerReply = v2v.length ? frames.dropouts / v2v.length : 0;
    const why = [
      ratio > 1.1 ? `p95 ${(ratio * 100 - 100).toFixed(0)} % over the single-session p95` : '',
      failures > 0 ? `${failures} turns without a reply` : '',
      droppedPerReply > baseline.droppedPerReply + 0.05
        ? `${frames.dropouts} silent gaps inside ${v2v.length} replies`
        : '',
      worker.tap.vadSlower > 0 ? `${worker.tap.vadSlower} "VAD slower than realtime" warnings` : '',
    ]
      .filter(Boolean)
      .join('; ');
    return {
      agent: worker.kind,
      sessions: n,
      v2v: summary,
      samples: v2v.map((x) => Math.round(x)),
      p95VsBaseline: ratio,
      failures,
      frames,
      replies: v2v.length,
      cpu: cpuUsed,
      benchLoopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      groupRssMb: busiest.totalRssMb,
      jobRssMb: jobs.length ? rssOf(busiest, 'job') / jobs.length : NaN,
      rssPerSessionMb: (busiest.totalRssMb - idle.rssMb) / n,
      groupPssMb: busiest.totalPssMb,
      jobPssMb: jobs.length ? pssOf(busiest, 'job') / jobs.length : NaN,
      mainPssMb: pssOf(busiest, 'main'),
      pssPerSessionMb: (busiest.totalPssMb - idle.pssMb) / n,
      vadSlowerWarnings: worker.tap.vadSlower,
      loopBlockedWarnings: worker.tap.loopBlocked,
      startupMs,
      passed: why === '',
      why: why || 'ok',
    };
  } finally {
    await Promise.allSettled(sessions.map((s) => s.patient.leave()));
    ctx.say(
      `density ${worker.kind} N=${n}: step took ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
  }
}
