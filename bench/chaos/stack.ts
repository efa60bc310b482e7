/**
 * What every chaos scenario runs against: private FerretDB, Pub/Sub emulator and livekit-server
 * (so a fault never reaches the shared servers), the vendor stand-ins, one agent worker
 * (replaced when a scenario kills it), a reaper with short intervals as the dispatcher runs it,
 * and a consumer on the session-events topic that records what the care team would receive.
 */
import type { Message, Subscription } from '@google-cloud/pubsub';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoPlacementLeases } from '../../dispatcher/leases.ts';
import { LiveKitAgentRooms } from '../../dispatcher/livekit.ts';
import { Reaper } from '../../dispatcher/reaper.ts';
import { createLogger } from '../../infra/logger.ts';
import { ensureSubscription } from '../../infra/pubsub.ts';
import { PubSubEventPublisher } from '../../sessions/events.ts';
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

export class ChaosStack {
  worker: AgentWorker | undefined;
  readonly #retired: AgentWorker[] = [];

  private constructor(
    readonly h: AgentHarness,
    readonly ferret: PrivateFerretDb,
    readonly pubsub: PrivatePubSub,
    readonly livekit: PrivateLiveKit,
    readonly events: EventsConsumer,
    readonly reaper: Reaper,
    readonly spoolDir: string,
    readonly say: (line: string) => void,
    readonly echoWorkers: boolean,
  ) {}

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
      // The reaper as the dispatcher builds it, from the same config knobs, made quick.
      const reaperCfg = testConfig({
        ...h.env,
        DISPATCHER_REAPER_INTERVAL_MS: String(opts.reaperIntervalMs ?? 1000),
        DISPATCHER_REAPER_AGENT_GONE_MS: String(opts.reaperAgentGoneMs ?? 3000),
      }).dispatcher.reaper;
      const reaper = new Reaper({
        store: h.sessions,
        leases: new MongoPlacementLeases({ db: h.mongo.db }),
        rooms: new LiveKitAgentRooms(h.cfg.livekit),
        events: new PubSubEventPublisher({ topic: h.pubsub.topic(h.cfg.pubsub.eventsTopic) }),
        logger: createLogger({ level: 'fatal', service: 'chaos-reaper' }),
        ...reaperCfg,
      });
      reaper.start();
      return new ChaosStack(
        h,
        ferret,
        pubsub,
        livekit,
        events,
        reaper,
        spoolDir,
        say,
        opts.echoWorkers ?? false,
      );
    } catch (err) {
      await Promise.allSettled(started.reverse().map((s) => s.stop()));
      throw err;
    }
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
    await this.reaper.stop().catch(() => undefined);
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
