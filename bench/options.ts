/**
 * The bench's options, from its command line (`npm run bench -- --turns 40`). Defaults are the
 * issue's: provider latencies STT final 150 ms after end of speech, LLM first token 250 ms, TTS
 * first byte 150 ms; at least 30 measured turns; density N = 5, 10, 20, …; 100 memory sessions.
 */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Measured turns per agent in the latency phase (after one warm-up turn each). */
  turns: number;
  /** Concurrent-session steps for the density phase (N = 1 is the latency phase's own agent). */
  densitySteps: number[];
  /** Voice-to-voice samples to aim for per density step (spread over its sessions). */
  densitySamples: number;
  /** Sequential greeting-and-leave sessions for the memory phase (also the warm dispatch figure). */
  memorySessions: number;
  /** Requests published at once in the burst. */
  burst: number;
  /** Sessions the burst's worker takes at a time (AGENT_MAX_JOBS). */
  burstCapacity: number;
  /** How long each burst session stays before its room is closed. */
  burstHoldMs: number;
  /** Stand-in latencies. */
  sttFinalMs: number;
  llmTtftMs: number;
  ttsTtfbMs: number;
  turnDetection: 'vad' | 'stt' | 'model';
  /** Warm job processes each worker keeps (AGENT_NUM_IDLE_PROCESSES), ours and bare alike. */
  idleProcesses: number;
  /** Wall-clock budget for the phases (setup and service start are outside it). */
  budgetMs: number;
  /** Start-ups per variant (tsx, compiled) in the build phase. */
  buildSamples: number;
  /** Multi-node phase: requests, and deliveries of each. */
  mnRequests: number;
  mnCopies: number;
  /** Multi-node overload: requests/s and seconds, pool capacity during it and after. */
  overloadRate: number;
  overloadSeconds: number;
  overloadCapacity: number;
  mnCapacity: number;
  /** Multi-node phase's session store: FerretDB over PostgreSQL (`indexed`) or over SQLite. */
  mnStore: 'indexed' | 'sqlite';
  /** The longest the overload's drain is waited for. */
  drainBudgetMs: number;
  /** Plain and paused patient turns per end-of-turn setting in the turns phase. */
  cutoffTurns: number;
  /** Frames phase: AGENT_INPUT_FRAME_MS settings (10 always among them), rounds, turns per window. */
  frameSizes: number[];
  frameRounds: number;
  frameTurns: number;
  /** Phases to run (all but multinode by default): build, latency, turns, density, burst, memory, api. */
  only: Set<string>;
  outDir: string;
}

const PHASES = [
  'build',
  'latency',
  'turns',
  'density',
  'burst',
  'memory',
  'api',
  'multinode',
  'frames',
] as const;
/**
 * multinode needs its own stack (`services.sh up --nodes 2`) and minutes, frames ~8 minutes of
 * its own: only on request.
 */
const DEFAULT_PHASES = PHASES.filter((p) => p !== 'multinode' && p !== 'frames');

function int(name: string, v: string | undefined, fallback: number, min = 0): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name}: expected a whole number >= ${min}, got ${v}`);
  return n;
}

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      turns: { type: 'string' },
      density: { type: 'string' },
      'density-samples': { type: 'string' },
      'memory-sessions': { type: 'string' },
      'build-samples': { type: 'string' },
      burst: { type: 'string' },
      'burst-capacity': { type: 'string' },
      'burst-hold-ms': { type: 'string' },
      'stt-final-ms': { type: 'string' },
      'llm-ttft-ms': { type: 'string' },
      'tts-ttfb-ms': { type: 'string' },
      'turn-detection': { type: 'string' },
      'idle-processes': { type: 'string' },
      'cutoff-turns': { type: 'string' },
      'budget-min': { type: 'string' },
      'mn-requests': { type: 'string' },
      'mn-copies': { type: 'string' },
      'mn-capacity': { type: 'string' },
      'mn-store': { type: 'string' },
      'drain-budget-min': { type: 'string' },
      'overload-rate': { type: 'string' },
      'overload-seconds': { type: 'string' },
      'overload-capacity': { type: 'string' },
      'frame-sizes': { type: 'string' },
      'frame-rounds': { type: 'string' },
      'frame-turns': { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const steps = (values.density ?? '5,10,20,30,40')
    .split(',')
    .map((s) => int('density', s.trim(), 0, 2));
  const frameSizes = [
    ...new Set([
      10,
      ...(values['frame-sizes'] ?? '10,20,40,50')
        .split(',')
        .map((s) => int('frame-sizes', s.trim(), 0, 10)),
    ]),
  ].sort((a, b) => a - b);
  for (const f of frameSizes) {
    if (f % 10 !== 0 || f > 100)
      throw new Error(`--frame-sizes: expected multiples of 10 up to 100, got ${f}`);
  }
  const td = values['turn-detection'] ?? 'vad';
  if (td !== 'vad' && td !== 'stt' && td !== 'model') {
    throw new Error(`--turn-detection: expected vad, stt or model, got ${td}`);
  }
  const mnStore = values['mn-store'] ?? 'indexed';
  if (mnStore !== 'indexed' && mnStore !== 'sqlite') {
    throw new Error(`--mn-store: expected indexed or sqlite, got ${mnStore}`);
  }
  const only = new Set((values.only ?? DEFAULT_PHASES.join(',')).split(',').map((s) => s.trim()));
  for (const p of only) {
    if (!(PHASES as readonly string[]).includes(p)) {
      throw new Error(`--only: unknown phase ${p} (phases: ${PHASES.join(', ')})`);
    }
  }
  const budgetMin = Number(values['budget-min'] ?? '13.75');
  if (!(budgetMin > 0)) throw new Error('--budget-min: expected minutes > 0');
  return {
    turns: int('turns', values.turns, 32, 1),
    densitySteps: [...new Set(steps)].sort((a, b) => a - b),
    densitySamples: int('density-samples', values['density-samples'], 30, 1),
    memorySessions: int('memory-sessions', values['memory-sessions'], 100, 1),
    buildSamples: int('build-samples', values['build-samples'], 3, 1),
    burst: int('burst', values.burst, 9, 1),
    burstCapacity: int('burst-capacity', values['burst-capacity'], 3, 1),
    burstHoldMs: int('burst-hold-ms', values['burst-hold-ms'], 2000),
    sttFinalMs: int('stt-final-ms', values['stt-final-ms'], 150, 10),
    llmTtftMs: int('llm-ttft-ms', values['llm-ttft-ms'], 250),
    ttsTtfbMs: int('tts-ttfb-ms', values['tts-ttfb-ms'], 150),
    turnDetection: td,
    idleProcesses: int('idle-processes', values['idle-processes'], 1, 1),
    cutoffTurns: int('cutoff-turns', values['cutoff-turns'], 6, 2),
    budgetMs: budgetMin * 60_000,
    mnRequests: int('mn-requests', values['mn-requests'], 1000, 1),
    mnCopies: int('mn-copies', values['mn-copies'], 3, 1),
    mnCapacity: int('mn-capacity', values['mn-capacity'], 80, 2),
    mnStore,
    drainBudgetMs: int('drain-budget-min', values['drain-budget-min'], 90, 1) * 60_000,
    overloadRate: int('overload-rate', values['overload-rate'], 200, 1),
    overloadSeconds: int('overload-seconds', values['overload-seconds'], 60, 1),
    overloadCapacity: int('overload-capacity', values['overload-capacity'], 10, 2),
    frameSizes,
    frameRounds: int('frame-rounds', values['frame-rounds'], 3, 1),
    frameTurns: int('frame-turns', values['frame-turns'], 3, 1),
    only,
    outDir: values.out ?? 'bench/results',
  };
}
