/**
 * Authentication (who is calling) and authorisation (may they call this route) for every
 * request, before the body is read. The policy is the PERMISSIONS table; this only applies it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiProblem } from '../errors.ts';
import type { ApiKeyStore } from './api-keys.ts';
import type { StaffTokenVerifier } from './jwt.ts';
import { decide, PERMISSIONS, routeKey, type Principal } from './permissions.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Null for public routes called without credentials. */
    principal: Principal | null;
  }
}

export interface AuthOptions {
  staffTokens: StaffTokenVerifier;
  apiKeys: ApiKeyStore;
  /** The table to enforce. @defaultValue PERMISSIONS */
  permissions?: typeof PERMISSIONS;
}

async function authenticate(request: FastifyRequest, opts: AuthOptions): Promise<Principal | null> {
  const header = request.headers.authorization;
  const apiKeyHeader = request.headers['x-api-key'];
  if (header === undefined && apiKeyHeader === undefined) return null;
  const [scheme = '', credential = ''] = (header ?? '').split(' ', 2);
  if (typeof apiKeyHeader === 'string' || scheme.toLowerCase() === 'apikey') {
    const key = typeof apiKeyHeader === 'string' ? apiKeyHeader : credential;
    const principal = await opts.apiKeys.verify(key.trim());
    if (!principal) throw new ApiProblem('unauthenticated', { detail: 'the API key is not valid' });
    return principal;
  }
  if (scheme.toLowerCase() === 'bearer' && credential) {
    return opts.staffTokens.verify(credential.trim());
  }
  throw new ApiProblem('unauthenticated', {
    detail: 'use "Authorization: Bearer <staff token>" or "Authorization: ApiKey <key>"',
  });
}

/** Adds the hook to `app` itself (not encapsulated): it must guard every route. */
export function installAuth(app: FastifyInstance, opts: AuthOptions): void {
  const table = opts.permissions ?? PERMISSIONS;
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url;
    const permission = url === undefined ? undefined : table[routeKey(request.method, url)];
    // Public routes skip credential checks entirely, so a stale header cannot lock a patient out.
    if (permission === 'public') return;
    const principal = await authenticate(request, opts);
    request.principal = principal;
    const decision = decide(permission, principal);
    if (decision === 'unauthenticated') {
      throw new ApiProblem('unauthenticated', { detail: 'this route needs credentials' });
    }
    if (decision === 'forbidden') {
      throw new ApiProblem('forbidden', {
        detail:
          permission === undefined
            ? 'this route has no permission entry, so nobody may call it'
            : `this route needs one of: ${permission.join(', ')}`,
      });
    }
  });
}

/** Who to record as the actor (an author, a link creator): never a patient. */
export function actorOf(principal: Principal | null): string {
  if (!principal) return 'anonymous';
  return principal.kind === 'staff'
    ? (principal.name ?? principal.subject)
    : `key:${principal.keyId}`;
}
