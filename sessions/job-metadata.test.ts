import { describe, expect, it } from 'vitest';
import { handoffMetadata, jobMetadata, readJobMetadata, readRequest } from './intake.ts';
import { SessionRequestV1 } from './schema.ts';

const request = SessionRequestV1.parse({
  sessionId: 'ses_1',
  profile: { id: 'intake' },
  patient: { ref: 'pt-1' },
  requestedAt: '2026-01-01T00:00:00.000Z',
});
const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('job metadata', () => {
  it('is the bare request when there is no trace, as before tracing existed', () => {
    expect(jobMetadata(request)).toBe(JSON.stringify(request));
    expect(jobMetadata(request, {})).toBe(JSON.stringify(request));
  });

  it('carries the trace beside the request, and the agent reads both back', () => {
    const metadata = jobMetadata(request, { traceparent, tracestate: 'vc=1' });
    expect(readJobMetadata(metadata)).toEqual({
      ok: true,
      request,
      trace: { traceparent, tracestate: 'vc=1' },
    });
  });

  it('leaves an oversized tracestate behind, not the trace', () => {
    const metadata = jobMetadata(request, { traceparent, tracestate: `v=${'x'.repeat(600)}` });
    expect(readJobMetadata(metadata)).toEqual({ ok: true, request, trace: { traceparent } });
  });

  it('starts the call without a trace when the trace is malformed', () => {
    const metadata = JSON.stringify({ ...request, trace: { traceparent: 'not-a-trace' } });
    expect(readJobMetadata(metadata)).toEqual({ ok: true, request });
  });

  it('still rejects a bad request that comes with a trace', () => {
    const metadata = JSON.stringify({ ...request, sessionId: '', trace: { traceparent } });
    expect(readJobMetadata(metadata)).toMatchObject({
      ok: false,
      rejection: { code: 'invalid_request' },
    });
  });

  it('leaves a trace key in a Pub/Sub request body an unknown key', () => {
    const body = JSON.stringify({ ...request, trace: { traceparent } });
    expect(readRequest(body)).toMatchObject({ ok: false, rejection: { code: 'invalid_request' } });
  });

  it('re-addresses a running job to a successor, trace and request unchanged', () => {
    const metadata = jobMetadata(request, { traceparent });
    const handoff = { fromJob: 'AJ_old', requestedAt: '2026-01-01T00:05:00.000Z' };
    expect(readJobMetadata(handoffMetadata(metadata, handoff))).toEqual({
      ok: true,
      request,
      trace: { traceparent },
      handoff,
    });
    expect(readJobMetadata(handoffMetadata(jobMetadata(request), handoff))).toEqual({
      ok: true,
      request,
      handoff,
    });
  });

  it('resumes without a handover when the handoff is malformed, and a bad request is still refused', () => {
    const bad = JSON.stringify({ ...request, handoff: { fromJob: '' } });
    expect(readJobMetadata(bad)).toEqual({ ok: true, request });
    const badRequest = JSON.stringify({
      ...request,
      sessionId: '',
      handoff: { fromJob: 'AJ_old', requestedAt: '2026-01-01T00:05:00.000Z' },
    });
    expect(readJobMetadata(badRequest)).toMatchObject({ ok: false });
    expect(readRequest(JSON.stringify({ ...request, handoff: {} }))).toMatchObject({ ok: false });
  });
});
