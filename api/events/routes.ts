/**
 * GET /v1/events: session events as Server-Sent Events for the console.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SESSION_EVENT_TYPES } from '../../sessions/schema.ts';
import type { ApiDeps } from '../deps.ts';
import { openSse } from '../sse.ts';

export const eventRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  app.get(
    '/v1/events',
    {
      schema: {
        tags: ['events'],
        summary:
          'Server-Sent Events: session.ready, .started, .escalation, .completed, .failed as they happen',
        querystring: z
          .object({
            sessionId: z.string().max(128).optional(),
            type: z.enum(SESSION_EVENT_TYPES).optional(),
          })
          .strict(),
      },
    },
    async (request, reply) => {
      const { sessionId, type } = request.query;
      const sse = openSse(request, reply);
      const unsubscribe = deps.events.subscribe((event) => {
        if (sessionId !== undefined && event.sessionId !== sessionId) return;
        if (type !== undefined && event.type !== type) return;
        sse.send(event.type, event);
      });
      sse.signal.addEventListener('abort', unsubscribe, { once: true });
      sse.send('open', { at: deps.now().toISOString() });
    },
  );
};
