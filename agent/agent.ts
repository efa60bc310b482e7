/**
 * The conversational agent a clinician's profile describes. Built on the framework's
 * `voice.Agent`: the pipeline (STT → LLM → TTS, VAD, turn detection, barge-in) is the
 * framework's; this class adds what is ours.
 *
 * - Safety rules run deterministically on every final patient utterance, before the LLM
 *   (`onUserTurnCompleted`). A match speaks the rule's fixed response in the same turn and
 *   suppresses the generated reply. Nothing the patient says is read as an instruction.
 * - Text typed into the room (`lk.chat`) takes the same path (`onTypedTurn`), so every check
 *   in `onUserTurnCompleted` holds on both channels.
 * - With a classifier, every turn also gets an LLM second opinion off the reply path; it can add
 *   an escalation (and speak its rule's response), never remove one.
 * - End phrases end the call politely.
 * - Protocol answers are captured through a `record_answer` tool; the LLM can end the call
 *   with `end_call` (both in protocol/tools.ts). Each answer names the patient turn it came from:
 *   the latest one an LLM generation was given (`llmNode`).
 */
import { llm, voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import type { Profile, SafetyRule } from '../prompts/schema.ts';
import type { EscalationStatus } from '../sessions/schema.ts';
import { dateIn, toIso } from './protocol/calendar.ts';
import type { Expectation, ExpectationBoard } from './protocol/expectation.ts';
import {
  protocolBrief,
  protocolTools,
  type AnswerReport,
  type HeardUtterance,
} from './protocol/index.ts';
import { parseYesNo } from './protocol/parse.ts';
import {
  DEFER_LINE,
  KNOWLEDGE_BRIEF,
  isQuestion,
  knowledgeTools,
  type Hit,
  type Lookup,
} from '../knowledge/index.ts';
import type { ClassifierResult, SafetyClassifier } from './safety/classifier.ts';
import { assessSafety, shippedContextModel, type ContextModel } from './safety/context-model.ts';
import {
  IDLE,
  certaintyOf,
  stepConfirmation,
  type ConfirmEvent,
  type ConfirmState,
  type RecognitionJournal,
  type SafetyDecision,
} from './safety/confirm.ts';
import {
  compileSafetyRules,
  containsPhrase,
  type CompiledSafetyRules,
  type SafetyMatch,
} from './safety/matcher.ts';

/** A profile with its templates rendered for one patient. */
export type RenderedProfile = Profile;

export type EndReason =
  | 'end_phrase'
  | 'end_tool'
  | 'protocol_complete'
  | 'declined'
  | 'safety'
  | 'max_duration'
  | 'silence_timeout';

export interface VoiceCareAgentOptions {
  /** The opening words. @defaultValue the profile's firstMessage */
  greeting?: string;
  /**
   * This job continues a call a failed worker left (`agent/resume.ts`): the conversation so far
   * goes into the LLM's context, the patient hears `line` instead of the greeting, and the LLM
   * carries on with `instructions` (which steps are answered, which one is next).
   */
  /**
   * The LLM's holding line (`providers/resilience.ts`): when a reply starts with it, it is
   * synthesised on its own, so it plays at once instead of waiting in the TTS's sentence
   * buffer for the reply that is late.
   */
  holdLine?: string;
  resume?: {
    line: string;
    history: readonly { role: 'user' | 'assistant'; text: string }[];
    instructions: string;
  };
  /** The recogniser is the embedded one: free speech it hears is a guess. @defaultValue false */
  embeddedStt?: boolean;
  /** The patient's IANA time zone, for plausible dates. @defaultValue the host's */
  timeZone?: string;
  /** What the local recogniser listens for: yes/no while a suspected red flag is confirmed. */
  expectations?: ExpectationBoard;
  /** The embedded recogniser's notes, which tell a closed-grammar or low-confidence turn. */
  recognitions?: RecognitionJournal;
  /** An unanswered confirming question confirms after this long. @defaultValue 10000 */
  confirmTimeoutMs?: number;
  /** A second opinion on every patient turn, off the reply path. @defaultValue none */
  classifier?: SafetyClassifier;
  /**
   * The learned second stage of the safety rules (safety/context-model.ts): a match it doubts
   * is asked about first (the care team is told at once, as for a doubtful recognition), one
   * it is sure is not a report is dropped; the record names its part (`trigger.model`).
   * `null` switches it off: every match acts at once, as before.
   * @defaultValue the shipped model (safety/context-model.json)
   */
  contextModel?: ContextModel | null;
  /** The care team's approved documents, for patients' questions. @defaultValue none */
  knowledge?: AgentKnowledge;
  /**
   * An education step's approved clip, for the LLM's `play_education` tool (the dialogue engine
   * plays clips through {@link VoiceCareAgent.playEducation} itself). @defaultValue none
   */
  educationClip?: (stepId: string) => EducationClip | undefined;
}

/** A clip ready to play: its words (the transcript), its audio, and who hears how it went. */
export interface EducationClip {
  text: string;
  audio: () => ReadableStream<AudioFrame>;
  onPlayed?: (outcome: { interrupted: boolean }) => void;
}

/**
 * Answers from the care team's documents. With an LLM, the `lookup_knowledge` tool; with the
 * dialogue engine (`scripted`), a question is recognised here, after the safety rules, and the
 * best approved passage is read verbatim before the question now waiting is put again.
 */
export interface AgentKnowledge {
  lookup(question: string): Promise<Lookup>;
  /** The dialogue engine leads: questions are answered here, not by an LLM. */
  scripted: boolean;
  /** The question the engine is waiting on, put again after an answer. */
  currentPrompt(): string;
  /** Passages are being spoken (or the LLM was given them): the next agent words cite them. */
  onAnswered(hits: readonly Hit[], turn: TurnInfo | undefined): void;
  /** No approved answer: the care team is asked. */
  onDeferred(
    lookup: Extract<Lookup, { kind: 'defer' }>,
    question: string,
    turn: TurnInfo | undefined,
    via: 'engine' | 'llm_tool',
  ): void;
}

/** How a patient turn reached us: spoken, or typed into the room (`lk.chat`). */
export type TurnChannel = 'speech' | 'text';

export interface TurnInfo {
  channel: TurnChannel;
  /**
   * The framework's id of the patient message: unique per turn and stable while it is retried,
   * so escalations keyed on it are de-duplicated without colliding across jobs of one session.
   */
  messageId: string;
}

/** Where a turn came from. Typed turns are marked when they are built ({@link VoiceCareAgent.onTypedTurn}). */
export function channelOf(message: llm.ChatMessage): TurnChannel {
  return message.extra['channel'] === 'text' ? 'text' : 'speech';
}

/** Said after the patient denies a suspected red flag, before the protocol goes on. */
export const CONFIRM_DENIED = 'Thank you. Let us carry on.';

/** What the agent tells its session runner. Calls must not throw and must not block. */
export interface AgentHooks {
  /**
   * A red flag: `confirmed` (acted on), `suspected` (heard unsure; the patient is being asked)
   * or `denied` (the patient said no to that question), on the channel the turn came by.
   */
  onSafetyMatch(match: SafetyMatch<SafetyRule>, status: EscalationStatus, turn: TurnInfo): void;
  /** The classifier flagged a rule the deterministic matcher did not fire on this turn. */
  onClassifierMatch(rule: SafetyRule, turn: TurnInfo): void;
  /**
   * A patient turn the agent answered without the LLM (safety, end phrase). The framework does
   * not record such turns itself, so the runner stores them.
   */
  onHandledTurn(message: llm.ChatMessage): void;
  onAnswer(report: AnswerReport): void;
  onEnd(reason: EndReason): void;
}

export const DEFAULT_CLOSING = 'Thank you for your time. Goodbye.';

export class VoiceCareAgent extends voice.Agent {
  readonly profile: RenderedProfile;
  private readonly hooks: AgentHooks;
  private readonly safety: CompiledSafetyRules<SafetyRule>;
  private readonly contextModel: ContextModel | undefined;
  private ending = false;

  private readonly greeting: string;
  /** The patient turn the latest LLM generation answers: what record_answer attributes to. */
  private answering: HeardUtterance | undefined;
  /** That turn's words and channel (for a follow-up the care team reads). */
  private answeringText: string | undefined;
  private answeringChannel: TurnChannel = 'speech';
  private readonly opts: VoiceCareAgentOptions;
  private confirmation: ConfirmState<SafetyRule> = IDLE;
  /** What the recogniser listened for before the confirming question. */
  private resumeExpectation: Expectation | undefined;
  private confirmTimer: NodeJS.Timeout | undefined;
  private readonly classifier: SafetyClassifier | undefined;
  /** Classifications in flight: tracked so none floats, aborted when the agent leaves. */
  private readonly classifying = new Set<Promise<void>>();
  private readonly leaving = new AbortController();

  constructor(profile: RenderedProfile, hooks: AgentHooks, opts: VoiceCareAgentOptions = {}) {
    const timeZone = opts.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    const knowledge = opts.knowledge;
    super({
      instructions: [
        profile.instructions,
        protocolBrief(profile.protocol),
        ...(knowledge ? [KNOWLEDGE_BRIEF] : []),
      ].join('\n\n'),
      tools: {
        ...(knowledge
          ? knowledgeTools({
              lookup: (q) => knowledge.lookup(q),
              onAnswer: (hits) => knowledge.onAnswered(hits, this.answeringTurn()),
              // The patient's own words for the care team, not the model's paraphrase.
              onDefer: (lookup, q) =>
                knowledge.onDeferred(
                  lookup,
                  this.answeringText ?? q,
                  this.answeringTurn(),
                  'llm_tool',
                ),
            })
          : {}),
        ...protocolTools({
          steps: profile.protocol,
          heard: () => this.answering,
          embeddedStt: opts.embeddedStt ?? false,
          today: () => toIso(dateIn(new Date(), timeZone)),
          onAnswer: (report) => hooks.onAnswer(report),
          onEndCall: () => this.requestEnd('end_tool'),
          ...(opts.educationClip
            ? {
                onPlay: (stepId: string) => {
                  const clip = opts.educationClip?.(stepId);
                  if (!clip || this.ending) return 'no_clip' as const;
                  this.playEducation(clip, () => '', clip.onPlayed);
                  return 'playing' as const;
                },
              }
            : {}),
        }),
      },
      ...(opts.resume ? { chatCtx: historyContext(opts.resume.history) } : {}),
    });
    this.profile = profile;
    this.hooks = hooks;
    this.greeting = opts.greeting ?? profile.firstMessage;
    this.opts = opts;
    this.safety = compileSafetyRules(profile.safety);
    this.contextModel =
      opts.contextModel === null ? undefined : (opts.contextModel ?? shippedContextModel());
    this.classifier = opts.classifier;
  }

  override async onEnter(): Promise<void> {
    const resume = this.opts.resume;
    if (resume) {
      this.session.say(resume.line, { allowInterruptions: true });
      this.session.generateReply({ instructions: resume.instructions });
      return;
    }
    this.session.say(this.greeting, { allowInterruptions: true });
  }

  /**
   * An education step's clip: played through the session's output once what is being said now
   * has played, with barge-in allowed; played to the end, `next()` gives the step's question,
   * said at once. Talked over, it stops and the patient's turn goes through the safety rules
   * like any other before the protocol puts the question. No clip: the question straight away.
   */
  playEducation(
    clip: Omit<EducationClip, 'onPlayed'> | undefined,
    next: () => string,
    onPlayed?: (outcome: { interrupted: boolean }) => void,
  ): void {
    const sayNext = (): void => {
      if (this.ending) return;
      const question = next();
      if (question) this.session.say(question, { allowInterruptions: true });
    };
    if (this.ending) return;
    if (!clip) return sayNext();
    const handle = this.session.say(clip.text, { audio: clip.audio(), allowInterruptions: true });
    handle.waitForPlayout().then(
      () => {
        onPlayed?.({ interrupted: handle.interrupted });
        if (!handle.interrupted) sayNext();
      },
      () => onPlayed?.({ interrupted: true }),
    );
  }

  override async onExit(): Promise<void> {
    clearTimeout(this.confirmTimer);
    this.leaving.abort();
    await Promise.allSettled([...this.classifying]);
  }

  override async onUserTurnCompleted(
    _chatCtx: llm.ChatContext,
    message: llm.ChatMessage,
  ): Promise<void> {
    const text = message.textContent ?? '';
    const turn: TurnInfo = { channel: channelOf(message), messageId: message.id };
    this.classifyInBackground(message);
    const assessed = assessSafety(this.safety, text, this.contextModel);
    const match = assessed.match;
    // Typed words are exactly what the patient meant: only heard ones can be misheard.
    const notes = turn.channel === 'speech' ? (this.opts.recognitions?.take(text) ?? []) : [];
    const confirming = this.confirmation.pending !== undefined;
    const answer = confirming ? parseYesNo(text) : undefined;
    const decisions = this.stepSafety({
      type: 'turn',
      match,
      // A match the context model doubts takes the same path as a doubtful recognition.
      certainty:
        assessed.outcome === 'confirm'
          ? 'unsure'
          : match && turn.channel === 'speech'
            ? certaintyOf(notes, message.transcriptConfidence)
            : 'sure',
      answer: answer?.ok ? answer.value : undefined,
    });
    if (decisions.length > 0 && this.applySafety(decisions, turn)) {
      await this.keepTurn(message);
      throw new voice.StopResponse();
    }
    if (containsPhrase(this.profile.endPhrases, text)) {
      await this.keepTurn(message);
      const handle = this.session.say(this.profile.closingMessage ?? DEFAULT_CLOSING, {
        allowInterruptions: false,
      });
      handle.waitForPlayout().then(
        () => this.requestEnd('end_phrase'),
        () => this.requestEnd('end_phrase'),
      );
      throw new voice.StopResponse();
    }
    const knowledge = this.opts.knowledge;
    if (knowledge?.scripted && isQuestion(text)) {
      await this.keepTurn(message);
      await this.answerFromDocuments(knowledge, text, turn);
      throw new voice.StopResponse();
    }
  }

  /**
   * The dialogue engine's answer to a question: the best approved passage, read as written, or
   * the care team is asked; either way the question now waiting is put again.
   */
  private async answerFromDocuments(
    knowledge: AgentKnowledge,
    question: string,
    turn: TurnInfo,
  ): Promise<void> {
    const result = await knowledge.lookup(question);
    if (this.ending) return;
    const prompt = knowledge.currentPrompt();
    const best = result.kind === 'answer' ? result.hits[0] : undefined;
    if (best) knowledge.onAnswered([best], turn);
    else if (result.kind === 'defer') knowledge.onDeferred(result, question, turn, 'engine');
    this.session.say(`${best ? best.text : DEFER_LINE} ${prompt}`.trim(), {
      allowInterruptions: true,
    });
  }

  private answeringTurn(): TurnInfo | undefined {
    const id = this.answering?.messageId;
    return id ? { channel: this.answeringChannel, messageId: id } : undefined;
  }

  /**
   * Notes the patient turn this generation answers before handing over to the framework's
   * node: tool calls made during it are that turn's answers. Tool calls arrive while their
   * generation streams, before a later patient turn can start another.
   */
  override async llmNode(
    chatCtx: llm.ChatContext,
    toolCtx: llm.ToolContext,
    modelSettings: voice.ModelSettings,
  ): ReturnType<voice.Agent['llmNode']> {
    const latest = chatCtx.items.findLast(
      (i): i is llm.ChatMessage => i.type === 'message' && i.role === 'user',
    );
    if (latest) {
      this.answeringText = latest.textContent ?? undefined;
      this.answeringChannel = channelOf(latest);
      this.answering = {
        messageId: latest.id,
        ...(latest.transcriptConfidence !== undefined
          ? { confidence: latest.transcriptConfidence }
          : {}),
      };
    }
    return voice.Agent.default.llmNode(this, chatCtx, toolCtx, modelSettings);
  }

  override async ttsNode(
    text: ReadableStream<string> | AsyncIterable<string>,
    modelSettings: voice.ModelSettings,
  ): ReturnType<voice.Agent['ttsNode']> {
    const hold = this.opts.holdLine;
    if (!hold) return voice.Agent.default.ttsNode(this, text, modelSettings);
    const reader = (text instanceof ReadableStream ? text : streamOf(text)).getReader();
    const first = await reader.read();
    const head = first.done ? '' : first.value;
    const rest = (prefix: string): ReadableStream<string> =>
      new ReadableStream<string>({
        start(c) {
          if (prefix) c.enqueue(prefix);
        },
        async pull(c) {
          const r = await reader.read();
          if (r.done) c.close();
          else c.enqueue(r.value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
    if (!head.startsWith(hold)) return voice.Agent.default.ttsNode(this, rest(head), modelSettings);
    const held = await voice.Agent.default.ttsNode(this, streamOf([hold]), modelSettings);
    const after = head.slice(hold.length);
    const replyAudio = () => voice.Agent.default.ttsNode(this, rest(after), modelSettings);
    return new ReadableStream({
      async start(c) {
        if (held) for await (const frame of held) c.enqueue(frame);
        const reply = await replyAudio();
        if (reply) for await (const frame of reply) c.enqueue(frame);
        c.close();
      },
      cancel: (reason) => reader.cancel(reason),
    });
  }

  private stepSafety(event: ConfirmEvent<SafetyRule>): SafetyDecision<SafetyRule>[] {
    const { state, decisions } = stepConfirmation(this.confirmation, event);
    this.confirmation = state;
    return decisions;
  }

  /**
   * Tells the runner first (the care team hears at once), then speaks. Returns whether the turn
   * was answered here; after a denial the conversation goes on as if nothing was suspected.
   */
  private applySafety(decisions: readonly SafetyDecision<SafetyRule>[], turn: TurnInfo): boolean {
    clearTimeout(this.confirmTimer);
    for (const d of decisions) this.hooks.onSafetyMatch(d.match, d.status, turn);
    const board = this.opts.expectations;
    const ask = decisions.find((d) => d.kind === 'ask');
    if (ask) {
      this.resumeExpectation = board?.current();
      board?.set({ kind: 'confirm', stepId: `safety:${ask.match.rule.id}` });
      const handle = this.session.say(ask.question, { allowInterruptions: false });
      const arm = (): void => {
        clearTimeout(this.confirmTimer);
        this.confirmTimer = setTimeout(
          // No answer: act on the suspected turn itself.
          () => this.applySafety(this.stepSafety({ type: 'timeout' }), turn),
          this.opts.confirmTimeoutMs ?? 10_000,
        );
        this.confirmTimer.unref();
      };
      handle.waitForPlayout().then(arm, arm);
      return true;
    }
    if (this.resumeExpectation && board) board.set(this.resumeExpectation);
    this.resumeExpectation = undefined;
    if (decisions.some((d) => d.kind === 'deny')) {
      this.session.say(CONFIRM_DENIED, { allowInterruptions: false });
      return false;
    }
    const acted = decisions.filter((d) => d.kind === 'act');
    const first = acted[0];
    if (!first) return false;
    // The fixed response is spoken as written and cannot be talked over by the LLM.
    const handle = this.session.say(first.match.rule.response, { allowInterruptions: false });
    if (acted.some((d) => d.match.rule.endSession)) {
      handle.waitForPlayout().then(
        () => this.requestEnd('safety'),
        () => this.requestEnd('safety'),
      );
    }
    return true;
  }

  /**
   * A patient turn typed into the room. It goes through {@link onUserTurnCompleted}, exactly as
   * a spoken turn does, so every check there (safety rules, end phrases, the classifier) applies
   * to both channels; only an unhandled turn reaches the LLM, as a user message.
   * `text` must already be cleaned and capped (`agent/text-input.ts`).
   */
  async onTypedTurn(text: string): Promise<void> {
    const message = llm.ChatMessage.create({
      role: 'user',
      content: text,
      extra: { channel: 'text' },
    });
    // Typing while the agent talks is a barge-in, as speaking over it would be (the VAD stops
    // the agent before a spoken turn is even transcribed), except over a speech that must not
    // be interrupted (a safety response): the reply then waits its turn. Before the checks, so
    // a red flag typed over a long education clip is answered at once, not after the clip.
    if (!this.ending) this.interruptQuietly();
    let failure: unknown;
    try {
      await this.onUserTurnCompleted(this.chatCtx.copy(), message);
    } catch (err) {
      if (err instanceof voice.StopResponse) return;
      // As for speech (agent_activity): a failing check does not leave the patient unanswered;
      // the failure is reported once the reply is on its way.
      failure = err;
    }
    if (this.ending) {
      // The call is closing; keep what the patient typed without answering it.
      this.hooks.onHandledTurn(message);
    } else {
      this.session.generateReply({ userInput: message });
    }
    if (failure !== undefined) throw failure;
  }

  /** Stops an interruptible reply. The framework throws if the current speech is protected. */
  private interruptQuietly(): void {
    try {
      void this.session.interrupt().await.catch(() => undefined);
    } catch {
      // The current speech does not allow interruptions, or nothing is running.
    }
  }

  private classifyInBackground(message: llm.ChatMessage): void {
    const classifier = this.classifier;
    const text = message.textContent?.trim();
    if (!classifier || !text || this.leaving.signal.aborted) return;
    const turn: TurnInfo = { channel: channelOf(message), messageId: message.id };
    const task = classifier
      .classify(text, this.leaving.signal)
      .then((result) => this.onClassified(text, turn, result))
      .catch(() => undefined)
      .finally(() => this.classifying.delete(task));
    this.classifying.add(task);
  }

  /**
   * A classifier verdict, seconds after the turn. Rules the deterministic matcher already fired
   * on this turn are its own; anything else the classifier found is escalated and its response
   * spoken at once, over the generated reply if that is playing, ending the call for an
   * `endSession` rule just as a deterministic hit would.
   */
  private onClassified(text: string, turn: TurnInfo, result: ClassifierResult): void {
    if (!result.ok) return;
    const fired = assessSafety(this.safety, text, this.contextModel).match?.rule.id;
    const added = this.profile.safety.filter(
      (r) => r.id !== fired && result.ruleIds.includes(r.id),
    );
    if (!added.length) return;
    for (const rule of added) this.hooks.onClassifierMatch(rule, turn);
    if (this.ending) return;
    this.interruptQuietly();
    const ends = added.some((r) => r.endSession);
    let last: voice.SpeechHandle | undefined;
    for (const rule of added) {
      try {
        last = this.session.say(rule.response, { allowInterruptions: false });
      } catch {
        // The session is closing; the escalation is on record all the same.
        return;
      }
    }
    if (ends && last) {
      last.waitForPlayout().then(
        () => this.requestEnd('safety'),
        () => this.requestEnd('safety'),
      );
    }
  }

  /** Keeps a turn we answer ourselves in the transcript and in the LLM's context. */
  private async keepTurn(message: llm.ChatMessage): Promise<void> {
    this.hooks.onHandledTurn(message);
    const ctx = this.chatCtx.copy();
    ctx.insert(message);
    await this.updateChatCtx(ctx);
  }

  private requestEnd(reason: EndReason): void {
    if (this.ending) return;
    this.ending = true;
    this.hooks.onEnd(reason);
  }
}

/** A resumed call's conversation so far, as the LLM's starting context. */
function historyContext(
  history: readonly { role: 'user' | 'assistant'; text: string }[],
): llm.ChatContext {
  const ctx = llm.ChatContext.empty();
  for (const h of history) ctx.addMessage({ role: h.role, content: h.text });
  return ctx;
}

function streamOf<T>(items: Iterable<T> | AsyncIterable<T>): ReadableStream<T> {
  return new ReadableStream<T>({
    async start(c) {
      for await (const item of items) c.enqueue(item);
      c.close();
    },
  });
}
