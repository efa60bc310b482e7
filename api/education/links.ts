/**
 * Patient links to one education clip: a short-lived JWT (jose) naming the clip, in the URL
 * path, so a patient's phone plays it with no sign-in. The clip is checked again on every
 * request, so retiring it (or its script) stops a link at once. The token is never logged.
 */
import { randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import type { DevKey } from '../auth/jwt.ts';

const AUDIENCE = 'voicecare-education-clip';

export interface ClipLinks {
  sign(clipId: string, now: Date): Promise<{ token: string; expiresAt: Date }>;
  /** The clip and when the link stops working, or undefined for a token that is not ours, altered or expired. */
  verify(token: string): Promise<{ clipId: string; expiresAt: Date } | undefined>;
}

export interface ClipLinkKey {
  alg: 'HS256' | 'ES256';
  sign: Uint8Array | CryptoKey;
  verify: Uint8Array | CryptoKey;
  /** Made up for this process: its links stop working when it restarts, and on other instances. */
  ephemeral?: boolean;
}

/**
 * The signing key: the configured secret (HS256, the same on every instance), or on this machine
 * the dev key pair (ES256), whose private half cannot be exported to derive a secret from. With
 * neither (a development API that checks staff tokens against an issuer's JWKS), a random
 * per-process key, marked ephemeral so the caller can warn; production requires the secret.
 */
export function clipLinkKey(secret: string | undefined, devKey: DevKey | undefined): ClipLinkKey {
  if (secret) {
    const key = new TextEncoder().encode(secret);
    return { alg: 'HS256', sign: key, verify: key };
  }
  if (!devKey) {
    const key = new Uint8Array(randomBytes(32));
    return { alg: 'HS256', sign: key, verify: key, ephemeral: true };
  }
  return { alg: 'ES256', sign: devKey.privateKey, verify: devKey.publicKey };
}

export function createClipLinks(opts: {
  key: ClipLinkKey;
  issuer: string;
  ttlMs: number;
}): ClipLinks {
  const { key } = opts;
  return {
    async sign(clipId, now) {
      const expiresAt = new Date(now.getTime() + opts.ttlMs);
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: key.alg })
        .setSubject(clipId)
        .setIssuer(opts.issuer)
        .setAudience(AUDIENCE)
        .setIssuedAt(Math.floor(now.getTime() / 1000))
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
        .sign(key.sign);
      return { token, expiresAt };
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key.verify, {
          issuer: opts.issuer,
          audience: AUDIENCE,
          algorithms: [key.alg],
          requiredClaims: ['sub', 'exp'],
        });
        return { clipId: payload.sub!, expiresAt: new Date(payload.exp! * 1000) };
      } catch (err) {
        if (err instanceof joseErrors.JOSEError) return undefined;
        throw err;
      }
    },
  };
}
