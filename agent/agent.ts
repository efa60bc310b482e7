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
 *   with `end_call`.
 */
import { llm, voice } from '@livekit/agents';
import { z } from 'zod';
import type { Profile, ProtocolStep, SafetyRule } from '../prompts/schema.ts';
import type { EscalationStatus } from '../sessions/schema.ts';
import type { Expectation, ExpectationBoard } from './protocol/expectation.ts';
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
  'end_phrase' | 'end_tool' | 'protocol_complete' | 'safety' | 'max_duration' | 'silence_timeout';

export interface VoiceCareAgentOptions {
  /** The opening words. @defaultValue the profile's firstMessage */
  greeting?: string;
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
  onAnswer(field: string, value: string | number | boolean): void;
  onEnd(reason: EndReason): void;
}

export const DEFAULT_CLOSING = 'Thank you for your time. Goodbye.';

function protocolBrief(steps: readonly ProtocolStep[]): string {
  const lines = steps.map((s, i) => {
    const c = s.capture;
    const kind =
      c.type === 'choice'
        ? `one of: ${c.choices.join(', ')}`
        : c.type === 'number'
          ? `a number${c.unit ? ` (${c.unit})` : ''}${c.min !== undefined ? `, min ${c.min}` : ''}${c.max !== undefined ? `, max ${c.max}` : ''}`
          : c.type === 'yesno'
            ? 'yes or no'
            : c.type;
    return `${i + 1}. [${c.field}] Ask: "${s.ask}" Purpose: ${s.intent}. Answer: ${kind}.${s.confirm ? ' Confirm the answer back before moving on.' : ''}`;
  });
  return [
    'Follow this protocol in order, one question at a time.',
    'After each answer, call record_answer with the field name in brackets and the answer.',
    'When every step is done, say the closing words and call end_call.',
    ...lines,
  ].join('\n');
}

/** Checks a captured value against the step's capture type. Returns an error message or null. */
export function checkAnswer(step: ProtocolStep, value: unknown): string | null {
  const c = step.capture;
  switch (c.type) {
    case 'yesno':
      return typeof value === 'boolean' ? null : 'expected true for yes or false for no';
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'expected a number';
      if (c.min !== undefined && value < c.min) return `must be at least ${c.min}`;
      if (c.max !== undefined && value > c.max) return `must be at most ${c.max}`;
      return null;
    }
    case 'choice':
      return typeof value === 'string' &&
        c.choices.some((x) => x.toLowerCase() === value.toLowerCase())
        ? null
        : `expected one of: ${c.choices.join(', ')}`;
    case 'date':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value))
        ? null
        : 'expected a date as YYYY-MM-DD';
    case 'text':
      return typeof value === 'string' && value.trim() ? null : 'expected some text';
  }
}

export class VoiceCareAgent extends voice.Agent {
  readonly profile: RenderedProfile;
  private readonly hooks: AgentHooks;
  private readonly safety: CompiledSafetyRules<SafetyRule>;
  private ending = false;

  private readonly greeting: string;
  private readonly opts: VoiceCareAgentOptions;
  private confirmation: ConfirmState<SafetyRule> = IDLE;
  /** What the recogniser listened for before the confirming question. */
  private resumeExpectation: Expectation | undefined;
  private confirmTimer: NodeJS.Timeout | undefined;

  constructor(profile: RenderedProfile, hooks: AgentHooks, opts: VoiceCareAgentOptions = {}) {
    const byField = new Map(profile.protocol.map((s) => [s.capture.field, s]));
    super({
      instructions: `${profile.instructions}\n\n${protocolBrief(profile.protocol)}`,
      tools: {
        record_answer: llm.tool({
          description:
            "Record the patient's answer to a protocol question. Use yes/no as true/false, numbers as numbers, dates as YYYY-MM-DD.",
          parameters: z.object({
            field: z.string().describe('The field name shown in brackets for the question'),
            value: z.union([z.string(), z.number(), z.boolean()]),
          }),
          execute: async ({ field, value }) => {
            const step = byField.get(field);
            if (!step)
              return `Unknown field "${field}". Use one of: ${[...byField.keys()].join(', ')}.`;
            const problem = checkAnswer(step, value);
            if (problem) return `Not recorded: ${problem}. Ask again.`;
            hooks.onAnswer(field, value);
            return 'Recorded.';
          },
        }),
        end_call: llm.tool({
          description: 'End the call after the closing words have been said.',
          execute: async () => {
            this.requestEnd('end_tool');
            return 'Call ending.';
          },
        }),
      },
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
