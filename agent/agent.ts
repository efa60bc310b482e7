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
 *   with `end_call`.
 */
import { llm, voice } from '@livekit/agents';
import { z } from 'zod';
import type { Profile, ProtocolStep, SafetyRule } from '../prompts/schema.ts';
import type { ClassifierResult, SafetyClassifier } from './safety/classifier.ts';
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
  /** A second opinion on every patient turn, off the reply path. @defaultValue none */
  classifier?: SafetyClassifier;
}

/** How a patient turn reached us: spoken, or typed into the room (`lk.chat`). */
export type TurnChannel = 'speech' | 'text';

export interface TurnInfo {
  channel: TurnChannel;
}

/** Where a turn came from. Typed turns are marked when they are built ({@link VoiceCareAgent.onTypedTurn}). */
export function channelOf(message: llm.ChatMessage): TurnChannel {
  return message.extra['channel'] === 'text' ? 'text' : 'speech';
}

/** What the agent tells its session runner. Calls must not throw and must not block. */
export interface AgentHooks {
  onSafetyMatch(match: SafetyMatch<SafetyRule>, turn: TurnInfo): void;
  /** The classifier flagged a rule the deterministic matcher did not fire on this turn. */
  onClassifierMatch(rule: SafetyRule, turn: TurnInfo): void;
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
  private readonly classifier: SafetyClassifier | undefined;
  /** Classifications in flight: tracked so none floats, aborted when the agent leaves. */
  private readonly classifying = new Set<Promise<void>>();
  private readonly leaving = new AbortController();

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
    this.safety = compileSafetyRules(profile.safety);
    this.classifier = opts.classifier;
  }

  override async onEnter(): Promise<void> {
    this.session.say(this.greeting, { allowInterruptions: true });
  }

  override async onExit(): Promise<void> {
    this.leaving.abort();
    await Promise.allSettled([...this.classifying]);
  }

  override async onUserTurnCompleted(
    _chatCtx: llm.ChatContext,
    message: llm.ChatMessage,
  ): Promise<void> {
    const text = message.textContent ?? '';
    this.classifyInBackground(message);
    const match = matchSafety(this.safety, text);
    if (match) {
      await this.keepTurn(message);
      this.hooks.onSafetyMatch(match, { channel: channelOf(message) });
      // The fixed response is spoken as written and cannot be talked over by the LLM.
      const handle = this.session.say(match.rule.response, { allowInterruptions: false });
      if (match.rule.endSession) {
        handle.waitForPlayout().then(
          () => this.requestEnd('safety'),
          () => this.requestEnd('safety'),
        );
      }
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
      // Typing while the agent talks is a barge-in, as speaking over it would be, except over a
      // speech that must not be interrupted (a safety response): the reply then waits its turn.
      this.interruptQuietly();
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
    const turn: TurnInfo = { channel: channelOf(message) };
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
    const fired = matchSafety(this.safety, text)?.rule.id;
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
