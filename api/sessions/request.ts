/**
 * The one place the API turns an HTTP body into a session request. It is the shared
 * `SessionRequestV1`, with the two fields the API may fill in left optional; whatever comes out
 * is parsed by `SessionRequestV1` itself, so the API cannot publish what the dispatcher refuses.
 */
import { randomUUID } from 'node:crypto';
import { SessionRequestV1, type SessionRequest } from '../../sessions/schema.ts';

/** POST /v1/sessions body: a session request; `sessionId` and `requestedAt` may be left out. */
export const CreateSessionBody = SessionRequestV1.partial({
  sessionId: true,
  requestedAt: true,
  // Replays are an operator's tool (`voicecare sessions replay`), not the API's.
}).omit({ replay: true });
export type CreateSessionBody = typeof CreateSessionBody._input;

/** An id for a session whose caller let the API pick one. */
export const newSessionId = (): string => `ses_${randomUUID()}`;

export function toSessionRequest(
  body: CreateSessionBody,
  sessionId: string,
  now: Date,
): SessionRequest {
  return SessionRequestV1.parse({
    ...body,
    sessionId,
    requestedAt: body.requestedAt ?? now.toISOString(),
  });
}

/** What makes two requests "the same" for idempotency: everything but the timestamp. */
export function fingerprint(body: CreateSessionBody): string {
  const { requestedAt: _t, sessionId: _id, ...rest } = body;
  return JSON.stringify(rest, Object.keys(flatten(rest)).sort());
}

function flatten(value: unknown, out: Record<string, true> = {}): Record<string, true> {
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out[k] = true;
      flatten(v, out);
    }
  }
  return out;
}
