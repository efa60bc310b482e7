/**
 * The one reader of a session request, for both places one arrives: the dispatcher's Pub/Sub
 * message and the agent's job metadata. Size, then encoding and JSON, then the v1 schema; it
 * never throws. A request that fails here is recorded as a Rejection, never as a session.
 *
 * Reasons and details describe the shape of the input, never its content, so they can be stored
 * and logged without carrying patient data: a wrong field is named by its path (our names), a
 * value is never quoted, and an unknown key (the sender's name, which could be anything, a
 * patient's name included) is reported as "unknown key at patient" unless it is one of the
 * known misspellings of our own fields in {@link KNOWN_TYPOS}.
 */
import { z } from 'zod';
import { SessionRequestV1, type Rejection, type SessionRequest } from './schema.ts';
import { UNSAFE_TEXT_ISSUE } from './text-safety.ts';

export const REJECTION_CODES = [
  'payload_too_large',
  'malformed_json',
  'invalid_request',
  'unknown_profile',
  /** A text field that reaches speech or a prompt holds control, bidi or zero-width characters. */
  'unsafe_text',
  /** `requestedAt` is older than the dispatcher's maximum request age: nobody waits any more. */
  'stale_request',
  /** The agent got job metadata it cannot read: the dispatcher and agent disagree. */
  'bad_job_metadata',
] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

export interface RequestRejection {
  code: RejectionCode;
  reason: string;
  /** Which fields were wrong and how, by path; at most {@link MAX_DETAIL_CHARS}, no values. */
  detail?: string;
  /** The request's sessionId when it had a well-formed one, to find the rejection by. */
  sessionId?: string;
}

export type Intake =
  { ok: true; request: SessionRequest } | { ok: false; rejection: RequestRejection };

export interface ReadRequestOptions {
  /** Larger payloads are rejected unread. @defaultValue {@link MAX_REQUEST_BYTES} */
  maxBytes?: number;
}

/** 16 KiB: a request is a few hundred bytes; anything near this is not one. */
export const MAX_REQUEST_BYTES = 16 * 1024;
export const MAX_DETAIL_CHARS = 300;

/**
 * Unknown keys that may be named in a rejection: misspellings of our own field names, so naming
 * them carries nothing the sender chose freely and tells them exactly what to fix.
 */
export const KNOWN_TYPOS: Readonly<Record<string, string>> = {
  session_id: 'sessionId',
  sessionID: 'sessionId',
  sessionid: 'sessionId',
  id: 'sessionId',
  requested_at: 'requestedAt',
  requestedat: 'requestedAt',
  profileId: 'profile.id',
  profile_id: 'profile.id',
  profileVersion: 'profile.version',
  patientRef: 'patient.ref',
  patient_ref: 'patient.ref',
  display_name: 'displayName',
  displayname: 'displayName',
  name: 'displayName',
  lang: 'language',
  locale: 'language',
  Deadline: 'deadline',
  Priority: 'priority',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a request from a message body or job metadata. Never throws. */
export function readRequest(
  data: Buffer | string | undefined,
  opts: ReadRequestOptions = {},
): Intake {
  const maxBytes = opts.maxBytes ?? MAX_REQUEST_BYTES;
  const size = typeof data === 'string' ? Buffer.byteLength(data) : (data?.length ?? 0);
  if (size > maxBytes) {
    return reject({
      code: 'payload_too_large',
      reason: `payload is ${size} bytes; the limit is ${maxBytes}`,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof data === 'string' ? data : utf8.decode(data ?? Buffer.alloc(0)));
  } catch (err) {
    return reject({
      code: 'malformed_json',
      reason:
        err instanceof SyntaxError
          ? 'payload is not valid JSON'
          : 'payload is not valid UTF-8 text',
    });
  }
  const parsed = SessionRequestV1.safeParse(json);
  if (!parsed.success) {
    const sessionId = wellFormedSessionId(json);
    const { issues } = parsed.error;
    // Unsafe text gets its own code only when it is the request's one problem.
    const unsafe = issues.every(isUnsafeTextIssue);
    return reject({
      code: unsafe ? 'unsafe_text' : 'invalid_request',
      reason: `request does not match session request v1 (${issues.length} problem(s))`,
      detail: truncate(issues.map(describeIssue).join('; ')),
      ...(sessionId ? { sessionId } : {}),
    });
  }
  return { ok: true, request: parsed.data };
}

const MAX_TRACESTATE_CHARS = 512;

/**
 * W3C trace context of the dispatch that placed a job (`traceparent`, `tracestate`). It rides
 * beside the request in the job metadata only: a Pub/Sub request carries its context in the
 * message attributes, so a `trace` key in a request body is still an unknown key.
 */
export const JobTrace = z
  .object({
    traceparent: z.string().regex(/^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/),
    tracestate: z.string().max(MAX_TRACESTATE_CHARS).optional(),
  })
  .strict();
export type JobTrace = z.infer<typeof JobTrace>;

/** The job metadata the dispatcher hands the agent: the request, plus its trace when traced. */
export function jobMetadata(request: SessionRequest, trace?: Record<string, string>): string {
  const traceparent = trace?.['traceparent'];
  if (!traceparent) return JSON.stringify(request);
  // A vendor's long tracestate is left behind rather than the trace itself.
  const tracestate = trace['tracestate'];
  const parsed = JobTrace.safeParse({
    traceparent,
    ...(tracestate && tracestate.length <= MAX_TRACESTATE_CHARS ? { tracestate } : {}),
  });
  return JSON.stringify(parsed.success ? { ...request, trace: parsed.data } : request);
}

/**
 * A job dispatched to take a live call over from a worker that is shutting down (SIGTERM, a
 * scale-in): the new job asks the old one to step aside, then continues the call.
 */
export const JobHandoff = z
  .object({
    /** The job that held the call; its agent is asked to step aside. */
    fromJob: z.string().min(1).max(128),
    requestedAt: z.iso.datetime({ offset: true }),
  })
  .strict();
export type JobHandoff = z.infer<typeof JobHandoff>;

/** The envelope fields job metadata carries beside the request itself. */
const ENVELOPE_KEYS = ['trace', 'handoff'] as const;

/** A running job's metadata, re-addressed to a successor that takes the call over. */
export function handoffMetadata(metadata: string, handoff: JobHandoff): string {
  const json = JSON.parse(metadata) as Record<string, unknown>;
  return JSON.stringify({ ...json, handoff: JobHandoff.parse(handoff) });
}

/**
 * Reads the agent's job metadata: {@link readRequest} on everything but the envelope (`trace`,
 * `handoff`). A missing or malformed trace is no reason to refuse a call: the job just starts a
 * trace of its own. A malformed handoff is ignored the same way: the job still finds the
 * session active and resumes it, it only does not ask the old agent to step aside.
 */
export function readJobMetadata(
  data: string | undefined,
  opts: ReadRequestOptions = {},
): Intake & { trace?: JobTrace; handoff?: JobHandoff } {
  let json: unknown;
  try {
    json = JSON.parse(data ?? '');
  } catch {
    return readRequest(data, opts);
  }
  if (
    typeof json !== 'object' ||
    json === null ||
    !ENVELOPE_KEYS.some((k) => Object.hasOwn(json, k))
  ) {
    return readRequest(data, opts);
  }
  const { trace, handoff, ...request } = json as Record<string, unknown>;
  const intake = readRequest(JSON.stringify(request), opts);
  if (!intake.ok) return intake;
  const t = JobTrace.safeParse(trace);
  const h = JobHandoff.safeParse(handoff);
  return {
    ...intake,
    ...(t.success ? { trace: t.data } : {}),
    ...(h.success ? { handoff: h.data } : {}),
  };
}

export interface FreshnessOptions {
  now: Date;
  /** Requests whose `requestedAt` is older than this are stale. */
  maxAgeMs: number;
}

/**
 * A request the patient has stopped expecting: `requestedAt` more than `maxAgeMs` ago. A request
 * stuck in a backlog for days must not ring the patient. Requests that arrive within the age,
 * or that claim to come from the future (clock skew), pass.
 */
export function staleRejection(
  request: SessionRequest,
  opts: FreshnessOptions,
): RequestRejection | undefined {
  const ageMs = opts.now.getTime() - Date.parse(request.requestedAt);
  if (ageMs <= opts.maxAgeMs) return undefined;
  return {
    code: 'stale_request',
    reason: `requestedAt is ${Math.round(ageMs / 1000)} s old; the limit is ${Math.round(opts.maxAgeMs / 1000)} s`,
    sessionId: request.sessionId,
  };
}

/** The stored record of a rejection: who sent it, when, and the reader's verdict. */
export function rejectionRecord(
  messageId: string,
  rejection: RequestRejection,
  receivedAt: Date,
): Rejection {
  return {
    messageId,
    ...(rejection.sessionId ? { sessionId: rejection.sessionId } : {}),
    code: rejection.code,
    reason: rejection.reason,
    receivedAt,
    ...(rejection.detail ? { detail: rejection.detail } : {}),
  };
}

/** One schema problem, by path; never the value, never a sender-chosen key. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
  if (issue.code !== 'unrecognized_keys') return `${path}: ${issue.message}`;
  const named = issue.keys.filter((k) => Object.hasOwn(KNOWN_TYPOS, k));
  const unnamed = issue.keys.length - named.length;
  const parts = named.map(
    (k) => `unknown key ${k} at ${path} (did you mean ${KNOWN_TYPOS[k] ?? '?'}?)`,
  );
  if (unnamed === 1) parts.push(`unknown key at ${path}`);
  if (unnamed > 1) parts.push(`${unnamed} unknown keys at ${path}`);
  return parts.join('; ');
}

function isUnsafeTextIssue(issue: z.core.$ZodIssue): boolean {
  return (
    issue.code === 'custom' &&
    (issue.params as { reason?: unknown } | undefined)?.reason === UNSAFE_TEXT_ISSUE
  );
}

function reject(rejection: RequestRejection): Intake {
  return { ok: false, rejection };
}

function truncate(text: string): string {
  return text.length <= MAX_DETAIL_CHARS ? text : `${text.slice(0, MAX_DETAIL_CHARS - 1)}…`;
}

function wellFormedSessionId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const candidate = (value as Record<string, unknown>)['sessionId'];
  const parsed = SessionRequestV1.shape.sessionId.safeParse(candidate);
  return parsed.success ? parsed.data : undefined;
}
