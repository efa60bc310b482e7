/**
 * GET /v1/auth/config: what the console's sign-in page needs to know, before anyone has signed
 * in. Public, and holds nothing secret: the OIDC client is a public one (authorization code +
 * PKCE), and the endpoints are the issuer's published ones.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.ts';

export const authConfigRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/v1/auth/config',
    {
      schema: {
        tags: ['auth'],
        summary:
          'How staff sign in: the dev token (local) or OIDC (authorization code + PKCE), and where roles are in the token',
        security: [],
      },
    },
    async (_request, reply) => {
      const { jwt } = deps.cfg.api;
      void reply.header('cache-control', 'no-cache');
      return {
        /** `dev`: tokens are signed by the local dev key (`npm run token`); `oidc`: by the issuer. */
        mode: jwt.jwksUrl ? ('oidc' as const) : ('dev' as const),
        rolesClaim: jwt.rolesClaim,
        ...(deps.cfg.api.oidc
          ? {
              oidc: {
                issuer: jwt.issuer,
                authorizeUrl: deps.cfg.api.oidc.authorizeUrl,
                tokenUrl: deps.cfg.api.oidc.tokenUrl,
                clientId: deps.cfg.api.oidc.clientId,
                scope: deps.cfg.api.oidc.scope,
                audience: jwt.audience,
              },
            }
          : {}),
      };
    },
  );
};
