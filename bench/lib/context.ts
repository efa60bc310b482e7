/**
 * What every phase shares: the harness (stand-ins with the bench's latencies, a fresh MongoDB
 * database with the profile published, an events topic), the worker environment, the time
 * budget, and helpers that start a session the way the dispatcher would.
 */
import { AgentDispatchClient } from 'livekit-server-sdk';
import { AgentHarness } from '../../tests/support/agent-harness.ts';
import { uniqueName } from '../../tests/support/env.ts';
import { SimulatedPatient } from '../../sim/patient.ts';
import { BARE_GREETING } from '../bare-agent.ts';
import type { BenchOptions } from '../options.ts';
import type { BenchWorker } from './workers.ts';
import { patientIdentity } from '../../sessions/participants.ts';
import { StepRecorder } from './steps.ts';

/** What the LLM stand-in answers every turn: one word, so any silence inside it is a dropout. */
export const REPLY = 'Understood.';
/** What the STT stand-in "hears" in every speech segment, whoever is speaking. */
export const HEARD = 'yes that is fine';

export interface StartedBenchSession {
  sessionId: string;
  room: string;
  patient: SimulatedPatient;
}

export class BenchContext {
  readonly startedAt = performance.now();
  readonly notes: string[] = [];
  /** Time the running phase must leave for the phases after it. */
  reserveMs = 0;
  /** Every phase step runs through this: a failed step is recorded, never thrown out of main. */
  readonly steps = new StepRecorder({
    onFailure: (f) => this.say(`FAILED ${f.phase} ${f.step}: ${f.reason}`),
  });
  #dispatch: AgentDispatchClient;

  private constructor(
    readonly opts: BenchOptions,
    readonly h: AgentHarness,
    /** Environment for every worker the bench starts (stand-ins, DB, turn handling). */
    readonly env: Record<string, string>,
  ) {
    this.#dispatch = new AgentDispatchClient(
      h.cfg.livekit.url.replace(/^ws/, 'http'),
      h.cfg.livekit.apiKey,
      h.cfg.livekit.apiSecret,
    );
  }

  static async create(opts: BenchOptions): Promise<BenchContext> {
    // The Deepgram stand-in calls a segment over after `endSilenceMs` of quiet audio, then waits
    // `finalDelayMs`: together they are "STT final N ms after end of speech". 100 ms of silence
    // keeps each one-clause phrase one segment (espeak-ng's gaps inside a clause are shorter).
    const endSilenceMs = Math.min(100, Math.max(10, opts.sttFinalMs - 10));
    const workerEnv = {
      STT_PROVIDERS: 'deepgram',
      LLM_PROVIDERS: 'openai',
      TTS_PROVIDERS: 'elevenlabs',
      AGENT_TURN_DETECTION: opts.turnDetection,
      AGENT_CPU_LOAD: 'false',
      AGENT_MAX_JOBS: '0',
      // One idle process by default, as the test harness starts workers; the bench's own config
      // (which counts idle processes to know when a worker is quiet) must say the same, not the
      // per-core default. `--idle-processes` sets both.
      AGENT_NUM_IDLE_PROCESSES: String(opts.idleProcesses),
      // 'info' for the transcript sink stats line and the session-start lines the bench counts.
      LOG_LEVEL: 'info',
    };
    const h = await AgentHarness.start({
      standins: {
        deepgram: {
          defaultTranscript: HEARD,
          endSilenceMs,
          finalDelayMs: opts.sttFinalMs - endSilenceMs,
        },
        openai: { defaultReply: REPLY, ttftMs: opts.llmTtftMs, ttsTtfbMs: opts.ttsTtfbMs },
        elevenlabs: { ttfbMs: opts.ttsTtfbMs },
      },
      workerEnv,
      profiles: [{ file: 'intake.yaml', override: { firstMessage: BARE_GREETING } }],
    });
    return new BenchContext(opts, h, h.env);
  }

  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  remainingMs(): number {
    return this.opts.budgetMs - this.elapsedMs();
  }

  say(msg: string): void {
    const t = (this.elapsedMs() / 1000).toFixed(0).padStart(4);
    console.log(`[bench ${t}s] ${msg}`);
  }

  note(msg: string): void {
    this.notes.push(msg);
    this.say(`note: ${msg}`);
  }

  /** Claims a session in Mongo, puts a patient in a fresh room and dispatches our agent there. */
  async startOurs(worker: BenchWorker): Promise<StartedBenchSession> {
    const request = this.h.request();
    await this.h.sessions.claim(request, new Date());
    const room = `vc-${request.sessionId}`;
    const patient = await SimulatedPatient.join({
      livekit: this.h.cfg.livekit,
      room,
      identity: patientIdentity(request.sessionId),
    });
    await this.#dispatch.createDispatch(room, worker.agentName, {
      metadata: JSON.stringify(request),
    });
    return { sessionId: request.sessionId, room, patient };
  }

  /** The bare agent needs no claim and no metadata. */
  async startBare(worker: BenchWorker): Promise<StartedBenchSession> {
    const room = uniqueName('bare');
    const patient = await SimulatedPatient.join({ livekit: this.h.cfg.livekit, room });
    await this.#dispatch.createDispatch(room, worker.agentName, { metadata: '{}' });
    return { sessionId: room, room, patient };
  }

  async close(): Promise<void> {
    await this.h.close();
  }
}

/** Waits for the greeting to start and to finish. */
export async function waitGreeted(s: StartedBenchSession, timeoutMs = 60_000): Promise<void> {
  const first = await s.patient.waitForAgentSpeech({ after: 0, timeoutMs });
  await s.patient.waitForAgentSilence({ after: first.at, silenceMs: 400, timeoutMs: 20_000 });
}
