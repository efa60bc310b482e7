/**
 * Who is signed in, as far as the page needs to know for display: the token's payload is
 * decoded here without checking its signature (the API checks every call), only to show the
 * name and to hide what the role may not do. Also the OIDC authorization-code + PKCE redirect.
 */
import { api, setStaffToken, staffToken } from '../api.ts';

export type Role = 'clinician' | 'admin';

export interface AuthConfig {
  mode: 'dev' | 'oidc';
  rolesClaim: string;
  oidc?: {
    issuer: string;
    authorizeUrl: string;
    tokenUrl: string;
    clientId: string;
    scope: string;
    audience: string;
  };
}

export interface StaffUser {
  subject: string;
  name: string | undefined;
  roles: Role[];
  expiresAt: Date | undefined;
}

let configRequest: Promise<AuthConfig> | undefined;

/** Fetched once per page load; the sign-in page and the role check share it. */
export function authConfig(): Promise<AuthConfig> {
  configRequest ??= api<AuthConfig>('/v1/auth/config').catch((err: unknown) => {
    configRequest = undefined;
    throw err;
  });
  return configRequest;
}

function decodePayload(token: string): Record<string, unknown> | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '=')), (c) =>
      c.charCodeAt(0),
    );
    const payload: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof payload === 'object' && payload !== null
      ? (payload as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function claimAt(payload: Record<string, unknown>, path: string): unknown {
  let at: unknown = payload;
  for (const p of path.split('.')) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, p)) return undefined;
    at = (at as Record<string, unknown>)[p];
  }
  return at;
}

/** The user a token describes, or null when it is not a JWT or has expired. */
export function userFromToken(token: string, rolesClaim = 'roles'): StaffUser | null {
  const payload = decodePayload(token);
  if (!payload) return null;
  const exp = typeof payload['exp'] === 'number' ? new Date(payload['exp'] * 1000) : undefined;
  if (exp && exp.getTime() <= Date.now()) return null;
  const claimed = claimAt(payload, rolesClaim);
  const list = Array.isArray(claimed) ? claimed : typeof claimed === 'string' ? [claimed] : [];
  const roles = (['clinician', 'admin'] as const).filter((r) => list.includes(r));
  return {
    subject: typeof payload['sub'] === 'string' ? payload['sub'] : '',
    name: typeof payload['name'] === 'string' ? payload['name'] : undefined,
    roles,
    expiresAt: exp,
  };
}

/** The signed-in user from the stored token, or null (and the token forgotten) when unusable. */
export function currentUser(rolesClaim?: string): StaffUser | null {
  const token = staffToken();
  if (!token) return null;
  const user = userFromToken(token, rolesClaim);
  if (!user) setStaffToken(null);
  return user;
}

export const canPublish = (user: StaffUser | null): boolean => !!user?.roles.includes('admin');

// ---- OIDC: authorization code with PKCE (RFC 7636), a public client, no secret ----

const PKCE_KEY = 'voicecare.oidc';

const base64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

const randomString = (bytes = 32): string =>
  base64url(crypto.getRandomValues(new Uint8Array(bytes)));

export const redirectUri = (): string => `${location.origin}/login`;

/** Sends the browser to the issuer; it comes back to /login with `code` and `state`. */
export async function startOidcSignIn(cfg: NonNullable<AuthConfig['oidc']>, returnTo: string) {
  const verifier = randomString(48);
  const state = randomString(16);
  const challenge = base64url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))),
  );
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, returnTo }));
  const url = new URL(cfg.authorizeUrl);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: cfg.clientId,
    redirect_uri: redirectUri(),
    scope: cfg.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
}

export class SignInError extends Error {}

/**
 * Finishes the redirect: checks `state`, exchanges the code for tokens at the issuer, stores the
 * access token (the API verifies it against the issuer's keys). Returns where to go next.
 */
export async function finishOidcSignIn(
  cfg: NonNullable<AuthConfig['oidc']>,
  params: URLSearchParams,
): Promise<string> {
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) ?? 'null') as {
    verifier: string;
    state: string;
    returnTo: string;
  } | null;
  sessionStorage.removeItem(PKCE_KEY);
  const error = params.get('error');
  if (error) {
    throw new SignInError(
      `Your organisation did not sign you in: ${params.get('error_description') ?? error}.`,
    );
  }
  if (!saved || saved.state !== params.get('state')) {
    throw new SignInError('This sign-in link is stale or was not started here. Please try again.');
  }
  const res = await fetch(cfg.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code') ?? '',
      redirect_uri: redirectUri(),
      client_id: cfg.clientId,
      code_verifier: saved.verifier,
    }),
  }).catch(() => null);
  if (!res) throw new SignInError('We could not reach your organisation’s sign-in service.');
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  const token = body['access_token'];
  if (!res.ok || typeof token !== 'string') {
    throw new SignInError(
      `Your organisation’s sign-in service refused the exchange (${String(body['error'] ?? res.status)}).`,
    );
  }
  setStaffToken(token);
  return saved.returnTo || '/';
}
