/**
 * POST /v1/join/:code: the patient's side. The code is the credential; it is never logged.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { TERMINAL_STATES } from '../../sessions/schema.ts';
import { patientIdentity } from '../../sessions/participants.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiProblem } from '../errors.ts';
import { patientToken } from './token.ts';

export const joinRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.post(
    '/v1/join/:code',
    {
      schema: {
        tags: ['join'],
        summary: 'Open a join link: the LiveKit URL and a microphone-only token for the call',
        params: z.object({ code: z.string().max(64) }),
      },
      // Codes are unguessable; this only keeps a scanner from costing us database reads. A
      // patient's page polls while the call is set up (every 2 s, as Retry-After says).
      config: { rateLimit: { max: 120, timeWindow: 60_000 } },
    },
    async (request) => {
      const now = deps.now();
      const link = await deps.joinLinks.lookup(request.params.code, now);
      if (link.kind === 'unknown') throw new ApiProblem('not_found', { detail: 'no such link' });
      if (link.kind === 'expired') {
        throw new ApiProblem('join_link_gone', {
          detail: 'This link has expired. Ask your care team for a new one.',
        });
      }
      const session = await deps.sessions.get(link.sessionId);
      if (!session || TERMINAL_STATES.has(session.state)) {
        throw new ApiProblem('session_ended', { detail: 'This call has ended.' });
      }
      // Placed means active: the agent is in the room. While dispatching, a retry may still
      // move the session to a new room and close this one under the patient.
      if (!session.room || session.state !== 'active') {
        throw new ApiProblem('session_not_ready', {
          detail: 'Your call is being set up. Try again in a few seconds.',
        });
      }
      if (!(await deps.joinLinks.consume(link.hash, session.sessionId, now))) {
        throw new ApiProblem('join_link_gone', {
          detail: 'This link has already been used. Ask your care team for a new one.',
        });
      }
      const ttlMs = deps.cfg.api.patientTokenTtlMs;
      const token = await patientToken(deps.cfg.livekit, {
        sessionId: session.sessionId,
        room: session.room,
        ttlMs,
      });
      request.log.info({ sessionId: session.sessionId }, 'join link used');
      return {
        livekitUrl: deps.cfg.livekit.url,
        token,
        room: session.room,
        identity: patientIdentity(session.sessionId),
        expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
      };
    },
  );
};
