/**
 * Who may call what, as data. The server enforces this table (auth/plugin.ts) and the
 * authorisation test walks it. A route that is not in the table is refused for everyone.
 */

import { CONSOLE_PAGES } from '../console-pages.ts';

export const STAFF_ROLES = ['clinician', 'admin'] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

export const API_KEY_SCOPES = ['sessions:create', 'sessions:read'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** A grant: a staff role, or an API-key scope. */
export type Grant = StaffRole | ApiKeyScope;

/** `public`: no credentials at all (the join code or the probe is the whole point). */
export type Permission = 'public' | readonly Grant[];

const STAFF: readonly Grant[] = ['clinician', 'admin'];

/** `METHOD /path` as Fastify names the route (its pattern, not the URL called). */
export const PERMISSIONS: Readonly<Record<string, Permission>> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'public',
  'GET /openapi.json': 'public',
  // CORS preflight (@fastify/cors): browsers send it without credentials.
  'OPTIONS *': 'public',

  // The console's pages and assets (api/console.ts): no data in them; their API calls are checked.
  ...Object.fromEntries(CONSOLE_PAGES.map((page) => [`GET ${page}`, 'public' as const])),
  'GET /assets/*': 'public',
  'HEAD /assets/*': 'public',

  'POST /v1/sessions': [...STAFF, 'sessions:create'],
  'GET /v1/sessions': [...STAFF, 'sessions:read'],
  'GET /v1/sessions/:id': [...STAFF, 'sessions:read'],
  'POST /v1/sessions/:id/cancel': [...STAFF, 'sessions:create'],
  'POST /v1/sessions/:id/join-link': [...STAFF, 'sessions:create'],
  // What the patient said: staff only, never a backend key.
  'GET /v1/sessions/:id/transcript': STAFF,
  'GET /v1/sessions/:id/transcript/stream': STAFF,
  'GET /v1/events': STAFF,
  'GET /v1/dashboard': STAFF,
  // Before sign-in: how to sign in (nothing secret in it).
  'GET /v1/auth/config': 'public',

  // The single-use code is the credential; patients never log in.
  'POST /v1/join/:code': 'public',

  'GET /v1/profiles': STAFF,
  'GET /v1/profiles/:id': STAFF,
  'GET /v1/profiles/:id/versions/:version': STAFF,
  'GET /v1/profiles/:id/diff': STAFF,
  'POST /v1/profiles/validate': STAFF,
  'POST /v1/profiles/preview': STAFF,
  // Publishing changes what agents say to patients: admins (clinical governance) only.
  'POST /v1/profiles': ['admin'],

  // Care-team documents: staff upload and read them; approving or retiring one changes what
  // agents say to patients, so it is clinical governance's (admins), as publishing is.
  'GET /v1/knowledge': STAFF,
  'POST /v1/knowledge': STAFF,
  'GET /v1/knowledge/:docId': STAFF,
  'POST /v1/knowledge/:docId/versions/:version/approve': ['admin'],
  'POST /v1/knowledge/:docId/retire': ['admin'],
  'POST /v1/knowledge/search': STAFF,

  // Education audio: staff write, draft, render and listen; approving or retiring a script or a
  // clip decides what patients hear, so it is admins', as for knowledge documents.
  'GET /v1/education/voices': STAFF,
  'GET /v1/education/scripts': STAFF,
  'POST /v1/education/scripts': STAFF,
  'POST /v1/education/scripts/draft': STAFF,
  'GET /v1/education/scripts/:scriptId': STAFF,
  'POST /v1/education/scripts/:scriptId/versions/:version/approve': ['admin'],
  'POST /v1/education/scripts/:scriptId/versions/:version/render': STAFF,
  'POST /v1/education/scripts/:scriptId/retire': ['admin'],
  'GET /v1/education/clips': STAFF,
  'GET /v1/education/clips/:clipId': STAFF,
  'GET /v1/education/clips/:clipId/audio': STAFF,
  'POST /v1/education/clips/:clipId/approve': ['admin'],
  'POST /v1/education/clips/:clipId/retire': ['admin'],
  'POST /v1/education/clips/:clipId/patient-link': STAFF,
  // The signed, expiring link is the credential: one approved clip, no sign-in.
  'GET /v1/education/listen/:token': 'public',
  'GET /v1/education/listen/:token/about': 'public',
};

export const routeKey = (method: string, url: string): string => `${method} ${url}`;

export type Principal =
  | { kind: 'staff'; subject: string; name: string | undefined; roles: readonly StaffRole[] }
  | { kind: 'service'; keyId: string; scopes: readonly ApiKeyScope[] };

/** The grants a principal holds. */
export function grantsOf(principal: Principal): readonly Grant[] {
  return principal.kind === 'staff' ? principal.roles : principal.scopes;
}

export type Decision = 'allow' | 'unauthenticated' | 'forbidden';

/** The whole policy: unknown routes are forbidden, public ones open, others need a grant. */
export function decide(permission: Permission | undefined, principal: Principal | null): Decision {
  if (permission === undefined) return principal ? 'forbidden' : 'unauthenticated';
  if (permission === 'public') return 'allow';
  if (!principal) return 'unauthenticated';
  const held = grantsOf(principal);
  return permission.some((g) => held.includes(g)) ? 'allow' : 'forbidden';
}
