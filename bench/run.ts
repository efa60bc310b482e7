/**
 * The benchmark: `npm run bench` (scripts/bench.sh does setup and services, then runs this).
 *
 *   latency  our agent and the bare framework agent, alternating turns in the same run
 *   density  N = 5, 10, 20, … concurrent sessions on one worker until p95 degrades or audio drops
 *   burst    more requests at once than the worker takes, through the real dispatcher
 *   memory   sequential greeting-and-leave sessions through the dispatcher: RSS after each, and
 *            publish → agent joined with a warm pool
 *   api      autocannon on the session API's read and create, beside a bare Fastify route
 *
 *   build    the production build against tsx: worker and dispatcher start-up, RSS and PSS of
 *            the worker's main and prewarmed job process
 *
 * Results: Markdown and JSON in bench/results/ (git-ignored). Options: see bench/options.ts.
 */
import { testConfig, uniqueName } from '../tests/support/env.ts';
import { shutdownRtc } from '../sim/patient.ts';
import { BenchContext, REPLY } from './lib/context.ts';
import { durabilityOf } from './lib/durability.ts';
import { describeMachine, loadAverageNow } from './lib/procs.ts';
import { goalsOf, writeReport, type BenchReport } from './lib/report.ts';
import { sleep } from './lib/stats.ts';
import { startBenchWorker, type BenchWorker } from './lib/workers.ts';
import { parseOptions } from './options.ts';
import { buildPhase, type BuildResult } from './phases/build.ts';
import { burstPhase, type BurstResult } from './phases/burst.ts';
import { densityPhase, type Baseline, type DensityResult } from './phases/density.ts';
import { latencyPhase, type LatencyResult } from './phases/latency.ts';
import { joinPhase, type JoinResult } from './phases/join.ts';
import { memoryPhase, waitQuiet, type MemoryResult } from './phases/memory.ts';
import { apiPhase, type ApiBenchResult } from './phases/api.ts';
import { multinodePhase, type MultinodeResult } from './phases/multinode.ts';
import { turnsPhase, TURN_SETTINGS, type TurnsResult } from './phases/turns.ts';
import { framesPhase, type FrameSetting, type FramesResult } from './phases/frames.ts';

/** Rough phase costs on 2 cores, for keeping within the budget. */
const BURST_ESTIMATE_MS = 80_000;
/** A worker start, a greeting and each plain + paused turn pair, per setting. */
const turnsEstimate = (turns: number) => TURN_SETTINGS.length * (25_000 + turns * 10_000);
const MEMORY_SESSION_MS = 3100;
const TEARDOWN_MS = 15_000;
/** createDispatch → agent joined samples per worker, ours against bare. */
const JOIN_SAMPLES = 5;

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const machine = describeMachine();
  const startedAt = new Date().toISOString();
  const ctx = await BenchContext.create(opts);
  const cfg = testConfig(ctx.env);
  // A stray rejection left by a failed step must not end the run before its report is written.
  process.on('unhandledRejection', (err: unknown) => {
    ctx.note(`unhandled rejection: ${err instanceof Error ? err.message : String(err)}`);
  });
  const workers: BenchWorker[] = [];
  const start = async (kind: 'ours' | 'bare', name: string, env: Record<string, string> = {}) => {
    const w = await startBenchWorker({
      kind,
      agentName: uniqueName(name),
      env: { ...ctx.env, ...env },
    });
    workers.push(w);
    return w;
  };
  const stop = async (w: BenchWorker) => {
    await w.stop();
    workers.splice(workers.indexOf(w), 1);
  };
  // Every phase goes through the step recorder: one that throws is recorded and the next runs.
  const phase = <T>(name: string, fn: () => Promise<T>) => ctx.steps.phase(name, fn);
  /** A top-level phase: the workers it started are stopped however it ends. */
  const topPhase = (name: string, fn: () => Promise<void>) =>
    phase(name, async () => {
      try {
        await fn();
      } finally {
        await Promise.allSettled([...workers].map(stop));
      }
    });
  const memoryEstimate = () =>
    opts.only.has('memory') ? opts.memorySessions * MEMORY_SESSION_MS : 0;
  const burstEstimate = () =>
    (opts.only.has('burst') ? BURST_ESTIMATE_MS : 0) +
    (opts.only.has('turns') ? turnsEstimate(opts.cutoffTurns) : 0);

  let build: BuildResult | undefined;
  let latency: LatencyResult | undefined;
  let join: JoinResult | undefined;
  let density: DensityResult | undefined;
  let burst: BurstResult | undefined;
  let memory: MemoryResult | undefined;
  let api: ApiBenchResult | undefined;
  let multinode: MultinodeResult | undefined;
  let turns: TurnsResult | undefined;
  let frames: FramesResult | undefined;
  const durability: BenchReport['durability'] = {};
  ctx.say(
    `machine: ${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}, load ${machine.loadAverageAtStart.map((x) => x.toFixed(2)).join(' ')}`,
  );
  try {
    if (opts.only.has('multinode')) {
      multinode = await phase('multinode', () =>
        multinodePhase(ctx, {
          mnRequests: opts.mnRequests,
          mnCopies: opts.mnCopies,
          capacity: opts.mnCapacity,
          mnStore: opts.mnStore,
          drainBudgetMs: opts.drainBudgetMs,
          overloadRate: opts.overloadRate,
          overloadSeconds: opts.overloadSeconds,
          overloadCapacity: opts.overloadCapacity,
        }),
      );
    }
    if (opts.only.has('frames'))
      await topPhase('frames', async () => {
        const settings: FrameSetting[] = [
          ...opts.frameSizes.map((f) => ({ name: `${f} ms`, frameMs: f, kind: 'ours' as const })),
          { name: 'bare (framework input, 10 ms)', frameMs: 10, kind: 'bare' },
        ];
        const seats = [];
        for (const setting of settings) {
          const worker = await start(
            setting.kind,
            `bench-frames-${setting.kind}-${setting.frameMs}`,
            setting.kind === 'ours' ? { AGENT_INPUT_FRAME_MS: String(setting.frameMs) } : {},
          );
          await waitQuiet(worker, cfg.agent.numIdleProcesses, 20_000);
          seats.push({ setting, worker });
        }
        ctx.say(
          `frames: ${settings.length} workers; ${opts.frameRounds} rounds of ${opts.frameTurns} turns and a barge-in per session`,
        );
        frames = await framesPhase(ctx, seats, {
          rounds: opts.frameRounds,
          turnsPerWindow: opts.frameTurns,
        });
        for (const x of frames.settings) {
          ctx.say(
            `frames: ${x.name}: CPU ${x.cpu.median.toFixed(2)} s/min (×${x.ratioTo10.median.toFixed(2)} of 10 ms), v2v ${x.v2v.median.toFixed(0)} ms, barge-in ${x.bargeIn.median.toFixed(0)} ms`,
          );
        }
      });
    if (opts.only.has('build')) {
      build = await phase('build', () => buildPhase(ctx, opts.buildSamples));
    }
    if (build) {
      const t = build.tsx.median;
      const c = build.compiled.median;
      ctx.say(
        `build: worker registered ${t?.workerRegisteredMs.toFixed(0)} → ${c?.workerRegisteredMs.toFixed(0)} ms, job PSS ${t?.jobPssMb.toFixed(0)} → ${c?.jobPssMb.toFixed(0)} MB (tsx → compiled)`,
      );
      for (const f of [...build.tsx.failures, ...build.compiled.failures])
        ctx.notes.push(`build phase: ${f}`);
    }
    if (opts.only.has('latency') || opts.only.has('density'))
      await topPhase('latency+density', async () => {
        const [ours, bare] = await Promise.all([
          start('ours', 'bench-ours'),
          start('bare', 'bench-bare'),
        ]);
        ctx.say('workers registered');
        // The worker registers before its idle process is warm.
        await waitQuiet(ours, cfg.agent.numIdleProcesses, 20_000);
        await waitQuiet(bare, cfg.agent.numIdleProcesses, 20_000);
        let baseline: Baseline | undefined;
        let bareBaseline: Baseline | undefined;
        if (opts.only.has('latency')) {
          ctx.reserveMs = memoryEstimate() + burstEstimate() + TEARDOWN_MS;
          latency = await phase('latency', () => latencyPhase(ctx, ours, bare));
        }
        if (latency) {
          ctx.say(
            `latency: ours median ${latency.ours.v2v.median.toFixed(0)} / p95 ${latency.ours.v2v.p95.toFixed(0)} ms, bare ${latency.bare.v2v.median.toFixed(0)} / ${latency.bare.v2v.p95.toFixed(0)} ms, ratio ${latency.pairRatios.median.toFixed(3)}`,
          );
          baseline = {
            p95: latency.ours.v2v.p95,
            droppedPerReply: latency.ours.frames.dropouts / Math.max(1, latency.ours.v2v.n),
          };
          bareBaseline = {
            p95: latency.bare.v2v.p95,
            droppedPerReply: latency.bare.frames.dropouts / Math.max(1, latency.bare.v2v.n),
          };
          // The session's sink stats are logged as its job shuts down.
          await sleep(2000);
          durability.latencySession = durabilityOf(
            ours.tap.sinkStats.filter((x) => x.sessionId === latency?.oursSessionId),
          );
        }
        if (opts.only.has('latency')) {
          join = await phase('join', () =>
            joinPhase(ctx, ours, bare, JOIN_SAMPLES, cfg.agent.numIdleProcesses),
          );
          if (join) {
            ctx.say(
              `join: createDispatch → agent joined, median ours ${join.ours.median.toFixed(0)} ms, bare ${join.bare.median.toFixed(0)} ms`,
            );
          }
        }
        if (opts.only.has('density')) {
          ctx.reserveMs = memoryEstimate() + burstEstimate() + TEARDOWN_MS;
          const before = new Set(ours.tap.sinkStats);
          density = await phase('density', () =>
            densityPhase(ctx, ours, baseline, cfg.agent.numIdleProcesses, {
              worker: bare,
              baseline: bareBaseline,
            }),
          );
          await sleep(2000);
          durability.densitySessions = durabilityOf(
            ours.tap.sinkStats.filter((x) => !before.has(x)),
          );
        }
        await Promise.all([stop(ours), stop(bare)]);
      });
    if (opts.only.has('turns'))
      await topPhase('turns', async () => {
        ctx.reserveMs =
          memoryEstimate() + burstEstimate() - turnsEstimate(opts.cutoffTurns) + TEARDOWN_MS;
        ctx.say(
          `turns: ${TURN_SETTINGS.length} end-of-turn settings, ${opts.cutoffTurns} plain and ${opts.cutoffTurns} paused turns each`,
        );
        turns = await turnsPhase(
          ctx,
          async (setting) => {
            const w = await start('ours', `bench-turns-${setting.name.replace(/ /g, '-')}`, {
              AGENT_VAD_MIN_SILENCE_MS: String(setting.vadMinSilenceMs),
              AGENT_ENDPOINTING_MIN_DELAY_MS: String(setting.endpointingMinDelayMs),
            });
            await waitQuiet(w, cfg.agent.numIdleProcesses, 20_000);
            return w;
          },
          stop,
          opts.cutoffTurns,
        );
      });
    if (opts.only.has('burst'))
      await topPhase('burst', async () => {
        ctx.reserveMs = memoryEstimate() + TEARDOWN_MS;
        const w = await start('ours', 'bench-burst', {
          AGENT_MAX_JOBS: String(opts.burstCapacity),
        });
        await waitQuiet(w, cfg.agent.numIdleProcesses, 20_000);
        ctx.say(`burst: ${opts.burst} requests at once, capacity ${opts.burstCapacity}`);
        burst = await burstPhase(ctx, w);
        ctx.say(
          `burst: ${burst.placed} placed, ${burst.lost} lost, ${burst.duplicated} duplicated`,
        );
        await stop(w);
      });
    if (opts.only.has('memory'))
      await topPhase('memory', async () => {
        ctx.reserveMs = TEARDOWN_MS;
        const w = await start('ours', 'bench-memory');
        await waitQuiet(w, cfg.agent.numIdleProcesses, 20_000);
        ctx.say(`memory: up to ${opts.memorySessions} sequential sessions through the dispatcher`);
        memory = await memoryPhase(ctx, w, cfg.agent.numIdleProcesses);
        await stop(w);
      });
    if (opts.only.has('api'))
      await phase('api', async () => {
        // No agents running: the API's figures are its own, not a share of a busy worker's CPU.
        api = await apiPhase({ durationS: 10, connections: 20, say: (l) => ctx.say(l) });
        ctx.say(
          `api: read ${api.read.ours.rps.toFixed(0)} req/s p99 ${api.read.ours.p99Ms.toFixed(0)} ms (bare ${api.read.bare.rps.toFixed(0)}), create ${api.create.ours.rps.toFixed(0)} req/s p99 ${api.create.ours.p99Ms.toFixed(0)} ms`,
        );
      });
  } finally {
    await Promise.allSettled(workers.map((w) => w.stop()));
    await ctx.close().catch((err: unknown) => console.error('bench cleanup:', err));
    await shutdownRtc();
  }

  const partial: Omit<BenchReport, 'goals'> = {
    startedAt,
    wallMs: ctx.elapsedMs(),
    command: [
      'npm run bench',
      ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : []),
    ].join(' '),
    machine,
    loadAverageAtEnd: loadAverageNow(),
    settings: {
      providerLatencies: {
        sttFinalMs: opts.sttFinalMs,
        llmTtftMs: opts.llmTtftMs,
        ttsTtfbMs: opts.ttsTtfbMs,
      },
      providers: { stt: 'deepgram', llm: 'openai', tts: 'elevenlabs' },
      turnDetection: cfg.agent.turnDetection,
      vadMinSilenceMs: cfg.agent.vadMinSilenceMs,
      endpointing: cfg.agent.endpointing,
      preemptiveGeneration: cfg.agent.preemptiveGeneration,
      preemptiveTts: cfg.agent.preemptiveTts,
      patientReply: REPLY,
    },
    ...(build ? { build } : {}),
    ...(latency ? { latency } : {}),
    ...(join ? { join } : {}),
    ...(density ? { density } : {}),
    ...(burst ? { burst } : {}),
    ...(memory ? { memory } : {}),
    ...(api ? { api } : {}),
    ...(multinode ? { multinode } : {}),
    ...(turns ? { turns } : {}),
    ...(frames ? { frames } : {}),
    durability,
    failedSteps: ctx.steps.failed,
    notes: ctx.notes,
  };
  const report: BenchReport = { ...partial, goals: goalsOf(partial) };
  const files = await writeReport(opts.outDir, report);
  console.log('');
  console.log(`results: ${files.md}`);
  console.log(`         ${files.json}`);
  for (const g of report.goals) {
    console.log(
      `  ${g.met === false ? 'MISS' : g.met ? 'ok  ' : '    '} ${g.metric}: ${g.measured} (goal ${g.target})`,
    );
  }
  console.log(`wall time ${(report.wallMs / 60_000).toFixed(1)} min`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('bench failed:', err);
    process.exit(1);
  },
);
