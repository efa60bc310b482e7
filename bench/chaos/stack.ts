/**
 * What every chaos scenario runs against: private FerretDB, Pub/Sub emulator and livekit-server
 * (so a fault never reaches the shared servers), the vendor stand-ins, one agent worker
 * (replaced when a scenario kills it), the real dispatcher (in process, its reaper made quick)
 * that places every call from a request on Pub/Sub exactly as in production, and a consumer on
 * the session-events topic that records what the care team would receive.
 *
 * Calls go through the dispatcher, not straight to LiveKit, because that is where production
 * recovers from a dispatch nobody took: livekit-server drops a job it has no worker for (a
 * worker still registering after a server restart, say), and only the dispatcher's join
 * deadline and redelivery place it again.
 */
import type { Message, Subscription } from '@google-cloud/pubsub';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDispatcher, type RunningDispatcher } from '../../dispatcher/index.ts';
import { createLogger } from '../../infra/logger.ts';
import { ensureSubscription, ensureTopic } from '../../infra/pubsub.ts';
import { patientIdentity } from '../../sessions/participants.ts';
import { TERMINAL_STATES, type SessionRecord, type SessionRequest } from '../../sessions/schema.ts';
import { SimulatedPatient } from '../../sim/patient.ts';
import { AgentHarness } from '../../tests/support/agent-harness.ts';
import type { AgentWorker } from '../../tests/support/agent-worker.ts';
import { testConfig, uniqueName } from '../../tests/support/env.ts';
import {
  startPrivateFerretDb,
  type PrivateFerretDb,
} from '../../tests/support/private-ferretdb.ts';
import {
  startPrivateLiveKit,
  startPrivatePubSub,
  type PrivateLiveKit,
  type PrivatePubSub,
} from './servers.ts';

/** What the LLM stand-in answers a turn the safety rules do not take. */
export const REPLY = 'Thank you, I have noted that.';
export const GREETING = 'Hi {{patient.displayName or "there"}}, is now a good time?';

export interface ReceivedEvent {
  type: string;
  sessionId: string | undefined;
  escalationId: string | undefined;
  at: number;
}

export interface StackOptions {
  /** Reaper: between sweeps, and how long an agent must be gone. @defaultValue 1000 / 3000 */
  reaperIntervalMs?: number;
  reaperAgentGoneMs?: number;
  /** Extra worker environment. */
  workerEnv?: Record<string, string>;
  say?: (line: string) => void;
  /** Print the workers' output (they log at `LOG_LEVEL`, 'error' unless workerEnv says). */
  echoWorkers?: boolean;
}

/** A consumer of the events topic that survives its emulator restarting (see {@link reattach}). */
class EventsConsumer {
  readonly received: ReceivedEvent[] = [];
  readonly errors: unknown[] = [];
  #sub: Subscription | undefined;
  readonly #name = uniqueName('chaos-care-team');

  constructor(private readonly h: AgentHarness) {}

  async attach(): Promise<void> {
    const sub = await ensureSubscription(this.h.pubsub, {
      topic: this.h.cfg.pubsub.eventsTopic,
      subscription: this.#name,
    });
    sub.on('error', (err: unknown) => this.errors.push(err));
    sub.on('message', (m: Message) => {
      let type = '';
      try {
        type = String((JSON.parse(m.data.toString()) as { type?: unknown }).type ?? '');
      } catch {
        type = 'unparseable';
      }
      this.received.push({
        type,
        sessionId: m.attributes['sessionId'],
        escalationId: m.attributes['escalationId'],
        at: Date.now(),
      });
      m.ack();
    });
    this.#sub = sub;
  }

  /**
   * After the emulator restarted: it keeps no topics or subscriptions (real Pub/Sub does), so
   * they are created again, as the deployment's infrastructure would have them.
   */
  async reattach(): Promise<void> {
    await this.#close();
    await this.attach();
  }

  async #close(): Promise<void> {
    const sub = this.#sub;
    this.#sub = undefined;
    if (!sub) return;
    sub.removeAllListeners('message');
    await Promise.race([
      sub.close().catch(() => undefined),
      new Promise((r) => setTimeout(r, 2000)),
    ]);
    sub.on('error', () => undefined);
  }

  async close(): Promise<void> {
    await this.#close();
    await this.h.pubsub
      .subscription(this.#name)
      .delete()
      .catch(() => undefined);
  }
}

/** Where session requests go, and the environment the dispatcher runs with. */
interface RequestLane {
  topic: string;
  subscription: string;
  deadLetterTopic: string;
  env: Record<string, string>;
}

/** How long a call may take to be placed: a restarted LiveKit can cost a join deadline. */
const PLACEMENT_TIMEOUT_MS = 120_000;

export class ChaosStack {
  worker: AgentWorker | undefined;
  readonly #retired: AgentWorker[] = [];
  readonly #patients: SimulatedPatient[] = [];
  #dispatcher: RunningDispatcher;

  private constructor(
    readonly h: AgentHarness,
    readonly ferret: PrivateFerretDb,
    readonly pubsub: PrivatePubSub,
    readonly livekit: PrivateLiveKit,
    readonly events: EventsConsumer,
    dispatcher: RunningDispatcher,
    readonly lane: RequestLane,
    readonly spoolDir: string,
    readonly say: (line: string) => void,
    readonly echoWorkers: boolean,
  ) {
    this.#dispatcher = dispatcher;
  }

  static async start(opts: StackOptions = {}): Promise<ChaosStack> {
    const say = opts.say ?? (() => undefined);
    const started: { stop(): Promise<void> }[] = [];
    try {
      const t0 = Date.now();
      const [ferret, pubsub, livekit] = await Promise.all([
        startPrivateFerretDb(30_000).then((s) => (started.push(s), s)),
        startPrivatePubSub('voicecare-local').then((s) => (started.push(s), s)),
        startPrivateLiveKit().then((s) => (started.push(s), s)),
      ]);
      say(
        `private servers up in ${Date.now() - t0} ms: livekit ${livekit.url}, pubsub ${pubsub.host}, ferretdb ${ferret.url}`,
      );
      const spoolDir = await mkdtemp(join(tmpdir(), 'vc-chaos-spool-'));
      const h = await AgentHarness.start({
        profiles: [{ file: 'intake.yaml', override: { firstMessage: GREETING } }],
        standins: { openai: { defaultReply: REPLY } },
        workerEnv: {
          LIVEKIT_URL: livekit.url,
          PUBSUB_EMULATOR_HOST: pubsub.host,
          MONGODB_URL: ferret.url,
          OUTBOX_SPOOL_DIR: spoolDir,
          OUTBOX_RELAY_INTERVAL_MS: '1000',
          OUTBOX_RELAY_MIN_AGE_MS: '3000',
          // A job process on a saturated 2-core machine can take tens of seconds to start.
          AGENT_INITIALIZE_PROCESS_TIMEOUT_MS: '60000',
          LOG_LEVEL: 'error',
          // The production bounds for silence (the shared test harness relaxes them for a
          // loaded box): chaos measures what a patient would hear.
          AGENT_LLM_HOLD_AFTER_MS: '1500',
          AGENT_TTS_FIRST_AUDIO_TIMEOUT_MS: '1000',
          AGENT_STT_WATCHDOG_MS: '1500',
          ...opts.workerEnv,
        },
      });
      started.push({ stop: () => h.close() });
      const events = new EventsConsumer(h);
      await events.attach();
      // The dispatcher as deployed, on this stack's servers, with its reaper made quick.
      const lane = {
        topic: uniqueName('chaos-requests'),
        subscription: uniqueName('chaos-requests-sub'),
        deadLetterTopic: uniqueName('chaos-dead'),
      };
      const dispatcherEnv = {
        ...h.env,
        AGENT_NAME: h.agentName,
        PUBSUB_REQUESTS_TOPIC: lane.topic,
        PUBSUB_REQUESTS_SUBSCRIPTION: lane.subscription,
        PUBSUB_DEAD_LETTER_TOPIC: lane.deadLetterTopic,
        DISPATCHER_HTTP_PORT: '0',
        DISPATCHER_REAPER_INTERVAL_MS: String(opts.reaperIntervalMs ?? 1000),
        DISPATCHER_REAPER_AGENT_GONE_MS: String(opts.reaperAgentGoneMs ?? 3000),
        LOG_LEVEL: 'error',
      };
      const dispatcher = await startDispatcher(dispatcherEnv);
      started.push({ stop: () => dispatcher.stop().then(() => undefined) });
      return new ChaosStack(
        h,
        ferret,
        pubsub,
        livekit,
        events,
        dispatcher,
        { ...lane, env: dispatcherEnv },
        spoolDir,
        say,
        opts.echoWorkers ?? false,
      );
    } catch (err) {
      await Promise.allSettled(started.reverse().map((s) => s.stop()));
      throw err;
    }
  }

  get dispatcher(): RunningDispatcher {
    return this.#dispatcher;
  }

  /**
   * Sends a session request as the backend does, waits for the dispatcher to place it (the
   * agent is in its room: `active`), and puts the patient in that room, as the patient page
   * does once the join API hands it a token.
   */
  async placeCall(
    request: SessionRequest = this.h.request(),
  ): Promise<{ request: SessionRequest; room: string; patient: SimulatedPatient }> {
    const topic = await ensureTopic(this.h.pubsub, this.lane.topic);
    await topic.publishMessage({ data: Buffer.from(JSON.stringify(request)) });
    const id = request.sessionId;
    const deadline = Date.now() + PLACEMENT_TIMEOUT_MS;
    let last: SessionRecord | undefined;
    for (;;) {
      last = (await this.h.sessions.get(id).catch(() => undefined)) ?? last;
      if (last?.state === 'active' && last.room) break;
      if ((last && TERMINAL_STATES.has(last.state)) || Date.now() > deadline) {
        throw new Error(
          `session ${id} was not placed within ${PLACEMENT_TIMEOUT_MS} ms: ${last?.state ?? 'no record'}${last?.failureCode ? ` (${last.failureCode})` : ''}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const patient = await SimulatedPatient.join({
      livekit: this.h.cfg.livekit,
      room: last.room,
      identity: patientIdentity(id),
    });
    this.#patients.push(patient);
    return { request, room: last.room, patient };
  }

  /**
   * After the emulator restarted with nothing in it: the topics and subscriptions are created
   * again (real Pub/Sub keeps them; the deployment's infrastructure owns them), and a
   * dispatcher whose subscription the client closed for good fails its liveness check and is
   * restarted, as the platform would restart it. Returns what was done.
   */
  async recoverFromPubSubRestart(): Promise<string> {
    await this.events.reattach();
    await ensureSubscription(this.h.pubsub, {
      topic: this.lane.topic,
      subscription: this.lane.subscription,
      deadLetterTopic: this.lane.deadLetterTopic,
    });
    if (this.#dispatcher.dispatcher.live()) return 'dispatcher stayed live';
    await this.#dispatcher.stop().catch(() => undefined);
    this.#dispatcher = await startDispatcher(this.lane.env);
    return 'dispatcher failed liveness and was restarted';
  }

  /** Starts a worker and waits until it has a warm idle process. */
  async startWorker(env: Record<string, string> = {}): Promise<AgentWorker> {
    const t0 = Date.now();
    const w = await this.h.startWorker(env, this.echoWorkers);
    this.worker = w;
    this.say(`worker up in ${Date.now() - t0} ms`);
    return w;
  }

  /** The worker is gone (killed, or exited): a new one takes its place. */
  async replaceWorker(env: Record<string, string> = {}): Promise<AgentWorker> {
    if (this.worker) this.#retired.push(this.worker);
    this.worker = undefined;
    return this.startWorker(env);
  }

  /** A worker that answers its health port; a dead one is replaced. */
  async ensureWorker(): Promise<AgentWorker> {
    const w = this.worker;
    if (w && w.proc.exitCode === null && w.proc.signalCode === null) return w;
    return this.replaceWorker();
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#patients.map((p) => p.leave()));
    await this.#dispatcher.stop().catch(() => undefined);
    await Promise.allSettled(
      [...this.#retired, ...(this.worker ? [this.worker] : [])].map((w) => w.stop(3000)),
    );
    // Resumed: a paused FerretDB would hang the harness's cleanup.
    this.ferret.resume();
    await this.events.close().catch(() => undefined);
    await this.h.close().catch(() => undefined);
    await Promise.allSettled([this.ferret.stop(), this.pubsub.stop(), this.livekit.stop()]);
    await rm(this.spoolDir, { recursive: true, force: true });
  }

  /** For a signal handler: kills what can be killed without waiting. */
  killNow(): void {
    for (const w of [...this.#retired, ...(this.worker ? [this.worker] : [])]) w.killHard();
    this.ferret.resume();
    this.pubsub.killNow();
    this.livekit.killNow();
  }
}

function startDispatcher(env: Record<string, string>): Promise<RunningDispatcher> {
  return runDispatcher(testConfig(env), {
    logger: createLogger({ level: 'fatal', service: 'chaos-dispatcher' }),
    processMetrics: false,
  });
}
