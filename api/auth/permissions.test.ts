import { describe, expect, it } from 'vitest';
import { decide, PERMISSIONS, type Principal } from './permissions.ts';

const clinician: Principal = { kind: 'staff', subject: 's', name: undefined, roles: ['clinician'] };
const reader: Principal = { kind: 'service', keyId: 'k', scopes: ['sessions:read'] };

describe('the permission table', () => {
  it('refuses a route with no entry, to everyone', () => {
    expect(decide(undefined, null)).toBe('unauthenticated');
    expect(decide(undefined, clinician)).toBe('forbidden');
  });

  it('opens public routes and asks for credentials everywhere else', () => {
    expect(decide('public', null)).toBe('allow');
    expect(decide(['clinician'], null)).toBe('unauthenticated');
  });

  it('allows a caller holding any one listed grant and forbids the rest', () => {
    expect(decide(['clinician', 'sessions:read'], reader)).toBe('allow');
    expect(decide(['admin'], clinician)).toBe('forbidden');
  });

  it('never lets a backend key read what the patient said', () => {
    for (const [route, permission] of Object.entries(PERMISSIONS)) {
      if (!route.includes('transcript')) continue;
      expect(decide(permission, reader)).toBe('forbidden');
      expect(decide(permission, { kind: 'service', keyId: 'k', scopes: ['sessions:create'] })).toBe(
        'forbidden',
      );
    }
  });
});
