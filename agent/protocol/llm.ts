/**
 * The dialogue engine behind the framework's LLM interface, so an AgentSession runs it exactly as
 * it runs the OpenAI plugin: `chat()` takes the patient's latest message from the chat context,
 * steps the engine, and streams the engine's words back as chunks. No network, no model, no
 * tokens; answers and the end of the protocol go to the session through hooks.
 *
 * The framework may ask for a reply to the same patient turn more than once, and may generate
 * replies it then throws away:
 * - a repeated call for a message already answered returns the same words and fires no hook;
 * - preemptive generation starts a reply on a transcript that may still change, each time on a
 *   new user message. A message the conversation never kept (it is not in a later call's chat
 *   context) is undone: the engine goes back to before it, and `onRetract` says which answers
 *   and which ending no longer stand. Preemptive generation buys nothing here (the reply takes
 *   microseconds), so sessions using this LLM may as well turn it off.
 *
 * If the agent said something of its own since the engine last spoke ("Are you still there?", a
 * safety response), the patient's next words answer that, not the protocol question: the engine
 * puts its question again instead of reading them as an answer. Never twice in a row, so a
 * transcript that differs from what was said cannot stall the call.
 */
import { DEFAULT_API_CONNECT_OPTIONS, llm, type APIConnectOptions } from '@livekit/agents';
import type { Logger } from '../../infra/logger.ts';
import { normalizeUtterance } from '../safety/matcher.ts';
import {
  PARSE_CERTAINTY,
  isFreeSpeech,
  reviewReasonFor,
  sttConfidenceOf,
  type AnswerReport,
} from './answers.ts';
import type { DialogueEngine, EngineState, EngineTurn, ProtocolOutcome } from './engine.ts';

/** Answers and an ending that were reported for a patient turn the conversation did not keep. */
export interface Retraction {
  /** Fields reported through `onAnswer` that no longer hold an answer. */
  fields: readonly string[];
  /** `onDone` was reported and the protocol is no longer over. */
  done: boolean;
}

export interface ScriptedProtocolLLMOptions {
  engine: DialogueEngine;
  /**
   * An answer was captured (and confirmed, for steps that confirm), or a step was given up on
   * (a null or unconfirmed value, with its review reason). Must not throw or block.
   */
  onAnswer: (report: AnswerReport) => void;
  /**
   * The protocol is over; the reply being streamed holds the closing words. End the call once
   * they have played. Must not throw or block.
   */
  onDone: (ending: { outcome: ProtocolOutcome }) => void;
  /** A reply that reported answers or the end was discarded by the framework (see above). */
  onRetract?: (retraction: Retraction) => void;
  /**
   * An education step was reached: once the reply being streamed has played, play its clip and
   * then say `engine.afterPlay()`. Must not throw or block.
   */
  onPlay?: (play: NonNullable<EngineTurn['play']>) => void;
  /** Hook failures are logged here (never with the answer's value). */
  logger?: Logger;
  /**
   * Patient words another part of the agent answers (a question for the care team's documents,
   * see knowledge/): the engine is not stepped with them, so a question never counts as an
   * answer or a failed try, even when a preemptive generation reads it first.
   */
  handledElsewhere?: (text: string) => boolean;
}

interface Turn {
  messageId: string;
  text: string;
  before: EngineState;
  result: EngineTurn;
}

type ChatParams = Parameters<llm.LLM['chat']>[0];

const isUserMessage = (item: llm.ChatItem): item is llm.ChatMessage =>
  item.type === 'message' && item.role === 'user';
const isAssistantMessage = (item: llm.ChatItem): item is llm.ChatMessage =>
  item.type === 'message' && item.role === 'assistant';

/**
 * The outcome when this turn is the one that ended the protocol. Turns after the end are also
 * `done` but say nothing new (or repeat the closing on request); that ending was reported before.
 */
function endsProtocol(result: EngineTurn): ProtocolOutcome | undefined {
  return result.done && result.say && !result.repeated ? result.outcome : undefined;
}

/** The fields a turn reported through `onAnswer`. */
function reported(result: EngineTurn): string[] {
  const field = result.captured?.field ?? result.unanswered?.field;
  return field ? [field] : [];
}

/** A few chunks, one per sentence, as a streaming model would send them. */
function sentences(text: string): string[] {
  return text.match(/[^.!?]+(?:[.!?]+["')\]]*\s*|$)/g) ?? (text ? [text] : []);
}

export class ScriptedProtocolLLM extends llm.LLM {
  readonly engine: DialogueEngine;
  private readonly hooks: Pick<
    ScriptedProtocolLLMOptions,
    'onAnswer' | 'onDone' | 'onRetract' | 'onPlay'
  >;
  private readonly logger: Logger | undefined;
  private readonly handledElsewhere: ((text: string) => boolean) | undefined;
  /** Turns not yet known to be kept, oldest first, and the last kept one (for repeats). */
  private turns: Turn[] = [];
  /** Every user message id stepped on: one per patient turn, so small. */
  private readonly seen = new Set<string>();
  /** The first words when they are not the engine's greeting (a resumed call). */
  private opening: string | undefined;

  constructor(opts: ScriptedProtocolLLMOptions) {
    super();
    if (!opts?.engine) throw new TypeError('ScriptedProtocolLLM: engine is required');
    if (typeof opts.onAnswer !== 'function' || typeof opts.onDone !== 'function') {
      throw new TypeError('ScriptedProtocolLLM: onAnswer and onDone hooks are required');
    }
    this.engine = opts.engine;
    this.hooks = {
      onAnswer: opts.onAnswer,
      onDone: opts.onDone,
      onRetract: opts.onRetract,
      onPlay: opts.onPlay,
    };
    this.logger = opts.logger;
    this.handledElsewhere = opts.handledElsewhere;
  }

  label(): string {
    return 'voicecare.ScriptedProtocolLLM';
  }

  /** The protocol it runs: `intake@3`. */
  override get model(): string {
    return `${this.engine.profile.id}@${this.engine.profile.version}`;
  }

  override get provider(): string {
    return 'voicecare-scripted';
  }

  /** The agent's first words (see DialogueEngine.greeting). */
  greeting(): string {
    return this.engine.greeting();
  }

  /** The question now waiting for an answer. */
  currentPrompt(): string {
    return this.engine.currentPrompt();
  }

  /**
   * Starts from where an interrupted call stood (`agent/resume.ts`) instead of the greeting;
   * `opening` is what the agent says first instead of the greeting.
   */
  resumeAt(state: EngineState, opening: (prompt: string) => string): string {
    this.engine.restore(state);
    this.opening = opening(this.engine.currentPrompt());
    return this.opening;
  }

  chat({
    chatCtx,
    toolCtx,
    connOptions = DEFAULT_API_CONNECT_OPTIONS,
  }: ChatParams): ScriptedProtocolStream {
    const { say, id } = this.reply(chatCtx);
    return new ScriptedProtocolStream(this, { chatCtx, toolCtx, connOptions }, say, id);
  }

  private reply(chatCtx: llm.ChatContext): { say: string; id: string } {
    const items = chatCtx.items;
    let latestAt = -1;
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i];
      if (item && isUserMessage(item)) {
        latestAt = i;
        break;
      }
    }
    const latest = items[latestAt] as llm.ChatMessage | undefined;
    if (!latest) return { say: this.engine.currentPrompt(), id: 'scripted_prompt' };
    const text = latest.textContent ?? '';
    const id = `scripted_${latest.id}`;

    const top = this.turns.at(-1);
    if (top?.messageId === latest.id && top.text === text) {
      // Asked again for a reply to the same message: the same words, no second step. Once that
      // reply is in the history, a call with nothing new gets the question now waiting.
      const answered = items.slice(latestAt + 1).some(isAssistantMessage);
      return { say: answered ? this.engine.currentPrompt() : top.result.say, id };
    }
    if (top?.messageId !== latest.id && this.seen.has(latest.id)) {
      // An older message, nothing new from the patient.
      return { say: this.engine.currentPrompt(), id };
    }

    if (this.handledElsewhere?.(text)) {
      // Answered by someone else (the reply to it ends with the question now waiting).
      this.seen.add(latest.id);
      return { say: this.engine.currentPrompt(), id };
    }
    this.discardUnkept(chatCtx, latest, text);
    const kept = this.turns.at(-1);
    const before = this.engine.snapshot();
    const interrupted = !kept?.result.resumed && this.someoneElseSpoke(items, latestAt, kept);
    const result = interrupted
      ? this.engine.resume()
      : this.engine.respond(text, {
          messageId: latest.id,
          ...(latest.transcriptConfidence !== undefined
            ? { confidence: latest.transcriptConfidence }
            : {}),
        });
    this.turns.push({ messageId: latest.id, text, before, result });
    this.seen.add(latest.id);
    this.report(result);
    return { say: result.say, id };
  }

  /**
   * A new patient message is here: undoes turns for earlier messages the conversation did not
   * keep (a preemptive generation the framework threw away), newest first, back to the last kept
   * one. A message whose text changed under the same id is undone too.
   */
  private discardUnkept(chatCtx: llm.ChatContext, latest: llm.ChatMessage, text: string): void {
    const kept = new Set(chatCtx.items.filter(isUserMessage).map((m) => m.id));
    const discarded: Turn[] = [];
    for (let top = this.turns.at(-1); top; top = this.turns.at(-1)) {
      const stillHere =
        kept.has(top.messageId) && !(top.messageId === latest.id && top.text !== text);
      if (stillHere) break;
      discarded.push(this.turns.pop() as Turn);
    }
    // Everything below the newest kept turn is history; only the newest is needed for repeats.
    this.turns = this.turns.slice(-1);

    const oldest = discarded.at(-1);
    if (!oldest) return;
    this.engine.restore(oldest.before);
    const fields = [...new Set(discarded.flatMap((t) => reported(t.result)))];
    const done = discarded.some((t) => endsProtocol(t.result));
    if (fields.length > 0 || done) {
      this.call('onRetract', () => this.hooks.onRetract?.({ fields, done }));
    }
  }

  /** Whether the last assistant words before the patient's message were not the engine's. */
  private someoneElseSpoke(items: readonly llm.ChatItem[], latestAt: number, top?: Turn): boolean {
    let heard: string | undefined;
    for (let i = latestAt - 1; i >= 0; i--) {
      const item = items[i];
      if (item && isAssistantMessage(item)) {
        heard = normalizeUtterance(item.textContent ?? '');
        break;
      }
    }
    if (!heard) return false;
    // Words of another part of the agent that end by putting the question now waiting again
    // (an answer from the care team's documents): the patient's reply answers that question.
    const waiting = normalizeUtterance(this.engine.currentPrompt());
    if (waiting && heard.endsWith(waiting)) return false;
    // Interrupted replies keep only what was played: a prefix of what the engine said.
    const ours = normalizeUtterance(
      top ? top.result.say : (this.opening ?? this.engine.greeting()),
    );
    return !ours.startsWith(heard);
  }

  private report(result: EngineTurn): void {
    const answer = this.answerReport(result);
    if (answer) this.call('onAnswer', () => this.hooks.onAnswer(answer));
    const outcome = endsProtocol(result);
    if (outcome) this.call('onDone', () => this.hooks.onDone({ outcome }));
    const play = result.play;
    if (play) this.call('onPlay', () => this.hooks.onPlay?.(play));
  }

  /** What the turn captured or gave up on, judged by the shared trust policy (answers.ts). */
  private answerReport(result: EngineTurn): AnswerReport | undefined {
    const { captured, evidence, unanswered, givenUp } = result;
    if (captured && evidence) {
      const step = this.engine.profile.protocol.find((s) => s.capture.field === captured.field);
      const reviewReason = reviewReasonFor({
        confirmed: result.confirmed === true,
        sttConfidence: sttConfidenceOf(evidence.heard),
        // Only reachable when the engine does not read free speech back itself.
        generalModel:
          this.engine.readBackFreeSpeech && step !== undefined && isFreeSpeech(step.capture),
      });
      return {
        field: captured.field,
        value: captured.value,
        method: 'engine',
        heard: evidence.heard,
        confirmed: result.confirmed === true,
        ...(evidence.confirmedBy ? { confirmedBy: evidence.confirmedBy } : {}),
        parseCertainty: evidence.certainty,
        ...(reviewReason ? { reviewReason } : {}),
      };
    }
    if (unanswered && givenUp) {
      // A rejected read-back is known wrong: keep the utterance's seq, never its value.
      const value = givenUp.why === 'not_confirmed' ? (givenUp.value ?? null) : null;
      return {
        field: unanswered.field,
        value,
        method: 'engine',
        heard: givenUp.heard,
        confirmed: false,
        ...(value !== null ? { parseCertainty: PARSE_CERTAINTY.freeText } : {}),
        reviewReason: givenUp.why,
      };
    }
    return undefined;
  }

  private call(hook: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      // The hook's error may carry the answer it was given; only its kind is logged.
      this.logger?.error(
        { hook, errorName: err instanceof Error ? err.name : typeof err },
        'scripted protocol hook failed',
      );
    }
  }
}

export class ScriptedProtocolStream extends llm.LLMStream {
  private readonly text: string;
  private readonly id: string;

  constructor(
    owner: ScriptedProtocolLLM,
    params: {
      chatCtx: llm.ChatContext;
      toolCtx?: ChatParams['toolCtx'];
      connOptions: APIConnectOptions;
    },
    text: string,
    id: string,
  ) {
    super(owner, params);
    this.text = text;
    this.id = id;
  }

  protected async run(): Promise<void> {
    for (const content of sentences(this.text)) {
      if (this.abortController.signal.aborted) return;
      this.queue.put({ id: this.id, delta: { role: 'assistant', content } });
    }
  }
}
