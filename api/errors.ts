/**
 * Every problem the API can answer with, created once with a stable `code`, and rendered as
 * RFC 9457 `application/problem+json`. Clients branch on `code` (and `retryable`), never on
 * `title` or `detail`, which are for people.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { VoiceCareError } from '../infra/errors.ts';

interface ProblemSpec {
  status: number;
  title: string;
  retryable?: boolean;
}

/** The catalogue. Adding a problem means adding a line here; codes never change meaning. */
export const PROBLEMS = {
  unauthenticated: { status: 401, title: 'Credentials are missing or invalid' },
  forbidden: { status: 403, title: 'Your credentials do not allow this' },
  not_found: { status: 404, title: 'Not found' },
  invalid_request: { status: 400, title: 'The request is not valid' },
  unsupported_media_type: { status: 415, title: 'Send application/json' },
  body_too_large: { status: 413, title: 'The request body is too large' },
  rate_limited: { status: 429, title: 'Too many requests', retryable: true },
  idempotency_conflict: {
    status: 409,
    title: 'This idempotency key or session id was already used for a different request',
  },
  session_not_cancellable: { status: 409, title: 'The session has already ended' },
  session_not_ready: {
    status: 409,
    title: 'The call is being set up; try again in a few seconds',
    retryable: true,
  },
  session_ended: { status: 410, title: 'This call has ended' },
  join_link_gone: { status: 410, title: 'This link has already been used or has expired' },
  profile_unknown: { status: 422, title: 'The profile is not published' },
  profile_invalid: { status: 422, title: 'The profile is not valid' },
  profile_version_conflict: { status: 409, title: 'That profile version is already published' },
  document_type_unsupported: {
    status: 415,
    title: 'Upload a Markdown (.md), plain text (.txt) or PDF (.pdf) file',
  },
  document_empty: { status: 422, title: 'The document holds no text' },
  document_unreadable: { status: 422, title: 'The document could not be read' },
  document_retired: { status: 409, title: 'The document is retired and cannot be used again' },
  document_version_not_pending: {
    status: 409,
    title: 'Only a version waiting for approval can be approved',
  },
  script_retired: { status: 409, title: 'The script is retired and cannot be used again' },
  script_version_not_pending: {
    status: 409,
    title: 'Only a script version waiting for approval can be approved',
  },
  clip_not_approvable: {
    status: 409,
    title: 'Only a rendered clip of an approved script version can be approved, once',
  },
  clip_not_ready: { status: 409, title: 'The clip has not been rendered (yet)' },
  clip_not_playable: {
    status: 410,
    title: 'This education clip is no longer available. Ask your care team for a new link.',
  },
  range_not_satisfiable: { status: 416, title: 'The requested byte range is not in the file' },
  voice_unavailable: { status: 422, title: 'That voice cannot be used here' },
  llm_not_configured: { status: 409, title: 'No LLM is configured to draft with' },
  documents_not_approved: {
    status: 422,
    title: 'Drafts are made only from documents with an approved version in use',
  },
  draft_failed: { status: 502, title: 'The LLM could not draft the script', retryable: true },
  preview_failed: { status: 502, title: 'The voice preview could not be made', retryable: true },
  unavailable: { status: 503, title: 'A dependency is unavailable', retryable: true },
  internal: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, ProblemSpec>;

export type ProblemCode = keyof typeof PROBLEMS;

export interface FieldIssue {
  /** Path into the request part, e.g. `body.patient.ref` or `query.limit`. */
  path: string;
  message: string;
}

/** An answer other than success. Thrown from handlers; the error handler renders it. */
export class ApiProblem extends VoiceCareError {
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: readonly FieldIssue[] | undefined;
  readonly extra: Record<string, unknown> | undefined;

  constructor(
    code: ProblemCode,
    opts: {
      detail?: string;
      errors?: readonly FieldIssue[];
      extra?: Record<string, unknown>;
      cause?: unknown;
    } = {},
  ) {
    const spec: ProblemSpec = PROBLEMS[code];
    super(opts.detail ?? spec.title, {
      code,
      retryable: spec.retryable ?? false,
      cause: opts.cause,
    });
    this.status = spec.status;
    this.title = spec.title;
    this.detail = opts.detail;
    this.errors = opts.errors;
    this.extra = opts.extra;
  }
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  code: ProblemCode;
  retryable: boolean;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: readonly FieldIssue[];
  [extra: string]: unknown;
}

export function problemDocument(problem: ApiProblem, requestId?: string): ProblemDocument {
  return {
    ...problem.extra,
    type: `urn:voicecare:problem:${problem.code}`,
    title: problem.title,
    status: problem.status,
    code: problem.code as ProblemCode,
    retryable: problem.retryable,
    ...(problem.detail !== undefined ? { detail: problem.detail } : {}),
    ...(problem.errors !== undefined ? { errors: problem.errors } : {}),
    ...(requestId !== undefined ? { requestId } : {}),
  };
}

export function sendProblem(reply: FastifyReply, problem: ApiProblem): FastifyReply {
  if (problem.retryable && problem.status !== 429) reply.header('retry-after', '2');
  return reply
    .code(problem.status)
    .type('application/problem+json')
    .send(problemDocument(problem, reply.request.id));
}

const joinPath = (parts: readonly PropertyKey[]): string =>
  parts
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');

/** Fastify's own errors (body parsing, limits, validation) as problems from the catalogue. */
export function toProblem(err: unknown): ApiProblem {
  if (err instanceof ApiProblem) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const context = (err as FastifyError).validationContext ?? 'body';
    const part = context === 'querystring' ? 'query' : context;
    const errors = err.validation.map((v) => {
      // instancePath is a JSON pointer: /patient/ref → patient.ref
      const path = v.instancePath
        .split('/')
        .filter(Boolean)
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      return { path: joinPath([part, ...path]), message: v.message ?? 'invalid' };
    });
    return new ApiProblem('invalid_request', {
      detail: errors.map((e) => `${e.path}: ${e.message}`).join('; '),
      errors,
    });
  }
  const fe = err as Partial<FastifyError> | undefined;
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiProblem('body_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiProblem('unsupported_media_type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiProblem('invalid_request', {
        detail: 'body: expected a JSON object',
        errors: [{ path: 'body', message: 'expected a JSON object' }],
      });
    default:
      break;
  }
  // secure-json-parse refuses __proto__ and constructor.prototype with a SyntaxError.
  if (fe?.statusCode === 400 || err instanceof SyntaxError) {
    const message =
      err instanceof SyntaxError || fe?.code === 'FST_ERR_CTP_INVALID_JSON_BODY'
        ? 'body: not valid JSON, or it holds a forbidden key such as __proto__'
        : 'the request is malformed';
    return new ApiProblem('invalid_request', {
      detail: message,
      errors: [{ path: 'body', message }],
    });
  }
  if (fe?.statusCode === 429) return new ApiProblem('rate_limited');
  if (fe?.statusCode === 404) return new ApiProblem('not_found');
  if (fe?.statusCode === 413) return new ApiProblem('body_too_large');
  if (fe?.statusCode === 415) return new ApiProblem('unsupported_media_type');
  if (err instanceof VoiceCareError && err.retryable) {
    return new ApiProblem('unavailable', { cause: err });
  }
  return new ApiProblem('internal', { cause: err });
}

/** The one error handler: every failure leaves as problem+json, and 5xx are logged. */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const problem = toProblem(err);
  if (problem.status >= 500) {
    // The cause, not the request: bodies and URLs may carry patient data or join codes.
    request.log.error({ err: problem.cause ?? err, code: problem.code }, 'request failed');
  }
  void sendProblem(reply, problem);
}
