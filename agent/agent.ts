/**
 * The conversational agent a clinician's profile describes. Built on the framework's
 * `voice.Agent`: the pipeline (STT → LLM → TTS, VAD, turn detection, barge-in) is the
 * framework's; this class adds what is ours.
 *
 * - Safety rules run deterministically on every final patient utterance, before the LLM
 *   (`onUserTurnCompleted`). A match speaks the rule's fixed response in the same turn and
 *   suppresses the generated reply. Nothing the patient says is read as an instruction.
 * - End phrases end the call politely.
 * - Protocol answers are captured through a `record_answer` tool; the LLM can end the call
 *   with `end_call` (both in protocol/tools.ts). Each answer names the patient turn it came from:
 *   the latest one an LLM generation was given (`llmNode`).
 */
import { type llm, voice } from '@livekit/agents';
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
  matchSafety,
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
}

/** Said after the patient denies a suspected red flag, before the protocol goes on. */
export const CONFIRM_DENIED = 'Thank you. Let us carry on.';

/** What the agent tells its session runner. Calls must not throw and must not block. */
export interface AgentHooks {
  /**
   * A red flag: `confirmed` (acted on), `suspected` (heard unsure; the patient is being asked)
   * or `denied` (the patient said no to that question).
   */
  onSafetyMatch(match: SafetyMatch<SafetyRule>, status: EscalationStatus): void;
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
  private ending = false;

  private readonly greeting: string;
  /** The patient turn the latest LLM generation answers: what record_answer attributes to. */
  private answering: HeardUtterance | undefined;
  private readonly opts: VoiceCareAgentOptions;
  private confirmation: ConfirmState<SafetyRule> = IDLE;
  /** What the recogniser listened for before the confirming question. */
  private resumeExpectation: Expectation | undefined;
  private confirmTimer: NodeJS.Timeout | undefined;

  constructor(profile: RenderedProfile, hooks: AgentHooks, opts: VoiceCareAgentOptions = {}) {
    const timeZone = opts.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    super({
      instructions: `${profile.instructions}\n\n${protocolBrief(profile.protocol)}`,
      tools: protocolTools({
        steps: profile.protocol,
        heard: () => this.answering,
        embeddedStt: opts.embeddedStt ?? false,
        today: () => toIso(dateIn(new Date(), timeZone)),
        onAnswer: (report) => hooks.onAnswer(report),
        onEndCall: () => this.requestEnd('end_tool'),
      }),
    });
    this.profile = profile;
    this.hooks = hooks;
    this.greeting = opts.greeting ?? profile.firstMessage;
    this.opts = opts;
    this.safety = compileSafetyRules(profile.safety);
  }

  override async onEnter(): Promise<void> {
    this.session.say(this.greeting, { allowInterruptions: true });
  }

  override async onUserTurnCompleted(
    _chatCtx: llm.ChatContext,
    message: llm.ChatMessage,
  ): Promise<void> {
    const text = message.textContent ?? '';
    const match = matchSafety(this.safety, text);
    const notes = this.opts.recognitions?.take(text) ?? [];
    const confirming = this.confirmation.pending !== undefined;
    const answer = confirming ? parseYesNo(text) : undefined;
    const decisions = this.stepSafety({
      type: 'turn',
      match,
      certainty: match ? certaintyOf(notes, message.transcriptConfidence) : 'sure',
      answer: answer?.ok ? answer.value : undefined,
    });
    if (decisions.length > 0 && this.applySafety(decisions)) {
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
      this.answering = {
        messageId: latest.id,
        ...(latest.transcriptConfidence !== undefined
          ? { confidence: latest.transcriptConfidence }
          : {}),
      };
    }
    return voice.Agent.default.llmNode(this, chatCtx, toolCtx, modelSettings);
  }

  override async onExit(): Promise<void> {
    clearTimeout(this.confirmTimer);
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
  private applySafety(decisions: readonly SafetyDecision<SafetyRule>[]): boolean {
    clearTimeout(this.confirmTimer);
    for (const d of decisions) this.hooks.onSafetyMatch(d.match, d.status);
    const board = this.opts.expectations;
    const ask = decisions.find((d) => d.kind === 'ask');
    if (ask) {
      this.resumeExpectation = board?.current();
      board?.set({ kind: 'confirm', stepId: `safety:${ask.match.rule.id}` });
      const handle = this.session.say(ask.question, { allowInterruptions: false });
      const arm = (): void => {
        clearTimeout(this.confirmTimer);
        this.confirmTimer = setTimeout(
          () => this.applySafety(this.stepSafety({ type: 'timeout' })),
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
