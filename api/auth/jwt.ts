/**
 * Staff tokens. In production, OIDC ID or access tokens checked against the issuer's JWKS; on
 * this machine, tokens signed by a dev key that is created on first use in a git-ignored folder
 * (`npm run token -- --role clinician` prints one).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  createRemoteJWKSet,
  errors as joseErrors,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  type CryptoKey,
} from 'jose';
import type { Config } from '../../infra/config.ts';
import { ApiProblem } from '../errors.ts';
import { STAFF_ROLES, type Principal, type StaffRole } from './permissions.ts';

const DEV_ALG = 'ES256';

export interface DevKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/** Loads the dev signing key, creating it (mode 0600) when the file does not exist yet. */
export async function loadOrCreateDevKey(path: string): Promise<DevKey> {
  let jwk: JWK & { kid: string };
  try {
    jwk = JSON.parse(await readFile(path, 'utf8')) as JWK & { kid: string };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const pair = await generateKeyPair(DEV_ALG, { extractable: true });
    jwk = {
      ...(await exportJWK(pair.privateKey)),
      kid: `dev-${Date.now().toString(36)}`,
      alg: DEV_ALG,
    };
    await mkdir(dirname(path), { recursive: true });
    // wx: two processes creating it at once must not overwrite each other's key.
    try {
      await writeFile(path, `${JSON.stringify(jwk)}\n`, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      return loadOrCreateDevKey(path);
    }
  }
  const { d: _private, ...publicJwk } = jwk;
  return {
    kid: jwk.kid,
    privateKey: (await importJWK(jwk, DEV_ALG)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, DEV_ALG)) as CryptoKey,
  };
}

export interface DevTokenClaims {
  subject: string;
  roles: readonly StaffRole[];
  name?: string;
  ttlMs?: number;
}

/** A staff token signed with the dev key, shaped like the configured issuer's. */
export async function signDevToken(
  key: DevKey,
  jwt: Config['api']['jwt'],
  claims: DevTokenClaims,
): Promise<string> {
  const payload: Record<string, unknown> = {};
  setClaim(payload, jwt.rolesClaim, [...claims.roles]);
  if (claims.name !== undefined) payload['name'] = claims.name;
  return new SignJWT(payload as JWTPayload)
    .setProtectedHeader({ alg: DEV_ALG, kid: key.kid })
    .setSubject(claims.subject)
    .setIssuer(jwt.issuer)
    .setAudience(jwt.audience)
    .setIssuedAt()
    .setExpirationTime(Math.floor((Date.now() + (claims.ttlMs ?? 3_600_000)) / 1000))
    .sign(key.privateKey);
}

function setClaim(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let at = target;
  for (const p of parts.slice(0, -1)) {
    const next = (at[p] ??= {}) as Record<string, unknown>;
    at = next;
  }
  at[parts[parts.length - 1] ?? path] = value;
}

function getClaim(payload: JWTPayload, path: string): unknown {
  let at: unknown = payload;
  for (const p of path.split('.')) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, p)) return undefined;
    at = (at as Record<string, unknown>)[p];
  }
  return at;
}

export interface StaffTokenVerifier {
  verify(token: string): Promise<Principal>;
}

/** Checks signature, issuer, audience and expiry, then reads the roles claim. */
export function createStaffTokenVerifier(
  jwt: Config['api']['jwt'],
  devKey: DevKey | undefined,
): StaffTokenVerifier {
  const key: JWTVerifyGetKey | CryptoKey | undefined = jwt.jwksUrl
    ? createRemoteJWKSet(new URL(jwt.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 })
    : devKey?.publicKey;
  if (!key) throw new Error('staff tokens need API_JWKS_URL or a dev key');
  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key as JWTVerifyGetKey, {
          issuer: jwt.issuer,
          audience: jwt.audience,
          algorithms: ['ES256', 'RS256', 'PS256', 'EdDSA'],
          requiredClaims: ['sub', 'exp'],
        }));
      } catch (err) {
        if (err instanceof joseErrors.JOSEError && !(err instanceof joseErrors.JWKSTimeout)) {
          throw new ApiProblem('unauthenticated', { detail: 'the bearer token is not valid' });
        }
        throw new ApiProblem('unavailable', {
          detail: 'the token issuer is unreachable',
          cause: err,
        });
      }
      const claimed = getClaim(payload, jwt.rolesClaim);
      const list = Array.isArray(claimed) ? claimed : typeof claimed === 'string' ? [claimed] : [];
      const roles = STAFF_ROLES.filter((r) => list.includes(r));
      const name = typeof payload['name'] === 'string' ? payload['name'] : undefined;
      return { kind: 'staff', subject: payload.sub ?? '', name, roles };
    },
  };
}
