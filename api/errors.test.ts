import { describe, expect, it } from 'vitest';
import { TransientError } from '../infra/errors.ts';
import { ApiProblem, PROBLEMS, problemDocument, toProblem } from './errors.ts';

describe('problems', () => {
  it('render as RFC 9457 documents with a stable code', () => {
    const doc = problemDocument(new ApiProblem('join_link_gone', { detail: 'used' }), 'req-1');
    expect(doc).toEqual({
      type: 'urn:voicecare:problem:join_link_gone',
      title: PROBLEMS.join_link_gone.title,
      status: 410,
      code: 'join_link_gone',
      retryable: false,
      detail: 'used',
      requestId: 'req-1',
    });
  });

  it("map Fastify's body errors onto the catalogue", () => {
    expect(toProblem({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }).status).toBe(413);
    expect(toProblem({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }).status).toBe(415);
    expect(toProblem(new SyntaxError('Unexpected token')).code).toBe('invalid_request');
  });

  it('say retryable for a dependency that was briefly away, and hide anything else as internal', () => {
    expect(toProblem(new TransientError('mongo_unavailable', 'x'))).toMatchObject({
      status: 503,
      retryable: true,
    });
    const internal = toProblem(new Error('secret detail'));
    expect(internal.status).toBe(500);
    expect(JSON.stringify(problemDocument(internal))).not.toContain('secret');
  });
});
