/**
 * Room text input (`lk.chat`): what a patient types reaches the same checks as what they say.
 *
 * The framework's default callback sends typed text straight to `generateReply`, past
 * `Agent.onUserTurnCompleted` and so past every safety rule. This callback replaces it: the text
 * is accepted from the session's patient only, cleaned, capped and handed to
 * {@link VoiceCareAgent.onTypedTurn}, which screens it exactly as a spoken turn.
 */
import type { voice } from '@livekit/agents';
import type { Logger } from '../infra/logger.ts';
import type { VoiceCareAgent } from './agent.ts';

/** @defaultValue used when the config gives none */
export const DEFAULT_MAX_TYPED_CHARS = 2000;

// Control characters (C0, DEL, C1: newlines and tabs among them) separate words; format
// characters (zero-width spaces and joiners, bidi overrides, BOM) are invisible and would split
// a word the rules must see whole ("che\u200Bst pain"), so they go without a trace. The bidi
// ones could also make a console show words in another order.
const CONTROL = /\p{Cc}/gu;
const INVISIBLE = /\p{Cf}/gu;

export interface CleanedText {
  text: string;
  /** Code points dropped by the cap. */
  truncatedChars: number;
}

/**
 * Typed text as a turn: Unicode NFKC (so full-width forms and ligatures match the rules as
 * plain letters), invisible format characters removed, control characters turned into spaces, whitespace
 * collapsed, and at most `maxChars` code points (a lone surrogate is never left at the cut).
 * Null when nothing readable is left.
 */
export function cleanTypedText(raw: string, maxChars: number): CleanedText | null {
  const flat = raw
    .normalize('NFKC')
    .replace(INVISIBLE, '')
    .replace(CONTROL, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (!flat) return null;
  const points = [...flat];
  if (points.length <= maxChars) return { text: flat, truncatedChars: 0 };
  return {
    text: points.slice(0, maxChars).join('').trimEnd(),
    truncatedChars: points.length - maxChars,
  };
}

export interface TypedTextOptions {
  /** The agent running the session, once there is one. */
  agent: () => VoiceCareAgent | undefined;
  /**
   * Whether this identity is the session's patient. Everyone else in the room (a clinician
   * listening in, a second device, an observer) is ignored.
   */
  isPatient: (identity: string) => boolean;
  log: Logger;
  maxChars?: number;
  /** Told once per typed turn accepted (for the session's metrics). */
  onAccepted?: (info: { chars: number; truncatedChars: number }) => void;
}

export function typedTextCallback(opts: TypedTextOptions): voice.TextInputCallback {
  const maxChars = opts.maxChars ?? DEFAULT_MAX_TYPED_CHARS;
  return async (_session, ev) => {
    if (!ev.participantIdentity || !opts.isPatient(ev.participantIdentity)) {
      opts.log.warn('typed text from someone other than the patient; ignored');
      return;
    }
    const agent = opts.agent();
    const cleaned = cleanTypedText(ev.text, maxChars);
    if (!agent || !cleaned) return;
    if (cleaned.truncatedChars > 0) {
      opts.log.warn({ maxChars, truncatedChars: cleaned.truncatedChars }, 'typed text capped');
    }
    opts.onAccepted?.({ chars: cleaned.text.length, truncatedChars: cleaned.truncatedChars });
    try {
      await agent.onTypedTurn(cleaned.text);
    } catch (err) {
      // The framework would log this error with its message, which may quote the patient.
      opts.log.error({ errName: err instanceof Error ? err.name : 'unknown' }, 'typed turn failed');
    }
  };
}
