/**
 * One patient session, from job metadata to the final session record.
 *
 *   metadata → profile@version → AgentSession(STT, LLM, TTS, VAD, turn detection)
 *   conversation items → transcript sink → Mongo `utterances` (as they happen)
 *   end (patient left, end phrase/tool, safety, max duration, silence) → `sessions` summary
 *   job shutdown without an end (drain timeout, crash of the room) → `interrupted`
 *
 * Captured answers are stored as they arrive, each with its confidence, review flag and the
 * transcript `seq` of the patient utterance it came from. A call that ends with required
 * protocol steps unanswered is `completed` with endReason `incomplete` (see `finalOutcome`).
 */
import { AutoSubscribe, voice, type JobContext, type llm, type VAD } from '@livekit/agents';
import { ParticipantKind, RoomEvent, type RemoteParticipant } from '@livekit/rtc-node';
import { withTimeout } from '../infra/time.ts';
import type { Config } from '../infra/config.ts';
import { VoiceCareError } from '../infra/errors.ts';
import type { Logger } from '../infra/logger.ts';
import type { Profile, SafetyRule } from '../prompts/schema.ts';
import type { EscalationCourier } from '../sessions/escalation-delivery.ts';
import type { SessionEventPublisher } from '../sessions/events.ts';
import { bindActive, runInSpan } from '../infra/tracing.ts';
import { readJobMetadata, rejectionRecord, type JobHandoff } from '../sessions/intake.ts';
import {
  type CapturedAnswer,
  type Escalation,
  type EscalationStatus,
  TERMINAL_STATES,
  type SessionRecord,
  type SessionRequest,
  type SessionState,
} from '../sessions/schema.ts';
import type { SessionStore, UtteranceStore } from '../sessions/store.ts';
import type { EducationStore } from '../education/store.ts';
import { clipFrames, loadClips, type LoadedClip } from '../education/playback.ts';
import type { UtteranceSpool } from '../sessions/utterance-spool.ts';
import {
  DEFAULT_CLOSING,
  VoiceCareAgent,
  type VoiceCareAgentOptions,
  type EducationClip,
  type EndReason,
  type RenderedProfile,
  type TurnInfo,
} from './agent.ts';
import {
  assembleSession,
  type ClassifierPlan,
  type DialogueEnginePlan,
  type SessionPlan,
} from './assembly.ts';
import {
  DialogueEngine,
  ExpectationBoard,
  ScriptedProtocolLLM,
  toCapturedAnswer,
  unansweredRequired,
  type AnswerReport,
} from './protocol/index.ts';
import { buildClassifierLlm, buildProviders } from './providers/index.ts';
import { buildLocalStt, buildLocalTts } from './providers/local-engines.ts';
import { SafetyClassifier, type ClassifierOutcome } from './safety/classifier.ts';
import { RecognitionJournal } from './safety/confirm.ts';
import type { SafetyMatch } from './safety/matcher.ts';
import {
  SessionKnowledge,
  isQuestion,
  type FollowUpStore,
  type Hit,
  type KnowledgeStore,
  type Lookup,
} from '../knowledge/index.ts';
import { SttWatchdog } from './stt-watchdog.ts';
import { RoomAudioInput } from './room-audio-input.ts';
import { typedTextCallback } from './text-input.ts';
import {
  engineStateFor,
  isResumedCall,
  resumeInstructions,
  resumePoint,
  type ResumePoint,
} from './resume.ts';
import {
  agentIdentity,
  HANDOVER_RPC,
  readHandoverReply,
  readHandoverRequest,
  type HandoverReply,
} from './handoff.ts';
import { agentTracer } from './tracing.ts';
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
  /** Escalations go out through the outbox, in the background (`sessions/escalation-delivery.ts`). */
  escalations: Pick<EscalationCourier, 'send' | 'drain'>;
  /**
   * Where utterances MongoDB did not take go (at the buffer's bound and at the end of the job);
   * the worker's main process replays them. @defaultValue none: they are reported and lost
   */
  transcriptSpool?: Pick<UtteranceSpool, 'write' | 'lastSeq' | 'replayInto'>;
  vad: VAD;
  /**
   * The care team's approved documents and where unanswered questions go. @defaultValue none:
   * the agent has no documents, and the LLM is offered no lookup
   */
  knowledge?: { store: Pick<KnowledgeStore, 'approvedSources'>; followUps: FollowUpStore };
  /**
   * Education clips for the profile's education steps (education/). @defaultValue none: those
   * steps are asked without their clip
   */
  education?: { store: Pick<EducationStore, 'playableClip' | 'getScript' | 'readAudio'> };
  now?: () => Date;
  /** Runs after the final record is written (close per-job clients here). */
  afterFinalize?: () => Promise<void>;
}

/** A resumed job's look at the local spool (this machine's leftovers of the session). */
const RESUME_SPOOL_MS = 500;
/** At the end of a drain, the read that tells whether a successor was dispatched. */
const SUCCESSOR_CHECK_MS = 1000;
/** A successor's handover request waits this long for the old agent's answer. */
const HANDOVER_RPC_TIMEOUT_MS = 4000;
/** Lets a reply cut short be recorded, and the handover answer leave, before the next step. */
const HANDOVER_SETTLE_MS = 200;
/** What the step-aside answer needs after the caller is known (interrupt, flush, reply). */
const HANDOVER_REPLY_MARGIN_MS = 1000;
const STILL_THERE = 'Are you still there?';
/**
 * The final event's budget. Warm (session.started went out): a publish takes milliseconds. Cold
 * (the session failed before it started, e.g. an unknown profile): the client still has to open
 * its channel, which takes seconds on a busy machine, and a backend waits on this event.
 */
const FINAL_EVENT_TIMEOUT_MS = { warm: 1500, cold: 8000 };
/**
 * How long shutdown lets escalations in flight keep trying, alongside the other shutdown work.
 * What is not delivered by then waits in the outbox (or the local spool) for a relay.
 */
const ESCALATION_DRAIN_MS = 1500;

const optional = <K extends string, V>(key: K, value: V | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;

interface Outcome {
  state: Extract<SessionState, 'completed' | 'failed' | 'interrupted'>;
  /** Why it ended: the end reason, or for a failure its message (never parsed). */
  reason: string;
  /** For an `incomplete` ending: what ended the call. */
  endedBy?: string;
  /** Required protocol fields without an answer at the end. */
  unanswered?: string[];
  /** A failure's stable code (`pipeline_error`, `start_failed`, `profile_unknown`, ...). */
  code?: string;
}

/**
 * The ending as the record states it. A call cannot be `completed` as if the protocol were done
 * while required steps are unanswered: it stays `completed` (the call ended as the conversation
 * decided, the state machine is unchanged) with endReason `incomplete`, `endedBy` keeping what
 * ended it and `unanswered` listing the fields, so a clinician reading the log cannot mistake
 * it for a finished intake. A `safety` ending keeps its reason: the escalation is the headline
 * there, and `unanswered` still lists what was not asked. Failed and interrupted calls are not
 * complete by definition; they get the list too.
 */
export function finalOutcome(outcome: Outcome, unanswered: readonly string[]): Outcome {
  if (unanswered.length === 0) return outcome;
  const list = { unanswered: [...unanswered] };
  if (outcome.state !== 'completed' || outcome.reason === 'safety') return { ...outcome, ...list };
  return { state: 'completed', reason: 'incomplete', endedBy: outcome.reason, ...list };
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
  if (ev.error)
    return { state: 'failed', code: 'pipeline_error', reason: ev.error.type ?? 'unknown' };
  if (requested) return requested;
  if (ev.reason === voice.CloseReason.PARTICIPANT_DISCONNECTED) {
    return { state: 'completed', reason: 'patient_left' };
  }
  return { state: 'interrupted', reason: 'job_shutdown' };
}

export async function runSession<P>(ctx: JobContext<P>, deps: SessionDeps): Promise<void> {
  const now = deps.now ?? (() => new Date());
  const jobLog = deps.log.child({ jobId: ctx.job.id });

  const intake = readJobMetadata(ctx.job.metadata);
  if (!intake.ok) {
    // The dispatcher only dispatches requests it read: this one means the two disagree.
    const rejection = { ...intake.rejection, code: 'bad_job_metadata' as const };
    jobLog.error(
      { code: rejection.code, detail: rejection.detail },
      'bad job metadata; ending job',
    );
    await deps.sessions
      .recordRejection(rejectionRecord(`job:${ctx.job.id}`, rejection, now()))
      .catch((recordErr: unknown) =>
        jobLog.error({ err: recordErr }, 'could not record rejection'),
      );
    ctx.shutdown('bad_job_metadata');
    await deps.afterFinalize?.();
    return;
  }
  const { request } = intake;

  const { sessionId } = request;
  const log = jobLog.child({ sessionId });
  // The call's span in this job: the framework's session spans nest under it, and it ends once
  // the final record is written.
  const span = agentTracer.start('agent.session', {
    attributes: { 'voicecare.session.id': sessionId, 'voicecare.profile.id': request.profile.id },
  });
  const traced: SessionDeps = span
    ? {
        ...deps,
        afterFinalize: async () => {
          span.end();
          await deps.afterFinalize?.();
        },
      }
    : deps;
  const runner = new SessionRun(ctx, traced, request, log, now, intake.handoff);
  await runInSpan(span, async () => {
    try {
      await runner.start();
    } catch (err) {
      log.error({ err }, 'session could not start');
      await runner.fail('start_failed', err instanceof Error ? err.name : 'unknown');
    }
  });
}

type Reported = AnswerReport & { at: Date };

class SessionRun<P> {
  private readonly tally = new TurnTally();
  /** Answers as reported, by field; stored with the seqs known at the time (see persist). */
  private readonly answers = new Map<string, Reported>();
  /** A resumed call's answers from the earlier job (this job's own replace them). */
  private readonly priorAnswers = new Map<string, CapturedAnswer>();
  /** Patient messages recorded so far: chat message id → transcript seq. */
  private readonly seqByMessage = new Map<string, number>();
  private outcome: Outcome | undefined;
  private session: voice.AgentSession | undefined;
  private voiceAgent: VoiceCareAgent | undefined;
  private scriptedEngine: ScriptedProtocolLLM | undefined;
  /** The approved clip of each education step's script, loaded at session start. */
  private clips = new Map<string, LoadedClip>();
  private profile: RenderedProfile | undefined;
  private sink: TranscriptSink | undefined;
  private maxDurationTimer: NodeJS.Timeout | undefined;
  private noShowTimer: NodeJS.Timeout | undefined;
  private awayCount = 0;
  /** What the safety classifier did this session (reported with the final record). */
  private readonly classifierStats = { runs: 0, flagged: 0, failed: {} as Record<string, number> };
  private typedTurns = 0;
  /** What the bounded-silence machinery did this call (reported with the final log line). */
  private readonly faultTally = { llmHolds: 0, llmFailures: 0, sttReconnects: 0 };
  private sttWatchdog: SttWatchdog | undefined;
  /** Identities in the room that were neither the patient nor an agent (see start()). */
  private readonly intruders = new Set<string>();
  /** The dialogue engine said its closing words; end once they have played. */
  private protocolDone: 'completed' | 'declined' | undefined;
  /** Side writes (answers, escalations, events) in order; awaited before the final record. */
  private writes: Promise<void> = Promise.resolve();
  private finalized = false;
  /** This job does not own the session record (stale or unclaimed): never write it. */
  private detached = false;
  /** This job stepped aside for a successor (see `stepAside`): the call and its record are theirs. */
  private handedOver = false;
  private connected = false;
  /** The session's patient (the identity the join token carries), once the call started. */
  private patientIdentity: string | undefined;
  /** The first seq the job this one took over from had not used. */
  private handoverNextSeq = 0;
  /** Set once this job's publisher has delivered an event (its channel is open). */
  private publisherWarm = false;
  /** Set when this job continues a call an earlier job of the session started. */
  private resumed: ResumePoint | undefined;
  /** Passage ids the next agent utterance cites (an answer from the care team's documents). */
  private pendingCitations: string[] | undefined;
  /** The dialogue engine leads and questions are answered from documents before it. */
  private scriptedKnowledge = false;

  constructor(
    private readonly ctx: JobContext<P>,
    private readonly deps: SessionDeps,
    private readonly request: SessionRequest,
    private readonly log: Logger,
    private readonly now: () => Date,
    /** Set when this job was dispatched to take the call over from a draining worker. */
    private readonly handoff: JobHandoff | undefined,
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
    // Bound to the session's trace: the framework calls it from a context of its own.
    ctx.addShutdownCallback(bindActive(() => this.finalize()));
    // Both reads gate joining the room; run them together (a stale job ignores the profile).
    const resolving = deps.profiles.resolve(this.request.profile);
    resolving.catch(() => undefined);
    let current = await this.currentDispatch();
    if (!current) return;
    if (this.handoff && isResumedCall(current)) {
      // Join first: the old agent is asked to step aside, and the call stands where it left it.
      await this.connect();
      current = await this.takeOver(this.handoff);
      if (!current) return;
    }
    if (isResumedCall(current)) this.resumed = await this.resumePoint(current);
    if (this.resumed && this.handoverNextSeq > this.resumed.startSeq) {
      this.resumed = { ...this.resumed, startSeq: this.handoverNextSeq };
    }

    let plan: SessionPlan;
    try {
      plan = assembleSession({ cfg: deps.cfg, request: this.request, profile: await resolving });
    } catch (err) {
      const code = err instanceof VoiceCareError ? err.code : 'profile_unavailable';
      this.log.error({ err, code, profile: this.request.profile }, 'profile could not be used');
      await this.fail(code, err instanceof Error ? err.message : String(err));
      return;
    }

    const { profile } = plan;
    this.profile = profile;
    const spool = deps.transcriptSpool;
    const transcript = deps.cfg.faults.transcript;
    this.sink = new TranscriptSink({
      store: deps.utterances,
      sessionId: this.sessionId,
      logger: this.log,
      // Utterances arrive seconds apart, so waiting for company only delays each write (20 ms
      // by default, measured by bench/); writes that pile up behind one in flight still batch.
      flushIntervalMs: 0,
      startSeq: this.resumed?.startSeq ?? 0,
      maxPending: transcript.maxPending,
      writeTimeoutMs: transcript.writeTimeoutMs,
      ...(spool
        ? {
            spill: (utterances) =>
              spool.write(this.sessionId, utterances, { by: `job:${ctx.job.id}` }),
          }
        : {}),
    });

    await this.connect();
    await this.markActive(profile);

    const scriptIds = profile.protocol.flatMap((s) => (s.play ? [s.play.script] : []));
    if (scriptIds.length && deps.education) {
      this.clips = await loadClips(deps.education.store, scriptIds, { logger: this.log });
    }
    const board = new ExpectationBoard();
    const recognitions = new RecognitionJournal();
    this.scriptedKnowledge =
      deps.knowledge !== undefined && plan.agent.greeting === 'dialogue_engine';
    const scripted = plan.dialogueEngine && this.scriptedLlm(profile, board, plan.dialogueEngine);
    const resumeLine = deps.cfg.faults.resumeLine;
    const faults = deps.cfg.faults;
    const providers = buildProviders(
      plan.providers.chains,
      plan.providers.preferences,
      deps.vad,
      {
        llm: () => scripted!,
        stt: () => buildLocalStt(profile, board, this.log, recognitions),
        tts: (voice) => buildLocalTts(voice, this.log),
      },
      {
        llm: faults.llm,
        tts: faults.tts,
        onHold: () => {
          this.faultTally.llmHolds += 1;
          this.log.warn(
            { holdAfterMs: faults.llm.holdAfterMs },
            'no first LLM token; holding line',
          );
        },
        onLlmFailure: (err) => {
          this.faultTally.llmFailures += 1;
          // The error's class and code only: its message may quote the request.
          this.log.error(
            { error: err instanceof Error ? err.name : typeof err },
            'every LLM attempt failed; failure line spoken',
          );
        },
      },
    );
    this.log.info(
      { profile: { id: profile.id, version: profile.version }, providers: providers.labels },
      'session starting',
    );

    const session = new voice.AgentSession({
      vad: deps.vad,
      stt: providers.stt,
      llm: providers.llm,
      tts: providers.tts,
      ...plan.session,
    });
    this.session = session;
    this.wire(session);
    this.watchStt(session, providers.reconnectStt);

    const classifier = plan.classifier && this.safetyClassifier(profile, plan.classifier);
    const agent = new VoiceCareAgent(
      profile,
      {
        onSafetyMatch: (m, status, turn) => this.onSafety(m, status, turn),
        onClassifierMatch: (rule, turn) => this.onClassifierMatch(rule, turn),
        onHandledTurn: (message) => this.record(message),
        onAnswer: (report) => this.onAnswer(report),
        onEnd: (reason) => this.requestEnd(reason),
      },
      {
        ...(plan.agent.greeting === 'dialogue_engine' && scripted
          ? { greeting: scripted.greeting() }
          : {}),
        ...(this.resumed
          ? this.resumeOptions(
              profile,
              resumeLine,
              scripted,
              plan.agent.greeting === 'dialogue_engine',
            )
          : {}),
        embeddedStt: plan.agent.embeddedStt,
        ...(plan.agent.contextModel ? {} : { contextModel: null }),
        ...(faults.llm.holdAfterMs > 0 ? { holdLine: faults.llm.holdLine } : {}),
        ...(plan.agent.timeZone ? { timeZone: plan.agent.timeZone } : {}),
        expectations: board,
        recognitions,
        ...(classifier ? { classifier } : {}),
        ...(deps.knowledge ? { knowledge: this.agentKnowledge(profile, scripted) } : {}),
        ...(!scripted && this.clips.size > 0
          ? { educationClip: (stepId: string) => this.educationClip(profile, stepId) }
          : {}),
      },
    );

    this.voiceAgent = agent;
    this.maxDurationTimer = setTimeout(() => this.requestEnd('max_duration'), plan.maxDurationMs);
    this.maxDurationTimer.unref();

    // The agent hears and answers only the session's patient (the identity the API's join token
    // carries); anyone else in the room is ignored by the framework and recorded here.
    const patient = plan.room.participantIdentity;
    const noteIntruder = (p: RemoteParticipant) => {
      if (p.identity === patient || p.kind === ParticipantKind.AGENT) return;
      // One per identity: a reconnect is the same person, not a new intrusion.
      if (this.intruders.has(p.identity)) return;
      this.intruders.add(p.identity);
      this.log.warn(
        { participantKind: p.kind, pii: { identity: p.identity } },
        'ignoring a participant who is not the patient',
      );
    };
    ctx.room.on(RoomEvent.ParticipantConnected, noteIntruder);
    // Whoever was already in the room when we joined raised no ParticipantConnected.
    for (const p of ctx.room.remoteParticipants.values()) noteIntruder(p);
    this.patientIdentity = patient;
    this.awaitPatient(patient, deps.cfg.agent.noShowTimeoutMs, (timeoutMs) => ({
      state: 'failed',
      code: 'no_show',
      reason: `the patient did not join within ${Math.round(timeoutMs / 1000)} s`,
    }));
    // Our own input, for its larger frames; RoomIO keeps an input set before start and, with
    // its audio input off, builds none of its own.
    const audioInput = new RoomAudioInput({
      room: ctx.room,
      participantIdentity: patient,
      sampleRate: plan.room.audioSampleRate,
      frameSizeMs: plan.room.audioFrameMs,
      log: this.log,
    });
    session.input.audio = audioInput;
    session.on(voice.AgentSessionEventTypes.Close, () => {
      audioInput
        .close()
        .catch((err: unknown) => this.log.warn({ err }, 'patient audio input close failed'));
    });
    const started = session.start({
      agent,
      room: ctx.room,
      inputOptions: {
        closeOnDisconnect: plan.room.closeOnDisconnect,
        participantIdentity: patient,
        audioEnabled: false,
        textEnabled: plan.room.textEnabled,
        textInputCallback: typedTextCallback({
          agent: () => agent,
          // Only the session's patient may type; the room may hold others.
          isPatient: (identity) => identity === patient,
          log: this.log,
          maxChars: plan.room.maxTypedChars,
          onAccepted: () => {
            this.typedTurns += 1;
          },
        }),
      },
    });
    await started.catch(async (err: unknown) => {
      await audioInput.close();
      throw err;
    });
    // A framework that no longer takes the input set above would leave the agent deaf.
    audioInput.assertAttached();
  }

  /**
   * The LLM safety classifier the plan asked for: its own model instance, built like the
   * conversation's, so a classification never shares (or delays) the reply's stream.
   */
  private safetyClassifier(profile: RenderedProfile, settings: ClassifierPlan): SafetyClassifier {
    return new SafetyClassifier({
      llm: buildClassifierLlm(this.deps.cfg.providers, settings.model),
      rules: profile.safety,
      timeoutMs: settings.timeoutMs,
      maxAttempts: settings.maxAttempts,
      onOutcome: (o) => this.onClassifierOutcome(o),
    });
  }

  private onClassifierOutcome(o: ClassifierOutcome): void {
    const stats = this.classifierStats;
    stats.runs += 1;
    if (o.ok) {
      if (o.ruleIds.length) stats.flagged += 1;
      return;
    }
    stats.failed[o.reason] = (stats.failed[o.reason] ?? 0) + 1;
    if (o.reason === 'aborted') return;
    this.log.warn(
      { reason: o.reason, attempts: o.attempts, durationMs: o.durationMs },
      'safety classifier failed; the deterministic rules still apply',
    );
  }

  /** Joins the room (once), and from then on answers a successor's handover request. */
  private async connect(): Promise<void> {
    if (this.connected) return;
    await this.ctx.connect(undefined, AutoSubscribe.AUDIO_ONLY);
    this.connected = true;
    this.watchRoomConnection();
    this.ctx.room.localParticipant?.registerRpcMethod(HANDOVER_RPC, (data) =>
      this.stepAside(data.callerIdentity, data.payload).then((r) => JSON.stringify(r)),
    );
  }

  /**
   * The agent's own connection to LiveKit. A server that restarted (or a node that failed over)
   * forgets who was in the room: the agent reconnects into a room of its own, and the patient's
   * leaving raised no event. After a reconnect a patient who is not back within the wait ends
   * the call `interrupted` (`patient_lost`) rather than leaving it open with nobody to talk to.
   */
  private watchRoomConnection(): void {
    const room = this.ctx.room;
    room.on(RoomEvent.Reconnecting, () => this.log.warn('room connection lost; reconnecting'));
    room.on(RoomEvent.Disconnected, (reason) =>
      this.log.warn({ reason }, 'room connection closed'),
    );
    room.on(RoomEvent.Reconnected, () => {
      this.log.info('room connection back');
      const patient = this.patientIdentity;
      if (!patient || this.outcome || this.handedOver) return;
      clearTimeout(this.noShowTimer);
      this.awaitPatient(patient, this.deps.cfg.agent.patientLostTimeoutMs, () => ({
        state: 'interrupted',
        reason: 'patient_lost',
        code: 'patient_lost',
      }));
    });
  }

  /**
   * A successor asks this job to step aside (its worker is draining, see `handoff.ts`). Only
   * an agent in this room, for this session, and only while the call is not already ending.
   * Stops speaking, writes what it holds, answers, then ends the job without ending the call.
   */
  private async stepAside(caller: string, payload: string): Promise<HandoverReply> {
    const req = readHandoverRequest(payload);
    if (!req) return { ok: false, reason: 'bad_request' };
    if (req.sessionId !== this.sessionId) return { ok: false, reason: 'wrong_session' };
    if (!(await this.isAgent(caller))) return { ok: false, reason: 'not_an_agent' };
    if (this.outcome || this.finalized || this.handedOver) return { ok: false, reason: 'ending' };
    const started = performance.now();
    try {
      void this.session?.interrupt({ force: true }).await.catch(() => undefined);
    } catch {
      // Nothing playing.
    }
    // The reply just cut short is recorded (as interrupted) before the transcript changes hands.
    await new Promise((r) => setTimeout(r, HANDOVER_SETTLE_MS));
    this.handedOver = true;
    this.sttWatchdog?.stop();
    const flush = await this.sink?.close({
      deadlineMs: this.deps.cfg.faults.transcript.flushDeadlineMs,
    });
    await withTimeout(this.writes, 1000, 'session side writes').catch((err: unknown) =>
      this.log.error({ err }, 'session side writes unfinished at handover'),
    );
    this.log.info(
      {
        handoverMs: Math.round(performance.now() - started),
        unwritten: flush?.unwritten ?? 0,
        spilled: flush?.spilled ?? 0,
      },
      'stepping aside for a successor',
    );
    // The reply must reach the successor before this participant leaves the room.
    setTimeout(() => this.ctx.shutdown('handed_over'), HANDOVER_SETTLE_MS).unref();
    return { ok: true, ...(this.sink ? { nextSeq: this.sink.nextSeq } : {}) };
  }

  /**
   * Whether the participant is an agent. A request can arrive before the room has told us the
   * caller joined, so an unknown caller is waited for, briefly.
   */
  private async isAgent(identity: string): Promise<boolean> {
    const known = (): boolean | undefined => {
      const p = this.ctx.room.remoteParticipants.get(identity);
      return p ? p.kind === ParticipantKind.AGENT : undefined;
    };
    const now = known();
    if (now !== undefined) return now;
    return new Promise<boolean>((resolve) => {
      const onJoin = (p: RemoteParticipant): void => {
        if (p.identity !== identity) return;
        done(p.kind === ParticipantKind.AGENT);
      };
      // Until shortly before the caller gives up: on a loaded host the successor's join can
      // reach this room well after the successor itself saw us.
      const timer = setTimeout(
        () => done(known() ?? false),
        HANDOVER_RPC_TIMEOUT_MS - HANDOVER_REPLY_MARGIN_MS,
      );
      const done = (v: boolean): void => {
        clearTimeout(timer);
        this.ctx.room.off(RoomEvent.ParticipantConnected, onJoin);
        resolve(v);
      };
      this.ctx.room.on(RoomEvent.ParticipantConnected, onJoin);
    });
  }

  /**
   * Takes the call over from the job named in the handoff: asks its agent to step aside, then
   * reads the session again (its final answers are stored by then). An old agent that is gone
   * already, or does not answer in time, does not stop the call from continuing.
   */
  private async takeOver(handoff: JobHandoff): Promise<SessionRecord | undefined> {
    const identity = agentIdentity(handoff.fromJob);
    const started = performance.now();
    if (this.ctx.room.remoteParticipants.has(identity)) {
      try {
        const reply = readHandoverReply(
          await this.ctx.room.localParticipant!.performRpc({
            destinationIdentity: identity,
            method: HANDOVER_RPC,
            payload: JSON.stringify({ sessionId: this.sessionId }),
            responseTimeout: HANDOVER_RPC_TIMEOUT_MS,
          }),
        );
        this.log.info(
          { ok: reply.ok, reason: reply.reason, tookMs: Math.round(performance.now() - started) },
          'handover requested from the earlier agent',
        );
        // What it could not store sits in its machine's spool: never reuse those seqs.
        if (reply.nextSeq !== undefined) this.handoverNextSeq = reply.nextSeq;
      } catch (err) {
        this.log.warn({ err }, 'the earlier agent did not answer the handover; resuming anyway');
      }
    } else {
      this.log.info('handover: the earlier agent has already left; resuming');
    }
    const current = await this.deps.sessions.get(this.sessionId);
    if (current && isResumedCall(current)) return current;
    // The old job ended the call meanwhile (the patient hung up, or its drain ran out).
    this.log.warn({ state: current?.state ?? 'missing' }, 'handover found the call ended; leaving');
    this.detached = true;
    this.ctx.shutdown('session_already_ended');
    return undefined;
  }

  /**
   * Whether this job is the session's current placement. A job that started after its attempt
   * was given up (the dispatcher moved on to a new room), or after the session ended, leaves
   * without touching the record.
   */
  private async currentDispatch(): Promise<SessionRecord | undefined> {
    const current = await this.deps.sessions.get(this.sessionId);
    const room = this.ctx.room.name ?? this.ctx.job.room?.name;
    const why = !current
      ? 'session_not_claimed'
      : TERMINAL_STATES.has(current.state)
        ? 'session_already_ended'
        : current.room && room && current.room !== room
          ? 'stale_dispatch'
          : undefined;
    if (!why && current) return current;
    this.log.warn({ why, state: current?.state }, 'not the current placement; leaving');
    this.detached = true;
    this.ctx.shutdown(why ?? 'session_not_claimed');
    return undefined;
  }

  /**
   * Where the interrupted call stood: what is stored (and, first, what this machine's spool
   * still holds of it, replayed so the store has it all), and the answers captured.
   */
  private async resumePoint(current: SessionRecord): Promise<ResumePoint> {
    const spool = this.deps.transcriptSpool;
    let spooledLastSeq: number | undefined;
    if (spool) {
      await withTimeout(
        spool.replayInto(this.deps.utterances, this.log, { sessionId: this.sessionId }),
        RESUME_SPOOL_MS,
        'resume spool replay',
      ).catch(() => undefined);
      spooledLastSeq = await spool.lastSeq(this.sessionId).catch(() => undefined);
    }
    const stored = await this.deps.utterances.listUtterances(this.sessionId);
    const point = resumePoint(current, stored, spooledLastSeq);
    for (const [field, answer] of Object.entries(point.answers)) {
      this.priorAnswers.set(field, answer);
    }
    this.log.warn(
      {
        startSeq: point.startSeq,
        storedUtterances: stored.length,
        answers: Object.keys(point.answers).length,
        attempts: current.attempts,
      },
      'resuming an interrupted call',
    );
    return point;
  }

  /** The agent's opening for a resumed call: the resume line, then where the protocol stands. */
  private resumeOptions(
    profile: RenderedProfile,
    line: string,
    scripted: ScriptedProtocolLLM | undefined,
    engineLeads: boolean,
  ): Partial<Pick<VoiceCareAgentOptions, 'greeting' | 'resume'>> {
    const point = this.resumed!;
    // The engine is put where the call stood even as a fallback, so a switch to it mid-call
    // does not start the protocol over.
    const opening = scripted?.resumeAt(
      engineStateFor(profile, point.answers, DEFAULT_CLOSING),
      (prompt) => `${line} ${prompt}`,
    );
    if (engineLeads && opening) return { greeting: opening };
    return {
      resume: {
        line,
        history: point.history,
        instructions: resumeInstructions(profile.protocol, point.answers, line),
      },
    };
  }

  /**
   * Ends the session as `no_show` when the patient has not joined within `timeoutMs` of the
   * agent, rather than waiting in an empty room until the room or the job times out.
   */
  private awaitPatient(
    identity: string,
    timeoutMs: number,
    missing: (timeoutMs: number) => Outcome,
  ): void {
    const present = () =>
      [...this.ctx.room.remoteParticipants.values()].some((p) => p.identity === identity);
    if (present()) return;
    const onJoin = (p: RemoteParticipant) => {
      if (p.identity !== identity) return;
      clearTimeout(this.noShowTimer);
      this.ctx.room.off(RoomEvent.ParticipantConnected, onJoin);
    };
    this.ctx.room.on(RoomEvent.ParticipantConnected, onJoin);
    this.noShowTimer = setTimeout(() => {
      this.ctx.room.off(RoomEvent.ParticipantConnected, onJoin);
      if (present() || this.outcome || this.handedOver) return;
      this.outcome = missing(timeoutMs);
      this.log.info(
        { timeoutMs, state: this.outcome.state, reason: this.outcome.code ?? this.outcome.reason },
        'patient not in the room; ending the call',
      );
      this.end(this.outcome);
    }, timeoutMs);
    this.noShowTimer.unref();
  }

  private async markActive(profile: RenderedProfile): Promise<void> {
    const { sessions, events } = this.deps;
    const at = this.now();
    try {
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
    } catch (err) {
      // We are in the room and the patient may be with us: a store blip must not hang up the
      // call. The dispatcher records `active` when it sees us join; the final record follows.
      this.log.warn({ err }, 'could not record the session active; carrying on with the call');
    }
    this.enqueue('session.started', async () => {
      await events.publish({
        type: 'session.started',
        sessionId: this.sessionId,
        at: at.toISOString(),
        room: this.ctx.room.name ?? '',
        profile: { id: profile.id, version: profile.version },
      });
      this.publisherWarm = true;
    });
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
      const outcome = closeOutcome(ev, this.outcome);
      if (!this.outcome && outcome.reason === 'job_shutdown') {
        // The framework closing under us (a drain that ran out) is no ending of ours: leave
        // the outcome unset so finalize can still leave a handed-off call open for its
        // successor, and write `interrupted` itself when nobody is coming.
        this.ctx.shutdown(outcome.reason);
        return;
      }
      this.end(outcome);
    });
  }

  /**
   * The recogniser watchdog (`stt-watchdog.ts`): speech the VAD heard and the recogniser did
   * not, `watchdogMs` after it ended, reconnects the recogniser and asks the patient again.
   */
  private watchStt(session: voice.AgentSession, reconnect: () => number): void {
    const { watchdogMs, repromptLine } = this.deps.cfg.faults.stt;
    if (watchdogMs === 0) return;
    const dog = new SttWatchdog({
      timeoutMs: watchdogMs,
      onDeaf: ({ speechMs, silentForMs }) => {
        const replaced = reconnect();
        // Nothing to reconnect (an on-machine recogniser): its silence is its answer.
        if (replaced === 0) return;
        this.faultTally.sttReconnects += 1;
        this.log.warn(
          { speechMs: Math.round(speechMs), silentForMs: Math.round(silentForMs), replaced },
          'speech with no transcript; recogniser reconnected',
        );
        if (!this.outcome) session.say(repromptLine, { allowInterruptions: true });
      },
    });
    this.sttWatchdog = dog;
    session.on(voice.AgentSessionEventTypes.UserStateChanged, (ev) => dog.userState(ev.newState));
    session.on(voice.AgentSessionEventTypes.UserInputTranscribed, () => dog.transcript());
    session.on(voice.AgentSessionEventTypes.Close, () => dog.stop());
  }

  private record(item: llm.ChatItem): void {
    // After a handover the successor numbers and writes the transcript.
    if (this.handedOver) return;
    const heard = utteranceFromMessage(this.sessionId, item);
    if (!heard || !this.sink) return;
    const citations = heard.role === 'agent' ? this.pendingCitations : undefined;
    if (citations) this.pendingCitations = undefined;
    const u = citations ? { ...heard, citations } : heard;
    this.tally.add(u);
    const seq = this.sink.append(u);
    if (u.role === 'patient') this.linkAnswers(item.id, seq);
    // The dialogue engine finished: these were the closing words, now played.
    if (u.role === 'agent' && this.protocolDone) {
      this.requestEnd(this.protocolDone === 'declined' ? 'declined' : 'protocol_complete');
    }
  }

  /** The care team's documents for this call, and what an answer or a deferral leaves. */
  private agentKnowledge(
    profile: RenderedProfile,
    scripted: ScriptedProtocolLLM | undefined,
  ): VoiceCareAgentOptions['knowledge'] {
    const { cfg, knowledge } = this.deps;
    const source = new SessionKnowledge({
      store: knowledge!.store,
      profileId: profile.id,
      minScore: cfg.knowledge.minScore,
      timeoutMs: cfg.knowledge.lookupTimeoutMs,
      logger: this.log,
    });
    return {
      lookup: (q) => source.lookup(q),
      scripted: this.scriptedKnowledge && scripted !== undefined,
      currentPrompt: () => scripted?.currentPrompt() ?? '',
      onAnswered: (hits) => this.onKnowledgeAnswer(hits),
      onDeferred: (lookup, question, turn, via) =>
        this.onKnowledgeDeferred(profile.id, lookup, question, turn?.messageId, via),
    };
  }

  private onKnowledgeAnswer(hits: readonly Hit[]): void {
    const ids = [...new Set([...(this.pendingCitations ?? []), ...hits.map((h) => h.passageId)])];
    this.pendingCitations = ids;
    this.log.info({ citations: ids }, 'answered from approved documents');
  }

  private onKnowledgeDeferred(
    profileId: string,
    lookup: Extract<Lookup, { kind: 'defer' }>,
    question: string,
    messageId: string | undefined,
    via: 'engine' | 'llm_tool',
  ): void {
    const at = this.now();
    const id = `${this.sessionId}:${messageId ?? `t${at.getTime()}`}`;
    const best = lookup.best;
    this.log.info(
      {
        followUpId: id,
        reason: lookup.reason,
        bestScore: best?.score,
        refusedBy: lookup.refusedBy,
        via,
      },
      'question deferred to the care team',
    );
    const store = this.deps.knowledge?.followUps;
    if (!store) return;
    this.enqueue('follow-up', () =>
      store.addFollowUp({
        id,
        sessionId: this.sessionId,
        profileId,
        reason: lookup.reason,
        question: question.slice(0, 1000),
        ...(best ? { bestScore: best.score, bestPassageId: best.passageId } : {}),
        ...(lookup.refusedBy?.length ? { refusedBy: lookup.refusedBy } : {}),
        via,
        at,
      }),
    );
  }

  /** The session's dialogue engine, as the framework LLM that runs it. */
  private scriptedLlm(
    profile: RenderedProfile,
    board: ExpectationBoard,
    settings: DialogueEnginePlan,
  ): ScriptedProtocolLLM {
    const engine = new DialogueEngine(profile, { now: this.now, expectations: board, ...settings });
    this.scriptedEngine = new ScriptedProtocolLLM({
      engine,
      logger: this.log,
      ...(this.scriptedKnowledge ? { handledElsewhere: isQuestion } : {}),
      onAnswer: (report) => this.onAnswer(report),
      onDone: ({ outcome }) => {
        this.protocolDone = outcome;
      },
      onRetract: ({ fields, done }) => {
        for (const f of fields) this.answers.delete(f);
        if (done) this.protocolDone = undefined;
      },
      onPlay: (play) => this.playEducation(engine, play),
    });
    return this.scriptedEngine;
  }

  /** An education step reached: its clip, then its question (see VoiceCareAgent.playEducation). */
  private playEducation(engine: DialogueEngine, play: { stepId: string; script: string }): void {
    const clip = this.clips.get(play.script);
    if (!clip) this.log.warn({ stepId: play.stepId }, 'education step without a clip');
    const playable = clip ? this.playable(play.stepId, clip) : undefined;
    this.voiceAgent?.playEducation(playable, () => engine.afterPlay().say, playable?.onPlayed);
  }

  /** The clip of an education step the LLM asked for (`play_education`), if one is approved. */
  private educationClip(profile: RenderedProfile, stepId: string): EducationClip | undefined {
    const script = profile.protocol.find((s) => s.id === stepId)?.play?.script;
    const clip = script ? this.clips.get(script) : undefined;
    if (!clip) {
      this.log.warn({ stepId }, 'education step without a clip');
      return undefined;
    }
    return this.playable(stepId, clip);
  }

  /** A loaded clip as the agent plays it, reporting how it went (never its words). */
  private playable(stepId: string, clip: LoadedClip): EducationClip {
    const started = Date.now();
    return {
      text: clip.text,
      audio: () => clipFrames(clip),
      onPlayed: (outcome) =>
        this.log.info(
          {
            stepId,
            clipId: clip.clipId,
            interrupted: outcome.interrupted,
            playedMs: Date.now() - started,
            clipMs: clip.durationMs,
          },
          'education clip played',
        ),
    };
  }

  private onSafety(match: SafetyMatch<SafetyRule>, status: EscalationStatus, turn: TurnInfo): void {
    this.escalate(match.rule, status, turn, {
      detector: 'rules',
      kind: match.trigger.kind,
      value: match.trigger.value,
    });
  }

  private onClassifierMatch(rule: SafetyRule, turn: TurnInfo): void {
    this.escalate(rule, 'confirmed', turn, {
      detector: 'classifier',
      kind: 'classifier',
      value: rule.id,
    });
  }

  private escalate(
    rule: SafetyRule,
    status: EscalationStatus,
    turn: TurnInfo,
    trigger: Escalation['trigger'],
  ): void {
    const at = this.now();
    const escalation: Escalation = {
      id: `${this.sessionId}:${turn.messageId}:${rule.id}:${status}`,
      ruleId: rule.id,
      severity: rule.escalation.severity,
      status,
      at,
      channel: turn.channel,
      trigger,
    };
    this.log.warn(
      {
        ruleId: rule.id,
        severity: rule.escalation.severity,
        status,
        detector: trigger.detector,
        channel: turn.channel,
        escalationId: escalation.id,
      },
      'safety rule matched',
    );
    // Outbox first, then Pub/Sub until acknowledged; in the background, never on the audio path.
    this.deps.escalations.send({
      id: escalation.id,
      sessionId: this.sessionId,
      createdAt: at,
      event: {
        type: 'session.escalation',
        sessionId: this.sessionId,
        at: at.toISOString(),
        escalationId: escalation.id,
        ruleId: rule.id,
        severity: escalation.severity,
        status: escalation.status,
        channel: escalation.channel,
        trigger: escalation.trigger,
      },
    });
    this.enqueue('escalation', () =>
      this.deps.sessions.addEscalation(this.sessionId, escalation, at),
    );
  }

  /**
   * An answer arrives before its patient message is recorded when the dialogue engine replies
   * (the framework adds the message to the history once the reply is scheduled): it is stored
   * now, and again with its seq once the message is recorded. The final record has them all.
   */
  private onAnswer(report: AnswerReport): void {
    this.answers.set(report.field, { ...report, at: this.now() });
    this.persist(report.field);
  }

  private linkAnswers(messageId: string, seq: number): void {
    this.seqByMessage.set(messageId, seq);
    for (const [field, r] of this.answers) {
      if (r.heard?.messageId === messageId || r.confirmedBy?.messageId === messageId) {
        this.persist(field);
      }
    }
  }

  private captured(field: string): CapturedAnswer | undefined {
    const r = this.answers.get(field);
    return r && toCapturedAnswer(r, (id) => this.seqByMessage.get(id), r.at);
  }

  private persist(field: string): void {
    const answer = this.captured(field);
    if (!answer) return;
    this.enqueue('answer', () =>
      this.deps.sessions.saveAnswers(this.sessionId, { [field]: answer }, this.now()),
    );
  }

  private capturedAll(): Record<string, CapturedAnswer> {
    const out: Record<string, CapturedAnswer> = Object.fromEntries(this.priorAnswers);
    for (const field of this.answers.keys()) {
      const a = this.captured(field);
      if (a) out[field] = a;
    }
    return out;
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
  async fail(code: string, reason: string): Promise<void> {
    this.outcome ??= { state: 'failed', code, reason };
    await this.finalize();
    this.ctx.shutdown(code);
  }

  private end(outcome: Outcome): void {
    this.outcome ??= outcome;
    this.ctx.shutdown(this.outcome.code ?? this.outcome.reason);
  }

  /** Runs on every job shutdown. Flushes transcripts and writes the final state exactly once. */
  private async finalize(): Promise<void> {
    if (this.finalized) return;
    this.finalized = true;
    // Side by side with the final record: the job's shutdown budget is small.
    const draining = this.deps.escalations
      .drain(ESCALATION_DRAIN_MS)
      .then(({ unfinished }) => {
        if (unfinished > 0) this.log.warn({ unfinished }, 'escalations left to the outbox relay');
      })
      .catch((err: unknown) => this.log.error({ err }, 'escalation drain failed'));
    if (this.handedOver) {
      clearTimeout(this.maxDurationTimer);
      clearTimeout(this.noShowTimer);
      await this.sink?.close({ deadlineMs: this.deps.cfg.faults.transcript.flushDeadlineMs });
      await draining;
      this.log.info(
        { turns: this.tally.summary().turns, faults: this.faultTally },
        'session handed over to a successor',
      );
      await this.deps.afterFinalize?.();
      return;
    }
    if (this.detached) {
      await draining;
      await this.deps.afterFinalize?.();
      return;
    }
    if (!this.outcome && (await this.successorIsComing())) {
      // The drain ran out before the successor asked: leave the call open for it (`handoff.ts`).
      this.handedOver = true;
      clearTimeout(this.maxDurationTimer);
      clearTimeout(this.noShowTimer);
      this.sttWatchdog?.stop();
      const flush = await this.sink?.close({
        deadlineMs: this.deps.cfg.faults.transcript.flushDeadlineMs,
      });
      await withTimeout(this.writes, 1000, 'session side writes').catch((err: unknown) =>
        this.log.error({ err }, 'session side writes unfinished at drain'),
      );
      await draining;
      this.log.info(
        { unwritten: flush?.unwritten ?? 0, spilled: flush?.spilled ?? 0 },
        'drain over before the successor asked; the call is left open for it',
      );
      await this.deps.afterFinalize?.();
      return;
    }
    try {
      await this.writeFinalRecord();
    } finally {
      await draining;
      await this.deps.afterFinalize?.();
    }
  }

  /**
   * Whether this worker's drain dispatched the call to a successor (the session names this job
   * as the one leaving). Unknown counts as no: the call is then ended here, as before handoffs.
   */
  private async successorIsComing(): Promise<boolean> {
    try {
      const record = await withTimeout(
        this.deps.sessions.get(this.sessionId),
        SUCCESSOR_CHECK_MS,
        'handoff check',
      );
      return record?.state === 'active' && record.handoff?.fromJob === this.ctx.job.id;
    } catch (err) {
      this.log.warn({ err }, 'could not tell whether a successor is coming; ending the call');
      return false;
    }
  }

  private async writeFinalRecord(): Promise<void> {
    clearTimeout(this.maxDurationTimer);
    clearTimeout(this.noShowTimer);
    this.sttWatchdog?.stop();
    const answers = this.capturedAll();
    // Shut down without an ending of our own: the worker is draining or the job was killed.
    const outcome = finalOutcome(
      this.outcome ?? { state: 'interrupted', reason: 'job_shutdown' },
      this.profile ? unansweredRequired(this.profile.protocol, answers) : [],
    );

    // Not longer: what the store has not taken by then goes to the local spool (the sink does
    // it), which outlives this process; a paused MongoDB would otherwise hold the job until
    // the framework kills it, and its transcript with it.
    const flush = this.sink
      ? await this.sink.close({ deadlineMs: this.deps.cfg.faults.transcript.flushDeadlineMs })
      : undefined;
    if (flush && flush.unwritten > 0) {
      this.log.error({ unwritten: flush.unwritten }, 'utterances not persisted before shutdown');
    }
    if (flush) {
      const { durabilityMs, writeMs, batches, failedAttempts, boundReached, timedOutAttempts } =
        flush.stats;
      this.log.info(
        {
          transcript: {
            written: flush.written,
            spilled: flush.spilled,
            batches,
            failedAttempts,
            timedOutAttempts,
            boundReached,
            durabilityMs,
            writeMs,
          },
        },
        'transcript sink stats',
      );
    }
    await withTimeout(this.writes, 1000, 'session side writes').catch((err: unknown) =>
      this.log.error({ err }, 'session side writes unfinished at shutdown'),
    );

    const at = this.now();
    const patch = {
      summary: { ...this.tally.summary(), intruders: this.intruders.size },
      answers,
      endReason: outcome.code ?? outcome.reason,
      ...optional('endedBy', outcome.endedBy),
      ...optional('unanswered', outcome.unanswered),
      ...(outcome.state === 'completed'
        ? {}
        : { failureCode: outcome.code ?? outcome.reason, failureReason: outcome.reason }),
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
            code: outcome.code ?? 'failed',
          }
        : {
            type: 'session.completed' as const,
            sessionId: this.sessionId,
            at: at.toISOString(),
            state: outcome.state,
            reason: outcome.reason,
            ...optional('unanswered', outcome.unanswered),
          };
    await withTimeout(
      this.deps.events.publish(event),
      FINAL_EVENT_TIMEOUT_MS[this.publisherWarm ? 'warm' : 'cold'],
      'final session event',
    ).catch((err: unknown) => this.log.error({ err }, 'could not publish final session event'));
    this.log.info(
      {
        state: outcome.state,
        reason: outcome.reason,
        turns: patch.summary.turns,
        unanswered: outcome.unanswered?.length ?? 0,
        typedTurns: this.typedTurns,
        intruders: this.intruders.size,
        safetyClassifier: this.classifierStats,
        faults: this.faultTally,
      },
      'session finished',
    );
  }
}
