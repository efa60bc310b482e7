/**
 * One patient session, from job metadata to the final session record.
 *
 *   metadata → profile@version → AgentSession(STT, LLM, TTS, VAD, turn detection)
 *   conversation items → transcript sink → Mongo `utterances` (as they happen)
 *   end (patient left, end phrase/tool, safety, max duration, silence) → `sessions` summary
 *   job shutdown without an end (drain timeout, crash of the room) → `interrupted`
 */
import {
  AutoSubscribe,
  inference,
  voice,
  type JobContext,
  type llm,
  type VAD,
} from '@livekit/agents';
import { ParticipantKind, RoomEvent, type RemoteParticipant } from '@livekit/rtc-node';
import { withTimeout } from '../infra/async.ts';
import type { Config } from '../infra/config.ts';
import { ValidationError, VoiceCareError } from '../infra/errors.ts';
import type { Logger } from '../infra/logger.ts';
import type { Profile, SafetyRule } from '../prompts/schema.ts';
import { renderProfile, templateValuesFor } from '../prompts/template.ts';
import type { SessionEventPublisher } from '../sessions/events.ts';
import { patientIdentity } from '../sessions/participants.ts';
import {
  SessionRequestV1,
  type Escalation,
  TERMINAL_STATES,
  type SessionRequest,
  type SessionState,
} from '../sessions/schema.ts';
import type { SessionStore, UtteranceStore } from '../sessions/store.ts';
import { DEFAULT_CLOSING, VoiceCareAgent, type EndReason, type RenderedProfile } from './agent.ts';
import { DialogueEngine, ExpectationBoard, ScriptedProtocolLLM } from './protocol/index.ts';
import { buildProviders } from './providers/index.ts';
import { buildLocalStt, buildLocalTts } from './providers/local-engines.ts';
import type { SafetyMatch } from './safety/matcher.ts';
import { TurnTally, utteranceFromMessage } from './transcript/recorder.ts';
import { TranscriptSink } from './transcript/sink.ts';

export interface ProfileResolver {
  /** The pinned version, or the latest published one. Throws a non-retryable error if unknown. */
  resolve(ref: SessionRequest['profile']): Promise<Profile>;
}

export interface SessionDeps {
  cfg: Config;
  log: Logger;
  sessions: SessionStore;
  utterances: UtteranceStore;
  profiles: ProfileResolver;
  events: SessionEventPublisher;
  vad: VAD;
  now?: () => Date;
  /** Runs after the final record is written (close per-job clients here). */
  afterFinalize?: () => Promise<void>;
}

/** How long the shutdown path may spend flushing transcripts, within the platform's grace. */
const FLUSH_DEADLINE_MS = 1000;
const STILL_THERE = 'Are you still there?';
/** The publisher is warm by then (session.started went out at the start). */
const FINAL_EVENT_TIMEOUT_MS = 1500;

/** Parses the job metadata the dispatcher attached. Never throws anything but ValidationError. */
export function parseJobMetadata(raw: string | undefined): SessionRequest {
  let json: unknown;
  try {
    json = JSON.parse(raw ?? '');
  } catch (err) {
    throw new ValidationError('bad_job_metadata', 'job metadata is not JSON', [], err);
  }
  const parsed = SessionRequestV1.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ValidationError(
      'bad_job_metadata',
      'job metadata is not a session request v1',
      issues,
    );
  }
  return parsed.data;
}

const optional = <K extends string, V>(key: K, value: V | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;

/** The sessionId of malformed metadata, when one is there to be read: for the rejection record. */
function sessionIdHint(raw: string | undefined): string | undefined {
  try {
    const id = (JSON.parse(raw ?? '') as { sessionId?: unknown }).sessionId;
    return typeof id === 'string' && SessionRequestV1.shape.sessionId.safeParse(id).success
      ? id
      : undefined;
  } catch {
    return undefined;
  }
}

type TurnDetection = NonNullable<voice.AgentSessionOptions['turnHandling']>['turnDetection'];

function turnDetectorFor(mode: Config['agent']['turnDetection']): TurnDetection {
  // Always explicit: left unset, dev mode picks LiveKit's hosted model, unreachable offline.
  return mode === 'model' ? new inference.TurnDetector({ version: 'v1-mini' }) : mode;
}

interface Outcome {
  state: Extract<SessionState, 'completed' | 'failed' | 'interrupted'>;
  reason: string;
}

/**
 * What a closed AgentSession means for the session record. An ending we asked for keeps its
 * reason; the patient leaving completes the call; a pipeline error fails it; anything else is
 * the framework closing under us (worker drain, job shutdown): the call was interrupted.
 */
export function closeOutcome(
  ev: { reason: string; error: { type?: string } | null },
  requested: Outcome | undefined,
): Outcome {
  if (ev.error) return { state: 'failed', reason: `pipeline_error: ${ev.error.type ?? 'unknown'}` };
  if (requested) return requested;
  if (ev.reason === voice.CloseReason.PARTICIPANT_DISCONNECTED) {
    return { state: 'completed', reason: 'patient_left' };
  }
  return { state: 'interrupted', reason: 'job_shutdown' };
}

export async function runSession<P>(ctx: JobContext<P>, deps: SessionDeps): Promise<void> {
  const now = deps.now ?? (() => new Date());
  const jobLog = deps.log.child({ jobId: ctx.job.id });

  let request: SessionRequest;
  try {
    request = parseJobMetadata(ctx.job.metadata);
  } catch (err) {
    const e = err as ValidationError;
    jobLog.error({ code: e.code, issues: e.issues }, 'bad job metadata; ending job');
    await deps.sessions
      .recordRejection({
        messageId: `job:${ctx.job.id}`,
        ...optional('sessionId', sessionIdHint(ctx.job.metadata)),
        code: e.code,
        reason: e.message,
        receivedAt: now(),
        detail: e.issues.join('; ').slice(0, 300),
      })
      .catch((recordErr: unknown) =>
        jobLog.error({ err: recordErr }, 'could not record rejection'),
      );
    ctx.shutdown('bad_job_metadata');
    await deps.afterFinalize?.();
    return;
  }

  const { sessionId } = request;
  const log = jobLog.child({ sessionId });
  const runner = new SessionRun(ctx, deps, request, log, now);
  try {
    await runner.start();
  } catch (err) {
    log.error({ err }, 'session could not start');
    await runner.fail(`start_failed: ${err instanceof Error ? err.name : 'unknown'}`);
  }
}

class SessionRun<P> {
  private readonly tally = new TurnTally();
  private readonly answers: Record<string, string | number | boolean> = {};
  private outcome: Outcome | undefined;
  private session: voice.AgentSession | undefined;
  private profile: RenderedProfile | undefined;
  private sink: TranscriptSink | undefined;
  private maxDurationTimer: NodeJS.Timeout | undefined;
  private awayCount = 0;
  /** Escalations raised so far: part of each one's idempotency key. */
  private escalations = 0;
  /** The dialogue engine said its closing words; end once they have played. */
  private protocolDone = false;
  /** Side writes (answers, escalations, events) in order; awaited before the final record. */
  private writes: Promise<void> = Promise.resolve();
  private finalized = false;
  /** This job does not own the session record (stale or unclaimed): never write it. */
  private detached = false;

  constructor(
    private readonly ctx: JobContext<P>,
    private readonly deps: SessionDeps,
    private readonly request: SessionRequest,
    private readonly log: Logger,
    private readonly now: () => Date,
  ) {}

  private get sessionId(): string {
    return this.request.sessionId;
  }

  /** Queues a side write so it never blocks the audio path and never floats. */
  private enqueue(what: string, op: () => Promise<unknown>): void {
    this.writes = this.writes
      .then(() => op().then(() => undefined))
      .catch((err: unknown) => this.log.error({ err, what }, 'session write failed'));
  }

  async start(): Promise<void> {
    const { deps, ctx } = this;
    ctx.addShutdownCallback(() => this.finalize());
    // Both reads gate joining the room; run them together (a stale job ignores the profile).
    const resolving = deps.profiles.resolve(this.request.profile);
    resolving.catch(() => undefined);
    if (!(await this.isCurrentDispatch())) return;

    let profile: RenderedProfile;
    try {
      profile = renderProfile(await resolving, templateValuesFor(this.request.patient));
    } catch (err) {
      const code = err instanceof VoiceCareError ? err.code : 'profile_unavailable';
      this.log.error({ err, code, profile: this.request.profile }, 'profile could not be used');
      await this.fail(`${code}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }

    this.profile = profile;
    this.sink = new TranscriptSink({
      store: deps.utterances,
      sessionId: this.sessionId,
      logger: this.log,
      // Utterances arrive seconds apart, so waiting for company only delays each write (20 ms
      // by default, measured by bench/); writes that pile up behind one in flight still batch.
      flushIntervalMs: 0,
    });

    await ctx.connect(undefined, AutoSubscribe.AUDIO_ONLY);
    await this.markActive(profile);

    const board = new ExpectationBoard();
    const scripted = deps.cfg.providers.llm.includes('local')
      ? this.scriptedLlm(profile, board)
      : undefined;
    const providers = buildProviders(
      deps.cfg.providers,
      { language: profile.language, voice: profile.voice, stt: profile.stt },
      deps.vad,
      {
        llm: () => scripted!,
        stt: () => buildLocalStt(profile, board, this.log),
        tts: (voice) => buildLocalTts(voice, this.log),
      },
    );
    // The dialogue engine answers in microseconds: starting it early only adds retractions.
    const scriptedFirst = deps.cfg.providers.llm[0] === 'local';
    this.log.info(
      { profile: { id: profile.id, version: profile.version }, providers: providers.labels },
      'session starting',
    );

    const session = new voice.AgentSession({
      vad: deps.vad,
      stt: providers.stt,
      llm: providers.llm,
      tts: providers.tts,
      userAwayTimeout: profile.limits.silenceTimeoutMs / 1000,
      turnHandling: {
        turnDetection: turnDetectorFor(deps.cfg.agent.turnDetection),
        endpointing: {
          minDelay: deps.cfg.agent.endpointing.minDelayMs,
          maxDelay: deps.cfg.agent.endpointing.maxDelayMs,
        },
        preemptiveGeneration: {
          enabled: deps.cfg.agent.preemptiveGeneration,
          preemptiveTts: deps.cfg.agent.preemptiveTts,
        },
        // 'vad' keeps barge-in local; the adaptive mode reaches for hosted inference.
        interruption: { mode: 'vad' },
      },
    });
    this.session = session;
    this.wire(session);

    const agent = new VoiceCareAgent(
      profile,
      {
        onSafetyMatch: (m) => this.onSafety(m),
        onHandledTurn: (message) => this.record(message),
        onAnswer: (field, value) => this.onAnswer(field, value),
        onEnd: (reason) => this.requestEnd(reason),
      },
      scriptedFirst && scripted ? { greeting: scripted.greeting() } : {},
    );

    const maxMs = Math.min(profile.limits.maxDurationMs, deps.cfg.agent.maxSessionMs);
    this.maxDurationTimer = setTimeout(() => this.requestEnd('max_duration'), maxMs);
    this.maxDurationTimer.unref();

    // The agent hears and answers only the session's patient (the identity the API's join token
    // carries); anyone else in the room is ignored by the framework and recorded here.
    const patient = patientIdentity(this.sessionId);
    ctx.room.on(RoomEvent.ParticipantConnected, (p: RemoteParticipant) => {
      if (p.identity === patient || p.kind === ParticipantKind.AGENT) return;
      this.log.warn(
        { participantKind: p.kind, pii: { identity: p.identity } },
        'ignoring a participant who is not the patient',
      );
    });
    await session.start({
      agent,
      room: ctx.room,
      inputOptions: { closeOnDisconnect: true, participantIdentity: patient },
    });
  }

  /**
   * Whether this job is the session's current placement. A job that started after its attempt
   * was given up (the dispatcher moved on to a new room), or after the session ended, leaves
   * without touching the record.
   */
  private async isCurrentDispatch(): Promise<boolean> {
    const current = await this.deps.sessions.get(this.sessionId);
    const room = this.ctx.room.name ?? this.ctx.job.room?.name;
    const why = !current
      ? 'session_not_claimed'
      : TERMINAL_STATES.has(current.state)
        ? 'session_already_ended'
        : current.room && room && current.room !== room
          ? 'stale_dispatch'
          : undefined;
    if (!why) return true;
    this.log.warn({ why, state: current?.state }, 'not the current placement; leaving');
    this.detached = true;
    this.ctx.shutdown(why);
    return false;
  }

  private async markActive(profile: RenderedProfile): Promise<void> {
    const { sessions, events } = this.deps;
    const at = this.now();
    const moved = await sessions.transition(this.sessionId, 'active', at, {
      room: this.ctx.room.name ?? '',
      profileVersion: profile.version,
    });
    if (!moved) {
      // The dispatcher may already have recorded `active` when it saw us join.
      const current = await sessions.get(this.sessionId);
      if (current?.state !== 'active') {
        this.log.warn({ state: current?.state ?? 'missing' }, 'session not in a startable state');
      }
    }
    this.enqueue('session.started', () =>
      events.publish({
        type: 'session.started',
        sessionId: this.sessionId,
        at: at.toISOString(),
        room: this.ctx.room.name ?? '',
        profile: { id: profile.id, version: profile.version },
      }),
    );
  }

  private wire(session: voice.AgentSession): void {
    session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => this.record(ev.item));
    session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => {
      if (ev.newState !== 'away') {
        if (ev.newState === 'speaking') this.awayCount = 0;
        return;
      }
      this.awayCount += 1;
      if (this.awayCount === 1) session.say(STILL_THERE, { allowInterruptions: true });
      else this.requestEnd('silence_timeout');
    });
    session.on(voice.AgentSessionEventTypes.Error, (ev) => {
      const err = ev.error as { recoverable?: boolean; type?: string } | null;
      this.log.warn({ source: err?.type, recoverable: err?.recoverable }, 'pipeline error');
    });
    session.on(voice.AgentSessionEventTypes.Close, (ev) => {
      this.end(closeOutcome(ev, this.outcome));
    });
  }

  private record(item: llm.ChatItem): void {
    const u = utteranceFromMessage(this.sessionId, item);
    if (!u || !this.sink) return;
    this.tally.add(u);
    this.sink.append(u);
    // The dialogue engine finished: these were the closing words, now played.
    if (u.role === 'agent' && this.protocolDone) this.requestEnd('protocol_complete');
  }

  /** The session's dialogue engine, as the framework LLM that runs it. */
  private scriptedLlm(profile: RenderedProfile, board: ExpectationBoard): ScriptedProtocolLLM {
    const engine = new DialogueEngine(profile, {
      now: this.now,
      expectations: board,
      ...(this.deps.cfg.agent.timeZone ? { timeZone: this.deps.cfg.agent.timeZone } : {}),
    });
    return new ScriptedProtocolLLM({
      engine,
      logger: this.log,
      onAnswer: (field, value) => this.onAnswer(field, value),
      onDone: () => {
        this.protocolDone = true;
      },
      onRetract: ({ fields, done }) => {
        for (const f of fields) delete this.answers[f];
        if (done) this.protocolDone = false;
      },
    });
  }

  private onSafety(match: SafetyMatch<SafetyRule>): void {
    const { rule } = match;
    const at = this.now();
    this.escalations += 1;
    const escalation: Escalation = {
      id: `${this.sessionId}:t${this.escalations}:${rule.id}:confirmed`,
      ruleId: rule.id,
      severity: rule.escalation.severity,
      status: 'confirmed',
      at,
      channel: 'speech',
      trigger: { detector: 'rules', kind: match.trigger.kind, value: match.trigger.value },
    };
    this.log.warn({ ruleId: rule.id, severity: rule.escalation.severity }, 'safety rule matched');
    this.enqueue('escalation', () =>
      Promise.all([
        this.deps.events.publish({
          type: 'session.escalation',
          sessionId: this.sessionId,
          at: at.toISOString(),
          escalationId: escalation.id,
          ruleId: rule.id,
          severity: escalation.severity,
          status: escalation.status,
          channel: escalation.channel,
          trigger: escalation.trigger,
        }),
        this.deps.sessions.addEscalation(this.sessionId, escalation, at),
      ]),
    );
  }

  private onAnswer(field: string, value: string | number | boolean): void {
    this.answers[field] = value;
    this.enqueue('answer', () =>
      this.deps.sessions.saveAnswers(this.sessionId, { [field]: value }, this.now()),
    );
  }

  /** The conversation decided to end: say nothing more, close the session, then the job. */
  private requestEnd(reason: EndReason): void {
    if (this.outcome) return;
    this.outcome = { state: 'completed', reason };
    this.log.info({ reason }, 'ending session');
    if (!this.session) {
      this.end(this.outcome);
      return;
    }
    if (reason === 'max_duration' || reason === 'silence_timeout') {
      // The conversation did not end itself: say goodbye before hanging up. The drain below
      // lets the closing words play out.
      try {
        void this.session.interrupt({ force: true }).await.catch(() => undefined);
      } catch {
        // Nothing playing, or the session is already closing.
      }
      this.session.say(this.profile?.closingMessage ?? DEFAULT_CLOSING, {
        allowInterruptions: false,
      });
    }
    this.session.shutdown({ drain: true, reason });
  }

  /**
   * A failure before the conversation started: write the record and event now, while there is
   * time (the job's shutdown budget is for flushing a live call), then end the job.
   */
  async fail(reason: string): Promise<void> {
    this.outcome ??= { state: 'failed', reason };
    await this.finalize();
    this.ctx.shutdown(reason);
  }

  private end(outcome: Outcome): void {
    this.outcome ??= outcome;
    this.ctx.shutdown(this.outcome.reason);
  }

  /** Runs on every job shutdown. Flushes transcripts and writes the final state exactly once. */
  private async finalize(): Promise<void> {
    if (this.finalized) return;
    this.finalized = true;
    if (this.detached) {
      await this.deps.afterFinalize?.();
      return;
    }
    try {
      await this.writeFinalRecord();
    } finally {
      await this.deps.afterFinalize?.();
    }
  }

  private async writeFinalRecord(): Promise<void> {
    clearTimeout(this.maxDurationTimer);
    // Shut down without an ending of our own: the worker is draining or the job was killed.
    const outcome: Outcome = this.outcome ?? { state: 'interrupted', reason: 'job_shutdown' };

    const flush = this.sink ? await this.sink.close({ deadlineMs: FLUSH_DEADLINE_MS }) : undefined;
    if (flush && flush.unwritten > 0) {
      this.log.error({ unwritten: flush.unwritten }, 'utterances not persisted before shutdown');
    }
    if (flush) {
      const { durabilityMs, writeMs, batches, failedAttempts } = flush.stats;
      this.log.info(
        { transcript: { written: flush.written, batches, failedAttempts, durabilityMs, writeMs } },
        'transcript sink stats',
      );
    }
    await withTimeout(this.writes, 1000, 'session side writes').catch((err: unknown) =>
      this.log.error({ err }, 'session side writes unfinished at shutdown'),
    );

    const at = this.now();
    const patch = {
      summary: this.tally.summary(),
      answers: { ...this.answers },
      endReason: outcome.reason,
      ...(outcome.state === 'completed' ? {} : { failureReason: outcome.reason }),
    };
    const moved = await this.deps.sessions
      .transition(this.sessionId, outcome.state, at, patch)
      .catch((err: unknown) => {
        this.log.error({ err }, 'could not record final session state');
        return null;
      });
    if (!moved) this.log.warn({ to: outcome.state }, 'final session transition refused');

    const event =
      outcome.state === 'failed'
        ? {
            type: 'session.failed' as const,
            sessionId: this.sessionId,
            at: at.toISOString(),
            reason: outcome.reason,
            code: outcome.reason.split(':')[0] ?? 'failed',
          }
        : {
            type: 'session.completed' as const,
            sessionId: this.sessionId,
            at: at.toISOString(),
            state: outcome.state,
            reason: outcome.reason,
          };
    await withTimeout(
      this.deps.events.publish(event),
      FINAL_EVENT_TIMEOUT_MS,
      'final session event',
    ).catch((err: unknown) => this.log.error({ err }, 'could not publish final session event'));
    this.log.info(
      { state: outcome.state, reason: outcome.reason, turns: patch.summary.turns },
      'session finished',
    );
  }
}
