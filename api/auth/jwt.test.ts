import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createStaffTokenVerifier, loadOrCreateDevKey, signDevToken } from './jwt.ts';

const jwt = {
  issuer: 'voicecare-dev',
  audience: 'voicecare-api',
  jwksUrl: undefined,
  rolesClaim: 'realm_access.roles',
  devKeyPath: '',
};
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('staff tokens with the dev key', () => {
  it('creates the key once, private to its owner, and verifies what it signs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jwt-'));
    dirs.push(dir);
    const path = join(dir, 'k.json');
    const key = await loadOrCreateDevKey(path);
    expect((await stat(path)).mode & 0o077).toBe(0);
    expect((await loadOrCreateDevKey(path)).kid).toBe(key.kid);
    const token = await signDevToken(key, jwt, {
      subject: 'rn-lee',
      roles: ['clinician'],
      name: 'RN Lee',
    });
    const principal = await createStaffTokenVerifier(jwt, key).verify(token);
    expect(principal).toEqual({
      kind: 'staff',
      subject: 'rn-lee',
      name: 'RN Lee',
      roles: ['clinician'],
    });
  });

  it('refuses another audience and another key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jwt-'));
    dirs.push(dir);
    const a = await loadOrCreateDevKey(join(dir, 'a.json'));
    const b = await loadOrCreateDevKey(join(dir, 'b.json'));
    const token = await signDevToken(a, jwt, { subject: 's', roles: ['admin'] });
    await expect(createStaffTokenVerifier(jwt, b).verify(token)).rejects.toMatchObject({
      status: 401,
    });
    await expect(
      createStaffTokenVerifier({ ...jwt, audience: 'other' }, a).verify(token),
    ).rejects.toMatchObject({ status: 401 });
  });

  it('keeps only the roles it knows from the claim', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jwt-'));
    dirs.push(dir);
    const key = await loadOrCreateDevKey(join(dir, 'k.json'));
    const token = await signDevToken(key, jwt, {
      subject: 's',
      roles: ['admin', 'superuser' as 'admin'],
    });
    expect((await createStaffTokenVerifier(jwt, key).verify(token)).kind === 'staff').toBe(true);
    const p = await createStaffTokenVerifier(jwt, key).verify(token);
    expect(p.kind === 'staff' ? p.roles : []).toEqual(['admin']);
  });
});
