/**
 * Everything an end-to-end agent test needs around the real worker: vendor stand-ins, a fresh
 * MongoDB database with the repo's profiles published, a private session-events topic with a
 * recording subscription, and helpers to start a session the way the dispatcher does (claim,
 * then `createDispatch` with the request as job metadata).
 */
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { AgentDispatchClient } from 'livekit-server-sdk';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../infra/config.ts';
import { connectMongo, type MongoHandle } from '../../infra/mongo.ts';
import { createPubSub, ensureSubscription } from '../../infra/pubsub.ts';
import { readProfile } from '../../prompts/loader.ts';
import { MongoProfileStore } from '../../prompts/mongo-store.ts';
import type { Profile } from '../../prompts/schema.ts';
import {
  ensureIndexes,
  MongoSessionStore,
  MongoUtteranceStore,
} from '../../sessions/mongo-store.ts';
import { SessionRequestV1, type SessionEvent, type SessionRequest } from '../../sessions/schema.ts';
import { startAgentWorker, type AgentWorker } from './agent-worker.ts';
import { testConfig, uniqueName } from './env.ts';
import { SimulatedPatient } from './patient.ts';
import { startStandins, type Standins, type StandinsOptions } from './standins/index.ts';
import { patientIdentity } from '../../sessions/participants.ts';

export interface HarnessOptions {
  standins?: Partial<StandinsOptions>;
  /** Extra worker environment, e.g. `AGENT_DRAIN_TIMEOUT_MS`. */
  workerEnv?: Record<string, string>;
  /** Profiles to publish, by file name in prompts/ plus overrides (e.g. a shorter greeting). */
  profiles?: { file: string; override?: Partial<Profile> }[];
}

export interface StartedSession {
  request: SessionRequest;
  room: string;
  patient: SimulatedPatient;
}

export class AgentHarness {
  readonly agentName = uniqueName('agent');
  readonly events: SessionEvent[] = [];
  /** Errors of the events subscription (e.g. its emulator restarted under it), kept, not thrown. */
  readonly eventErrors: unknown[] = [];
  private workers: AgentWorker[] = [];
  private patients: SimulatedPatient[] = [];
  private eventsSub: Subscription | undefined;
  /** The first published profile, as published (overrides applied). */
  profile!: Profile;

  private constructor(
    readonly cfg: Config,
    readonly env: Record<string, string>,
    readonly standins: Standins,
    readonly mongo: MongoHandle,
    readonly pubsub: PubSub,
    readonly sessions: MongoSessionStore,
    readonly utterances: MongoUtteranceStore,
    readonly profiles: MongoProfileStore,
  ) {}

  static async start(opts: HarnessOptions = {}): Promise<AgentHarness> {
    const standins = await startStandins(opts.standins);
    const env = {
      ...standins.env,
      MONGODB_DB: uniqueName('e2e'),
      PUBSUB_EVENTS_TOPIC: uniqueName('events'),
      AGENT_TURN_DETECTION: 'vad',
      // The cloud plugins against the stand-ins; the local engines have their own tests.
      STT_PROVIDERS: 'deepgram',
      LLM_PROVIDERS: 'openai',
      TTS_PROVIDERS: 'elevenlabs,openai',
      LOG_LEVEL: 'warn',
      // CPU-based load would mark the worker full on a busy 2-core test machine.
      AGENT_CPU_LOAD: 'false',
      AGENT_MAX_JOBS: '4',
      // Tests assert exact replies and which voice spoke: on a loaded 2-core box a 250 ms
      // stand-in can miss the production bounds (1.5 s to a holding line, 1 s to a voice's
      // first audio). The fault tests set those bounds themselves.
      AGENT_LLM_HOLD_AFTER_MS: '6000',
      AGENT_TTS_FIRST_AUDIO_TIMEOUT_MS: '6000',
      ...opts.workerEnv,
    };
    const cfg = testConfig(env);
    const mongo = await connectMongo(cfg.mongo);
    await ensureIndexes(mongo.db);
    const pubsub = createPubSub(cfg.pubsub);
    const h = new AgentHarness(
      cfg,
      env,
      standins,
      mongo,
      pubsub,
      new MongoSessionStore({ db: mongo.db }),
      new MongoUtteranceStore({ db: mongo.db }),
      new MongoProfileStore(mongo.db),
    );
    for (const p of opts.profiles ?? [{ file: 'intake.yaml' }]) {
      const base = await readProfile(
        fileURLToPath(new URL(`../../prompts/${p.file}`, import.meta.url)),
      );
      const published = { ...base, ...p.override };
      await h.profiles.publish(published, { author: 'e2e-test', note: 'test fixture' });
      h.profile ??= published;
    }
    h.eventsSub = await ensureSubscription(pubsub, {
      topic: cfg.pubsub.eventsTopic,
      subscription: `${cfg.pubsub.eventsTopic}-test`,
    });
    h.eventsSub.on('error', (err: unknown) => h.eventErrors.push(err));
    h.eventsSub.on('message', (m: Message) => {
      h.events.push(JSON.parse(m.data.toString()) as SessionEvent);
      m.ack();
    });
    return h;
  }

  async startWorker(env: Record<string, string> = {}, echo = false): Promise<AgentWorker> {
    const worker = await startAgentWorker({
      agentName: this.agentName,
      httpPort: 20_000 + Math.floor(Math.random() * 20_000),
      env: { ...this.env, ...env },
      echo,
    });
    this.workers.push(worker);
    return worker;
  }

  request(overrides: Partial<SessionRequest> = {}): SessionRequest {
    return SessionRequestV1.parse({
      sessionId: uniqueName('sess'),
      profile: { id: 'intake' },
      patient: { ref: 'pt-0001', displayName: 'Ann' },
      requestedAt: new Date().toISOString(),
      ...overrides,
    });
  }

  /** Claims the session, puts a patient in a fresh room, and dispatches the agent to it. */
  async startSession(request = this.request(), metadata?: string): Promise<StartedSession> {
    await this.sessions.claim(request, new Date());
    const room = `vc-${request.sessionId}`;
    const patient = await SimulatedPatient.join({
      livekit: this.cfg.livekit,
      room,
      identity: patientIdentity(request.sessionId),
    });
    this.patients.push(patient);
    const dispatch = new AgentDispatchClient(
      this.cfg.livekit.url.replace(/^ws/, 'http'),
      this.cfg.livekit.apiKey,
      this.cfg.livekit.apiSecret,
    );
    await dispatch.createDispatch(room, this.agentName, {
      metadata: metadata ?? JSON.stringify(request),
    });
    return { request, room, patient };
  }

  /** Polls until `check` returns a value, or fails with what it last saw. */
  async eventually<T>(
    what: string,
    check: () => Promise<T | undefined>,
    timeoutMs = 20_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.patients.map((p) => p.leave()));
    await Promise.allSettled(this.workers.map((w) => w.stop(5000)));
    if (this.eventsSub) {
      this.eventsSub.removeAllListeners('message');
      await Promise.race([this.eventsSub.close(), new Promise((r) => setTimeout(r, 2000))]);
      await this.pubsub
        .subscription(this.eventsSub.name)
        .delete()
        .catch(() => undefined);
    }
    await this.pubsub
      .topic(this.cfg.pubsub.eventsTopic)
      .delete()
      .catch(() => undefined);
    await this.pubsub.close();
    await this.mongo.db.dropDatabase().catch(() => undefined);
    await this.mongo.close();
    await this.standins.close();
  }
}
