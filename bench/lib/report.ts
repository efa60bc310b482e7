/**
 * The bench's results as JSON (everything) and Markdown (the tables a reader needs), written to
 * the git-ignored results folder as `<timestamp>.{json,md}` and `latest.{json,md}`.
 */
import type { MultinodeResult } from '../phases/multinode.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildResult, StartSample } from '../phases/build.ts';
import type { BurstResult } from '../phases/burst.ts';
import type { DensityResult } from '../phases/density.ts';
import type { FailedStep } from './steps.ts';
import { slowestArrival, type JoinResult } from '../phases/join.ts';
import type { TurnsResult } from '../phases/turns.ts';
import type { FramesResult } from '../phases/frames.ts';
import type { LatencyResult } from '../phases/latency.ts';
import type { MemoryResult } from '../phases/memory.ts';
import type { DurabilityResult } from './durability.ts';
import type { MachineInfo } from './procs.ts';
import type { Summary } from './stats.ts';
import { formatApiResult, type ApiBenchResult } from '../phases/api.ts';

export interface BenchSettings {
  providerLatencies: { sttFinalMs: number; llmTtftMs: number; ttsTtfbMs: number };
  providers: { stt: string; llm: string; tts: string };
  turnDetection: string;
  vadMinSilenceMs: number;
  endpointing: { minDelayMs: number; maxDelayMs: number };
  preemptiveGeneration: boolean;
  preemptiveTts: boolean;
  patientReply: string;
}

export interface GoalRow {
  metric: string;
  measured: string;
  target: string;
  met: boolean | undefined;
}

export interface BenchReport {
  startedAt: string;
  wallMs: number;
  command: string;
  machine: MachineInfo;
  loadAverageAtEnd: number;
  settings: BenchSettings;
  build?: BuildResult;
  latency?: LatencyResult;
  join?: JoinResult;
  density?: DensityResult;
  burst?: BurstResult;
  memory?: MemoryResult;
  api?: ApiBenchResult;
  multinode?: MultinodeResult;
  turns?: TurnsResult;
  frames?: FramesResult;
  durability: { latencySession?: DurabilityResult; densitySessions?: DurabilityResult };
  goals: GoalRow[];
  /** Steps (and phases) that threw: recorded with why; the phase stopped there. */
  failedSteps: FailedStep[];
  notes: string[];
}

const ms = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '–' : `${Math.round(x)} ms`;
const num = (x: number | undefined, d = 2) =>
  x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d);
const mb = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '–' : `${Math.round(x)} MB`;
const pct = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '–' : `${Math.round(x * 100)} %`;

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

const sumRow = (label: string, s: Summary) => [
  label,
  s.n,
  ms(s.median),
  ms(s.p95),
  ms(s.min),
  ms(s.max),
];

export function goalsOf(r: Omit<BenchReport, 'goals'>): GoalRow[] {
  const rows: GoalRow[] = [];
  const l = r.latency;
  if (l) {
    rows.push(
      {
        metric: 'voice-to-voice median',
        measured: `${ms(l.ours.v2v.median)} (bare ${ms(l.bare.v2v.median)})`,
        target: '≤ 600 ms (typical 500–800 ms; fastest < 500 ms)',
        met: l.ours.v2v.median <= 600,
      },
      {
        metric: 'voice-to-voice p95',
        measured: `${ms(l.ours.v2v.p95)} (bare ${ms(l.bare.v2v.p95)})`,
        target: '≤ 900 ms',
        met: l.ours.v2v.p95 <= 900,
      },
      {
        metric: 'overhead ratio (ours / bare, median of per-turn ratios)',
        measured: `${num(l.pairRatios.median, 3)} (ratio of medians ${num(l.ratioOfMedians, 3)}, of p95s ${num(l.ratioOfP95s, 3)})`,
        target: '≤ 1.05',
        met: l.pairRatios.median <= 1.05,
      },
    );
  }
  const t = r.turns;
  if (t) {
    const base = t.settings.find((x) => x.name === 'default');
    const chosen = t.settings.find((x) => x.name === t.chosen);
    const rate = (x: { cutOffs: number; pausedTurns: number }) => `${x.cutOffs}/${x.pausedTurns}`;
    rows.push({
      metric: 'cut-off rate (replies before a pausing patient finished)',
      measured: base
        ? `default ${rate(base)} at ${ms(base.v2vMedianMs)}; quickest as safe: ${chosen ? `${chosen.name} ${rate(chosen)} at ${ms(chosen.v2vMedianMs)}` : 'none measured'}`
        : 'the default setting was not measured',
      target: 'no worse than the defaults, at a lower voice-to-voice',
      met: chosen !== undefined && base !== undefined && chosen.name !== 'default',
    });
  }
  const d = r.density;
  if (d) {
    const first = d.steps[0];
    rows.push({
      metric: 'concurrent sessions on this machine',
      measured:
        `${d.maxPassing} pass (${d.stoppedBecause})` +
        (first
          ? `; ${num(first.cpu.workerCores / first.sessions)} worker cores per session at N=${first.sessions}`
          : ''),
      target: `≥ 20 on 2 cores (reference ~25 per 4 cores)`,
      met: d.maxPassing >= 20,
    });
  }
  const densest = d?.steps.filter((x) => x.agent === 'ours').at(-1);
  if (densest && Number.isFinite(densest.pssPerSessionMb)) {
    rows.push({
      metric: 'PSS per session (group PSS over the idle worker, busiest sample)',
      measured: `${num(densest.pssPerSessionMb, 0)} MB at N=${densest.sessions} (RSS ${num(densest.rssPerSessionMb, 0)} MB; job PSS ${num(densest.jobPssMb, 0)} MB)`,
      target: '≤ 150 MB',
      met: densest.pssPerSessionMb <= 150,
    });
  }
  if (r.join?.arrivals.ours.length) {
    const worst = slowestArrival(r.join.arrivals.ours);
    const shown = (x: number) => (Number.isFinite(x) ? ms(x) : 'never');
    rows.push({
      metric: `${r.join.arrivals.count} requests arriving together: slowest agent joined`,
      measured: `${shown(worst)} (bare ${shown(slowestArrival(r.join.arrivals.bare))})`,
      target: '≤ 1.5 s',
      met: worst <= 1500,
    });
  }
  const m = r.memory;
  if (m) {
    rows.push(
      {
        metric: 'dispatch publish → agent joined p95 (warm pool)',
        measured: `${ms(m.dispatch.publishToJoined.p95)} (median ${ms(m.dispatch.publishToJoined.median)}, n=${m.dispatch.publishToJoined.n})`,
        target: '≤ 500 ms',
        met: m.dispatch.publishToJoined.p95 <= 500,
      },
      {
        metric: 'memory growth (worker + inference process, after 20 warm-up sessions)',
        measured: `${num(m.growthMbPer100, 1)} MB per 100 sessions (${m.completed} sessions; last 10 minus 20–29: ${num(m.lateMinusEarlyMb, 1)} MB)`,
        target: 'no growth',
        // Allocator noise is a few MB either way; a leak of 100 KB per session shows as 10.
        met: m.growthMbPer100 < 10,
      },
    );
  }
  const b = r.burst;
  if (b) {
    rows.push({
      metric: `burst of ${b.published} over capacity ${b.capacity}: lost / duplicated`,
      measured: `${b.lost} lost, ${b.duplicated} duplicated (${b.placed} placed, ${b.failed} failed)`,
      target: '0 lost, 0 duplicated',
      met: b.lost === 0 && b.duplicated === 0,
    });
  }
  const du = r.durability.latencySession ?? r.durability.densitySessions;
  if (du) {
    rows.push({
      metric: 'transcript durability p95 (utterance final → Mongo ack)',
      measured: `≤ ${ms(du.p95UpperBound)} (median session p95 ${ms(du.p95MedianSession)})`,
      target: '≤ 50 ms',
      met: du.p95UpperBound <= 50,
    });
  }
  if (r.api) {
    rows.push({
      metric: `API read GET /v1/sessions/:id (${r.api.connections} connections)`,
      measured: `${Math.round(r.api.read.ours.rps)} req/s, p99 ${ms(r.api.read.ours.p99Ms)} (bare ${Math.round(r.api.read.bare.rps)} req/s)`,
      target: '≥ 1000 req/s, p99 < 200 ms',
      met: r.api.goal.met,
    });
  }
  return rows;
}

export function markdown(r: BenchReport): string {
  const out: string[] = [];
  out.push(`# VoiceCare bench — ${r.startedAt}`, '');
  out.push(
    `\`${r.command}\` · wall time ${(r.wallMs / 60_000).toFixed(1)} min · ` +
      `${r.machine.cores} cores (${r.machine.cpuModel}) · ${r.machine.memoryGb} GB · Node ${r.machine.node} · ` +
      `Linux ${r.machine.kernel} · load average at start ${r.machine.loadAverageAtStart.map((x) => x.toFixed(2)).join(' / ')}, at end ${r.loadAverageAtEnd.toFixed(2)}`,
    '',
  );
  const s = r.settings;
  out.push(
    `Stand-ins: STT final ${s.providerLatencies.sttFinalMs} ms after end of speech, LLM first token ${s.providerLatencies.llmTtftMs} ms, ` +
      `TTS first byte ${s.providerLatencies.ttsTtfbMs} ms (${s.providers.stt} / ${s.providers.llm} / ${s.providers.tts} plugins). ` +
      `Turn detection \`${s.turnDetection}\`, VAD min silence ${s.vadMinSilenceMs} ms, endpointing ${s.endpointing.minDelayMs}–${s.endpointing.maxDelayMs} ms, ` +
      `preemptive generation ${s.preemptiveGeneration ? 'on' : 'off'}, preemptive TTS ${s.preemptiveTts ? 'on' : 'off'}. Agent reply: "${s.patientReply}".`,
    '',
  );

  out.push('## Goals and reference points', '');
  out.push(
    table(
      ['metric', 'measured', 'goal / reference', 'met'],
      r.goals.map((g) => [
        g.metric,
        g.measured,
        g.target,
        g.met === undefined ? '–' : g.met ? 'yes' : '**no**',
      ]),
    ),
    '',
  );

  const l = r.latency;
  if (l) {
    out.push('## Voice-to-voice: ours and the bare framework, side by side', '');
    out.push(
      table(
        ['agent', 'turns', 'median', 'p95', 'min', 'max'],
        [sumRow('ours', l.ours.v2v), sumRow('bare @livekit/agents', l.bare.v2v)],
      ),
      '',
    );
    out.push(
      table(
        ['ratio ours / bare', 'value'],
        [
          ['median of per-turn ratios', num(l.pairRatios.median, 3)],
          ['p95 of per-turn ratios', num(l.pairRatios.p95, 3)],
          ['ratio of medians', num(l.ratioOfMedians, 3)],
          ['ratio of p95s', num(l.ratioOfP95s, 3)],
          [
            'worker CPU over the phase',
            `${num(l.cpuRatio, 2)} (${num(l.ours.cpu.workerCores, 2)} vs ${num(l.bare.cpu.workerCores, 2)} cores)`,
          ],
        ],
      ),
      '',
    );
    out.push(
      `Warm-up turn (not counted): ours ${ms(l.ours.warmupMs)}, bare ${ms(l.bare.warmupMs)}. ` +
        `Turns without a reply: ours ${l.ours.failures}, bare ${l.bare.failures}. ` +
        `Silent gaps inside replies: ours ${l.ours.frames.dropouts}, bare ${l.bare.frames.dropouts}; ` +
        `late frames (> 40 ms apart): ours ${l.ours.frames.lateFrames}, bare ${l.bare.frames.lateFrames}. ` +
        `Phase wall time ${(l.wallMs / 1000).toFixed(0)} s; machine CPU ${pct(l.ours.cpu.machineBusy)}.`,
      '',
    );
    const bd = l.breakdown;
    out.push('### Where the time goes (our turns, medians)', '');
    out.push(
      table(
        ['stage', 'ms', 'measured by'],
        [
          [
            'patient → agent: end of speech through LiveKit',
            ms(l.transportEnd.median),
            'two bench patients, no agent',
          ],
          [
            'end of speech → final transcript',
            ms(bd.transcriptionDelayMs),
            'framework metrics (agent clock)',
          ],
          [
            'end of speech → turn committed (VAD silence + endpointing)',
            ms(bd.endOfUtteranceMs),
            'framework metrics',
          ],
          ['LLM first token (from request)', ms(bd.llmTtftMs), 'framework metrics'],
          ['TTS first byte (from request)', ms(bd.ttsTtfbMs), 'framework metrics'],
          [
            'end of speech → first reply frame handed to WebRTC',
            ms(bd.endToEndMs),
            'framework metrics',
          ],
          [
            'agent → patient: a talk spurt through LiveKit',
            ms(l.transportOnset.median),
            'two bench patients, no agent',
          ],
          ['**voice-to-voice, patient side**', `**${ms(l.ours.v2v.median)}**`, 'bench patient'],
          [
            'unaccounted (v2v − transport both ways − agent-side end-to-end)',
            ms(
              l.ours.v2v.median -
                l.transportEnd.median -
                l.transportOnset.median -
                (bd.endToEndMs ?? NaN),
            ),
            'difference',
          ],
        ],
      ),
      '',
    );
  }

  const d = r.density;
  if (d) {
    out.push('## Density (one worker, concurrent sessions)', '');
    out.push(
      `Baseline p95 (one session, from the latency phase): ours ${ms(d.baselineP95)}${l ? `, bare ${ms(l.bare.v2v.p95)}` : ''}. ` +
        "A step fails when p95 > 1.10 × the same agent's single-session p95, a turn gets no reply, silent gaps inside replies exceed the single-session rate by 5 % of replies, or the worker warns that VAD is slower than real time. " +
        `Largest N passing: ${d.maxPassing}. Stopped: ${d.stoppedBecause}.`,
      '',
    );
    const rows = [...d.steps, ...(d.bare ? [d.bare] : [])];
    out.push(
      table(
        [
          'agent',
          'N',
          'turns',
          'median',
          'p95',
          'p95 / base',
          'no reply',
          'gaps in replies',
          'late frames',
          'machine CPU',
          'worker cores',
          'cores / session',
          'bench cores',
          'bench loop delay p99 / max',
          'RSS / session',
          'PSS / session',
          'job RSS',
          'job PSS',
          'main PSS',
          'VAD slow warn.',
          'loop blocked warn.',
          'start-up',
          'verdict',
        ],
        rows.map((st) => [
          st.agent,
          st.sessions,
          st.replies,
          ms(st.v2v.median),
          ms(st.v2v.p95),
          num(st.p95VsBaseline),
          st.failures,
          st.frames.dropouts,
          st.frames.lateFrames,
          pct(st.cpu.machineBusy),
          num(st.cpu.workerCores),
          num(st.cpu.workerCores / st.sessions),
          num(st.cpu.benchCores),
          `${ms(st.benchLoopDelayMs.p99)} / ${ms(st.benchLoopDelayMs.max)}`,
          mb(st.rssPerSessionMb),
          mb(st.pssPerSessionMb),
          mb(st.jobRssMb),
          mb(st.jobPssMb),
          mb(st.mainPssMb),
          st.vadSlowerWarnings,
          st.loopBlockedWarnings,
          `${(st.startupMs / 1000).toFixed(0)} s`,
          st.passed ? 'pass' : `fail: ${st.why}`,
        ]),
      ),
      '',
    );
  }

  const t = r.turns;
  if (t) {
    out.push(
      '## Turns: voice-to-voice against cut-off rate',
      '',
      `Per setting, one session on a worker started with it: ${t.turnsPerSetting} plain turns (the first one a warm-up) and ${t.turnsPerSetting} sentences with 300–800 ms pauses inside ("i take… um… two of the white ones"). A cut-off is a reply that reached the patient before the sentence was finished.`,
      '',
      table(
        [
          'setting',
          'VAD silence',
          'endpointing min delay',
          'v2v median',
          'v2v p95',
          'cut off',
          'failed turns',
        ],
        t.settings.map((x) => [
          x.name === t.chosen ? `**${x.name}** (chosen)` : x.name,
          `${x.vadMinSilenceMs} ms`,
          `${x.endpointingMinDelayMs} ms`,
          ms(x.v2vMedianMs),
          ms(x.v2vP95Ms),
          `${x.cutOffs}/${x.pausedTurns}`,
          x.failures.length ? `${x.failures.length}: ${x.failures.slice(0, 2).join('; ')}` : '0',
        ]),
      ),
      '',
    );
  }
  const fr = r.frames;
  if (fr) {
    out.push(
      '## Room input frame size (AGENT_INPUT_FRAME_MS)',
      '',
      `One worker per setting; in ${fr.rounds} rounds (order reversed every other round) each gets a fresh call in turn, greeted and warmed up, that talks for ${fr.turnsPerWindow} turns and a barge-in while its job process's CPU is measured, one call at a time. CPU is seconds per minute of that session (listening: the same call for 10 s with the patient silent); the ratio is against the 10 ms window of the same round. Barge-in: the patient's first speech frame over a reply to the agent's audio going quiet at the patient. Machine busy (median over windows): ${pct(fr.machineBusy)}.`,
      '',
      table(
        [
          'setting',
          'windows',
          'CPU s/min median',
          'min–max',
          'ratio to 10 ms',
          'listening CPU s/min',
          'v2v median',
          'v2v p95',
          'barge-in median',
          'barge-in max',
          'failures',
        ],
        fr.settings.map((x) => [
          x.name,
          x.cpu.n,
          num(x.cpu.median),
          `${num(x.cpu.min)}–${num(x.cpu.max)}`,
          num(x.ratioTo10.median),
          num(x.listen.median),
          ms(x.v2v.median),
          ms(x.v2v.p95),
          ms(x.bargeIn.median),
          ms(x.bargeIn.max),
          x.failures.length ? `${x.failures.length}: ${x.failures.slice(0, 2).join('; ')}` : '0',
        ]),
      ),
      '',
    );
  }
  const m = r.memory;
  const b = r.burst;
  if (m || b || r.join) out.push('## Dispatch', '');
  if (r.join) {
    out.push(
      table(
        ['createDispatch → agent joined (warm idle process)', 'n', 'median', 'p95', 'min', 'max'],
        [sumRow('ours', r.join.ours), sumRow('bare @livekit/agents', r.join.bare)],
      ),
      '',
    );
    const a = r.join.arrivals;
    const times = (round: (number | null)[]) =>
      round.map((t) => (t === null ? 'never' : `${Math.round(t)}`)).join(' / ');
    out.push(
      table(
        [
          `${a.count} dispatches at once → each agent joined (ms, per round)`,
          'ours',
          'bare @livekit/agents',
        ],
        a.ours.map((round, i) => [
          `round ${i + 1}`,
          times(round),
          a.bare[i] ? times(a.bare[i]) : '–',
        ]),
      ),
      '',
    );
  }
  if (m) {
    out.push(
      table(
        ['warm pool, one request at a time', 'n', 'median', 'p95', 'min', 'max'],
        [
          sumRow(
            'publish → agent joined (LiveKit join time, every session)',
            m.dispatch.publishToJoined,
          ),
          sumRow(
            'the same, as the dispatcher records it (`placed` settlements)',
            m.dispatch.dispatcherPublishToJoined,
          ),
          sumRow('publish → dispatcher received', m.dispatch.queued),
          sumRow('createDispatch → agent joined', m.dispatch.dispatchToJoined),
          sumRow(
            'placed → greeting heard (the patient joins after placement)',
            m.dispatch.joinedToGreeting,
          ),
        ],
      ),
      '',
    );
    if (m.anomalies.length) {
      out.push(
        `Placements whose delivery did not settle as \`placed\` (the session was placed all the same): ${m.anomalies.length} of ${m.completed + m.failed} — ${m.anomalies.slice(0, 5).join('; ')}${m.anomalies.length > 5 ? '; …' : ''}`,
        '',
      );
    }
  }
  if (b) {
    out.push(
      table(
        ['burst', 'value'],
        [
          ['published at once', b.published],
          ['worker capacity (AGENT_MAX_JOBS)', b.capacity],
          ['placed (session reached `active`)', b.placed],
          [
            'failed with a recorded reason',
            `${b.failed}${b.failureReasons.length ? ` (${[...new Set(b.failureReasons)].join('; ')})` : ''}`,
          ],
          ['lost', b.lost],
          ['duplicated', b.duplicated],
          [
            'placement attempts per placed session, median / max',
            `${num(b.attempts.median, 0)} / ${num(b.attempts.max, 0)}`,
          ],
          ['placed, but the placing delivery settled `duplicate`', b.placedButSettledDuplicate],
          ['stale jobs that left without talking', b.staleJobs],
          [
            'publish → session active, median / p95 / max',
            `${ms(b.publishToActive.median)} / ${ms(b.publishToActive.p95)} / ${ms(b.publishToActive.max)}`,
          ],
          [
            'dispatcher settlements',
            Object.entries(b.outcomes)
              .map(([k, v]) => `${k} ${v}`)
              .join(', '),
          ],
          ['wall time', `${(b.wallMs / 1000).toFixed(0)} s`],
        ],
      ),
      '',
    );
  }

  const du = r.durability;
  if (du.latencySession || du.densitySessions) {
    out.push(
      '## Transcript durability (utterance final → MongoDB ack, measured in the worker)',
      '',
    );
    const row = (label: string, x: DurabilityResult | undefined) =>
      x
        ? [
            label,
            x.sessions,
            x.utterances,
            ms(x.medianMedianSession),
            ms(x.p95MedianSession),
            ms(x.p95UpperBound),
            ms(x.maxMs),
            `${ms(x.writeMedianMs)} / ${ms(x.writeP95UpperBound)}`,
            x.failedAttempts,
          ]
        : [label, 0, 0, '–', '–', '–', '–', '–', '–'];
    out.push(
      table(
        [
          'sessions',
          'n',
          'utterances',
          'median',
          'p95 (median session)',
          'p95 (upper bound)',
          'max',
          'one insertMany: median / p95',
          'failed writes',
        ],
        [
          row('latency phase (1 session)', du.latencySession),
          row('density phase (under load)', du.densitySessions),
        ],
      ),
      '',
    );
  }

  if (r.build) {
    const b = r.build;
    out.push('## Production build against tsx (start-up, memory)', '');
    out.push(
      b.buildError
        ? `The build failed: ${b.buildError}`
        : `\`npm run build\` took ${ms(b.buildMs)}. Medians of ${b.tsx.samples.length} (tsx) and ${b.compiled.samples.length} (compiled) start-ups, alternating. PSS splits shared pages among the processes mapping them.`,
      '',
    );
    const rows: [string, keyof StartSample, (x: number | undefined) => string][] = [
      ['dispatcher: spawn → /readyz', 'dispatcherReadyMs', ms],
      ['worker: spawn → registered (health 200)', 'workerRegisteredMs', ms],
      ['worker: spawn → idle job prewarmed', 'idleJobReadyMs', ms],
      ['worker main process RSS', 'mainRssMb', mb],
      ['worker main process PSS', 'mainPssMb', mb],
      ['idle job process RSS', 'jobRssMb', mb],
      ['idle job process PSS', 'jobPssMb', mb],
    ];
    out.push(
      table(
        ['', 'tsx', 'compiled', 'compiled / tsx'],
        rows.map(([label, k, f]) => [
          label,
          f(b.tsx.median?.[k]),
          f(b.compiled.median?.[k]),
          num(b.ratios[k], 2),
        ]),
      ),
      '',
    );
    for (const f of [...b.tsx.failures, ...b.compiled.failures]) out.push(`- failed step: ${f}`);
    out.push('');
  }

  if (m) {
    out.push('## Memory (RSS after each sequential session)', '');
    out.push(
      `${m.completed} sessions completed, ${m.failed} failed (${m.stoppedBecause}); ${(m.perSessionMs / 1000).toFixed(1)} s per session. ` +
        `Long-lived processes (worker + inference): growth ${num(m.growthMbPer100, 1)} MB per 100 sessions after the first 20 (least squares; ${num(m.growthAllMbPer100, 1)} with them), ` +
        `last 10 minus sessions 20–29: ${num(m.lateMinusEarlyMb, 1)} MB. Job processes are one-shot (one per session), so they cannot accumulate.`,
      '',
    );
    const every = Math.max(1, Math.floor(m.samples.length / 12));
    out.push(
      table(
        ['after session', 'worker main', 'inference', 'idle job processes', 'group total'],
        m.samples
          .filter((_, i) => i % every === 0 || i === m.samples.length - 1)
          .map((x) => [
            x.after,
            mb(x.mainMb),
            mb(x.inferenceMb),
            `${x.idleJobs} (${mb(x.idleJobsMb)})`,
            mb(x.totalMb),
          ]),
      ),
      '',
    );
  }

  if (r.api) out.push('## Session API', '', ...formatApiResult(r.api), '');

  if (r.multinode) {
    const m = r.multinode;
    const row = (name: string, f: NonNullable<MultinodeResult['copies']>) => [
      name,
      f.requests,
      f.deliveries,
      f.sessions,
      f.duplicated,
      f.lost,
      f.failed,
      Object.entries(f.rejected ?? {})
        .map(([code, n]) => `${n} ${code}`)
        .join(', ') || '0',
      f.unplaced ?? 0,
      ms(f.placementP50Ms),
      ms(f.placementP99Ms),
      ms(f.wallMs),
    ];
    const rows = [
      ...(m.copies ? [row('copies', m.copies)] : []),
      ...(m.overload ? [row('overload', m.overload)] : []),
    ];
    out.push(
      '## Multi-node placement (2 LiveKit nodes, 2 dispatchers)',
      '',
      table(
        [
          'run',
          'requests',
          'deliveries',
          'sessions',
          'dup',
          'lost',
          'failed',
          'rejected (announced)',
          'unplaced (still queued)',
          'p50',
          'p99',
          'wall',
        ],
        rows,
      ),
      '',
    );
    if (m.overload) {
      const o = m.overload;
      out.push(
        `Overload: peak backlog ${o.peakBacklog}, drained ${ms(o.drainMs)} after publishing ended; ` +
          `dispatcher RSS start ${o.rssStartMb.join('/')} MB, peak ${o.rssPeakMb.join('/')} MB, ` +
          `end ${o.rssEndMb.join('/')} MB. Store: ${m.store ?? 'sqlite'}.`,
        '',
        `Backlog curve (t s: backlog): ${o.samples
          .filter((_, i) => i % 10 === 0)
          .map((x) => `${x.tS}:${x.backlog}`)
          .join(' ')}`,
        '',
      );
    }
    if (m.errors.length) out.push(...m.errors.map((e) => `- step failed: ${e}`), '');
  }

  // Older results files have no failedSteps.
  const failed = r.failedSteps ?? [];
  if (failed.length) {
    out.push(
      '## Failed steps',
      '',
      'Each stopped its phase; what the phase measured before it is above.',
      '',
      table(
        ['phase', 'step', 'at', 'reason'],
        failed.map((f) => [
          f.phase,
          f.step,
          `${(f.atMs / 1000).toFixed(0)} s`,
          f.reason.replace(/\|/g, '\\|'),
        ]),
      ),
      '',
    );
  }
  if (r.notes.length) {
    out.push('## Notes from this run', '', ...r.notes.map((n) => `- ${n}`), '');
  }
  return out.join('\n');
}

export async function writeReport(
  dir: string,
  r: BenchReport,
): Promise<{ json: string; md: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-');
  const json = join(dir, `${stamp}.json`);
  const md = join(dir, `${stamp}.md`);
  const text = markdown(r);
  await writeFile(json, `${JSON.stringify(r, null, 2)}\n`);
  await writeFile(md, `${text}\n`);
  await writeFile(join(dir, 'latest.json'), `${JSON.stringify(r, null, 2)}\n`);
  await writeFile(join(dir, 'latest.md'), `${text}\n`);
  return { json, md };
}
