import { describe, expect, it } from 'vitest';
import { KNOWN_TYPOS, MAX_DETAIL_CHARS, readRequest, rejectionRecord } from './intake.ts';

const request = {
  sessionId: 'sess-1',
  profile: { id: 'intake' },
  patient: { ref: 'pt-123', displayName: 'Ann' },
  requestedAt: '2026-11-22T10:00:00Z',
};

function rejectionOf(data: Buffer | string | undefined, maxBytes?: number) {
  const intake = readRequest(data, maxBytes === undefined ? {} : { maxBytes });
  if (intake.ok) throw new Error('expected a rejection');
  return intake.rejection;
}

describe('readRequest', () => {
  it('reads a session request v1 from a message body or job metadata alike, filling defaults', () => {
    const fromText = readRequest(JSON.stringify(request));
    const fromBytes = readRequest(Buffer.from(JSON.stringify(request)));
    expect(fromText).toEqual(fromBytes);
    expect(fromText).toMatchObject({
      ok: true,
      request: { sessionId: 'sess-1', priority: 'routine' },
    });
  });

  it('rejects a payload over the limit unread, counting bytes not characters', () => {
    const big = JSON.stringify({ ...request, sessionId: 'é'.repeat(40) });
    expect(rejectionOf(big, big.length)).toMatchObject({ code: 'payload_too_large' });
  });

  it('treats missing, empty and truncated input as malformed JSON, and bad bytes as not UTF-8', () => {
    expect(rejectionOf(undefined).code).toBe('malformed_json');
    expect(rejectionOf('').code).toBe('malformed_json');
    expect(rejectionOf('{"sessionId": "s-1",').reason).toMatch(/not valid JSON/);
    expect(rejectionOf(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])).reason).toMatch(/not valid UTF-8/);
  });

  it('names each wrong field by its path and counts the problems', () => {
    const r = rejectionOf(JSON.stringify({ ...request, profile: { id: 'Intake!' }, priority: 7 }));
    expect(r.code).toBe('invalid_request');
    expect(r.reason).toMatch(/\(2 problem\(s\)\)/);
    expect(r.detail).toMatch(/^profile\.id: .*; priority: /);
  });

  it('reports an unknown key by where it is, never by its name', () => {
    const body = { ...request, patient: { ...request.patient, 'Ada Lovelace': 1 }, extra: 2 };
    const r = rejectionOf(JSON.stringify(body));
    expect(r.detail).toContain('unknown key at patient');
    expect(r.detail).toContain('unknown key at (root)');
    expect(r.detail).not.toMatch(/Ada|Lovelace|extra/);
  });

  it('names an unknown key that is a known misspelling of ours, with the field it meant', () => {
    expect(KNOWN_TYPOS['session_id']).toBe('sessionId');
    const r = rejectionOf(JSON.stringify({ ...request, session_id: 'x', 'pt 99': 1 }));
    expect(r.detail).toContain('unknown key session_id at (root) (did you mean sessionId?)');
    expect(r.detail).toContain('unknown key at (root)');
    expect(r.detail).not.toContain('pt 99');
  });

  it('never quotes a value, and keeps the detail short', () => {
    const body = { ...request, patient: { ref: 'Ada Lovelace 1815', displayName: 7 } };
    const r = rejectionOf(JSON.stringify(body));
    expect(JSON.stringify(r)).not.toContain('Lovelace');
    const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, { x: i }]));
    const long = rejectionOf(JSON.stringify({ ...many, profile: 1, patient: 2 }));
    expect(long.detail!.length).toBeLessThanOrEqual(MAX_DETAIL_CHARS);
  });

  it('keeps a well-formed sessionId on the rejection so it can be found, and drops a bad one', () => {
    expect(rejectionOf(JSON.stringify({ ...request, priority: 'asap' })).sessionId).toBe('sess-1');
    expect(rejectionOf(JSON.stringify({ ...request, sessionId: 'no spaces' })).sessionId).toBe(
      undefined,
    );
  });
});

describe('rejectionRecord', () => {
  it('stores the code, reason and detail apart, and leaves out what is unknown', () => {
    const at = new Date('2026-11-22T10:00:00Z');
    const r = rejectionOf(JSON.stringify({ ...request, priority: 'asap' }));
    expect(rejectionRecord('m-1', r, at)).toEqual({
      messageId: 'm-1',
      sessionId: 'sess-1',
      code: 'invalid_request',
      reason: r.reason,
      detail: r.detail,
      receivedAt: at,
    });
    expect(rejectionRecord('m-2', rejectionOf('nope'), at)).not.toHaveProperty('sessionId');
  });
});
