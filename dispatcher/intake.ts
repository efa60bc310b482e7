/**
 * Turns a message body into a SessionRequest, or into the specific reason it cannot be one.
 * Runs before anything is stored: a request that fails here is recorded as a Rejection, never
 * as a session. Reasons and details describe the shape of the input, never its content, so
 * they can be stored and logged without carrying patient data.
 */
import type { z } from 'zod';
import { SessionRequestV1, type SessionRequest } from '../sessions/schema.ts';

export const REJECTION_CODES = [
  'payload_too_large',
  'malformed_json',
  'invalid_request',
  'unknown_profile',
] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

export interface RejectionReason {
  code: RejectionCode;
  reason: string;
  /** Which fields were wrong and how; at most {@link MAX_DETAIL_CHARS}, no values. */
  detail?: string;
  /** The request's sessionId when it had a well-formed one, to find the rejection by. */
  sessionId?: string;
}

export type Intake =
  { ok: true; request: SessionRequest } | { ok: false; rejection: RejectionReason };

export const MAX_DETAIL_CHARS = 300;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function truncate(text: string): string {
  return text.length <= MAX_DETAIL_CHARS ? text : `${text.slice(0, MAX_DETAIL_CHARS - 1)}…`;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
  // Unknown keys are chosen by the sender and could be anything, a name included: count them.
  const what =
    issue.code === 'unrecognized_keys' ? `${issue.keys.length} unrecognized key(s)` : issue.message;
  return `${path}: ${what}`;
}

function wellFormedSessionId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const candidate = (value as Record<string, unknown>)['sessionId'];
  const parsed = SessionRequestV1.shape.sessionId.safeParse(candidate);
  return parsed.success ? parsed.data : undefined;
}

/** Size, then encoding and JSON, then the v1 schema. Never throws. */
export function readRequest(data: Buffer, maxBytes: number): Intake {
  if (data.length > maxBytes) {
    return {
      ok: false,
      rejection: {
        code: 'payload_too_large',
        reason: `payload is ${data.length} bytes; the limit is ${maxBytes}`,
      },
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(data));
  } catch (err) {
    return {
      ok: false,
      rejection: {
        code: 'malformed_json',
        reason:
          err instanceof SyntaxError
            ? 'payload is not valid JSON'
            : 'payload is not valid UTF-8 text',
      },
    };
  }
  const parsed = SessionRequestV1.safeParse(json);
  if (!parsed.success) {
    const sessionId = wellFormedSessionId(json);
    return {
      ok: false,
      rejection: {
        code: 'invalid_request',
        reason: `request does not match session request v1 (${parsed.error.issues.length} problem(s))`,
        detail: truncate(parsed.error.issues.map(describeIssue).join('; ')),
        ...(sessionId ? { sessionId } : {}),
      },
    };
  }
  return { ok: true, request: parsed.data };
}
