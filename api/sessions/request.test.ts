import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './list.ts';
import { CreateSessionBody, fingerprint, toSessionRequest } from './request.ts';

describe('the session request body', () => {
  it('fills in the id and the time the API picks, through the shared schema', () => {
    const body = CreateSessionBody.parse({ profile: { id: 'intake' }, patient: { ref: 'p1' } });
    const now = new Date('2030-01-01T00:00:00Z');
    const r = toSessionRequest(body, 'ses_1', now);
    expect(r).toMatchObject({
      sessionId: 'ses_1',
      requestedAt: now.toISOString(),
      priority: 'routine',
    });
  });

  it('stays strict: unknown fields are refused', () => {
    const r = CreateSessionBody.safeParse({
      profile: { id: 'intake' },
      patient: { ref: 'p1' },
      x: 1,
    });
    expect(r.success).toBe(false);
  });

  it('fingerprints requests by content, not key order or timestamp', () => {
    const a = {
      profile: { id: 'intake' },
      patient: { ref: 'p1' },
      requestedAt: '2030-01-01T00:00:00Z',
    };
    const b = { patient: { ref: 'p1' }, profile: { id: 'intake' } };
    expect(fingerprint(a)).toBe(fingerprint(b));
    expect(fingerprint(a)).not.toBe(fingerprint({ ...b, patient: { ref: 'p2' } }));
  });
});

describe('list cursors', () => {
  it('round-trips, and refuses what it did not make', () => {
    const c = { t: '2030-01-01T00:00:00.000Z', id: 's1' };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    expect(() => decodeCursor('garbage')).toThrow(/cursor/);
  });
});
