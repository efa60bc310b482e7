/**
 * `npm run chaos`: calls with the vendor stand-ins while faults are injected one kind at a time
 * (bench/chaos/scenarios.ts), against private servers of its own; prints the table and writes it with
 * a JSON of every figure to bench/results/ (chaos-<time>.md/.json, chaos-latest.*).
 *
 *   npm run chaos                          every scenario (~12 min on 2 cores)
 *   npm run chaos -- --only stt-drop,worker-sigkill
 *   npm run chaos -- --list
 *   npm run chaos -- --out .run/chaos
 *   npm run chaos -- --only livekit-restart --worker-log info   (the workers' own output)
 *
 * Needs the binaries scripts/install-tools.sh puts in .cache/tools (or VOICECARE_TOOLS_DIR)
 * and the gcloud Pub/Sub emulator; never touches the shared servers on 7880/8085/27017.
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { shutdownRtc } from '../sim/patient.ts';
import { writeReport, tableOf, type ChaosReport } from '../bench/chaos/report.ts';
import { goalsOf, runScenario, type ScenarioResult } from '../bench/chaos/run.ts';
import { SCENARIOS } from '../bench/chaos/scenarios.ts';
import { ChaosStack } from '../bench/chaos/stack.ts';

const SCENARIO_TIMEOUT_MS = 180_000;

interface Args {
  only: Set<string> | null;
  out: string;
  list: boolean;
  /** `--worker-log <level>`: print the workers' output at that level (for a failing scenario). */
  workerLog: string | null;
}

function parse(argv: string[]): Args {
  let only: Set<string> | null = null;
  let workerLog: string | null = null;
  let out = fileURLToPath(new URL('../bench/results', import.meta.url));
  let list = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') only = new Set((argv[++i] ?? '').split(',').filter(Boolean));
    else if (a === '--out') out = argv[++i] ?? out;
    else if (a === '--list') list = true;
    else if (a === '--worker-log') workerLog = argv[++i] ?? 'info';
    else {
      throw new Error(
        `unknown argument ${a}; use --only <ids>, --out <dir>, --list, --worker-log <level>`,
      );
    }
  }
  if (only) {
    const known = new Set(SCENARIOS.map((s) => s.id));
    const unknown = [...only].filter((id) => !known.has(id));
    if (unknown.length) {
      throw new Error(`unknown scenario(s) ${unknown.join(', ')}; --list shows them`);
    }
  }
  return { only, out, list, workerLog };
}

async function main(): Promise<number> {
  const opts = parse(process.argv.slice(2));
  if (opts.list) {
    for (const s of SCENARIOS) console.log(`${s.id.padEnd(16)} ${s.class.padEnd(7)} ${s.title}`);
    return 0;
  }
  const t0 = Date.now();
  const say = (line: string) =>
    console.log(`[chaos ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${line}`);
  const startedAt = new Date().toISOString();
  const load0 = loadavg();
  const chosen = SCENARIOS.filter((s) => !opts.only || opts.only.has(s.id));
  const results: ScenarioResult[] = [];
  const notes: string[] = [];
  let stack: ChaosStack | undefined;

  // Ctrl-C: the private servers run in their own process groups and would outlive us.
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) {
      stack?.killNow();
      process.exit(130);
    }
    interrupted = true;
    say(`${sig}: cleaning up (again to force)`);
    const hard = setTimeout(() => {
      stack?.killNow();
      process.exit(130);
    }, 15_000);
    void (stack?.close() ?? Promise.resolve()).finally(() => {
      clearTimeout(hard);
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => stack?.killNow());

  try {
    stack = await ChaosStack.start({
      say,
      ...(opts.workerLog ? { echoWorkers: true, workerEnv: { LOG_LEVEL: opts.workerLog } } : {}),
    });
    await stack.startWorker();
    for (const s of chosen) {
      if (interrupted) break;
      say(`${s.id}: ${s.title}`);
      const r = await runScenario(stack, s, SCENARIO_TIMEOUT_MS);
      results.push(r);
      say(
        `${s.id}: ${r.terminalCorrect}/${r.sessions} states ok, lost ${r.utterancesLost}/${r.finalisedBeforeFault}, escalations ${r.escalationsDelivered}/${r.escalationsExpected}, stuck ${r.stuck}, longest silence ${r.longestSilenceMs ?? '–'} ms${r.error ? `, ERROR ${r.error}` : ''} (${(r.durationMs / 1000).toFixed(0)} s)`,
      );
    }
  } catch (err) {
    notes.push(
      `run stopped early: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    );
    say(notes.at(-1) ?? '');
  } finally {
    await stack?.close().catch((err: unknown) => notes.push(`cleanup: ${String(err)}`));
    stack = undefined;
    await shutdownRtc().catch(() => undefined);
  }
  for (const s of chosen) {
    if (!results.some((r) => r.id === s.id)) notes.push(`${s.id}: not run`);
  }

  const report: ChaosReport = {
    startedAt,
    wallMs: Date.now() - t0,
    command: [
      'npm run chaos',
      ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : []),
    ].join(' '),
    loadAverage: { start: load0, end: loadavg() },
    settings: {
      reaperIntervalMs: 1000,
      reaperAgentGoneMs: 3000,
      sttProviders: 'deepgram',
      llmProviders: 'openai',
      ttsProviders: 'elevenlabs,openai',
      turnDetection: 'vad',
      scenarioTimeoutMs: SCENARIO_TIMEOUT_MS,
    },
    results,
    goals: goalsOf(results),
    notes,
  };
  const files = await writeReport(opts.out, report);
  console.log('');
  console.log(tableOf(results));
  console.log('');
  for (const g of report.goals) {
    console.log(
      `  ${g.met ? 'met   ' : 'MISSED'} ${g.goal}${g.met ? '' : `: ${g.misses.join('; ')}`}`,
    );
  }
  for (const n of notes) console.log(`  note: ${n}`);
  console.log(`\nresults: ${files.md}\n         ${files.json}`);
  console.log(`wall time ${(report.wallMs / 60_000).toFixed(1)} min`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('chaos failed:', err);
    process.exit(1);
  },
);
