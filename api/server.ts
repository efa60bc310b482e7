/**
 * The API as a Fastify instance: ecosystem plugins (helmet, CORS, rate limit, swagger), the zod
 * type provider, one plugin per resource, problem+json errors, a request id on every log line,
 * and Prometheus metrics. No listening here: api/main.ts does that, tests use port 0.
 */
import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../infra/logger.ts';
import { tracingEnabled } from '../infra/tracing.ts';
import type { ApiKeyStore } from './auth/api-keys.ts';
import type { StaffTokenVerifier } from './auth/jwt.ts';
import { installAuth } from './auth/plugin.ts';
import { routeKey } from './auth/permissions.ts';
import type { ApiDeps } from './deps.ts';
import { installConsole } from './console.ts';
import { consoleCsp } from './console-csp.ts';
import { dashboardRoutes } from './dashboard/routes.ts';
import { authConfigRoutes } from './auth/config-routes.ts';
import { ApiProblem, errorHandler, sendProblem } from './errors.ts';
import { educationRoutes } from './education/routes.ts';
import { eventRoutes } from './events/routes.ts';
import { joinRoutes } from './join/routes.ts';
import { knowledgeRoutes } from './knowledge/routes.ts';
import { profileRoutes } from './profiles/routes.ts';
import { sessionRoutes } from './sessions/routes.ts';
import { installRequestTracing } from './tracing.ts';
import type { SseStream } from './sse.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** `METHOD /pattern` of every route, as the permission table names them. */
    routeKeys: readonly string[];
  }
}

export interface BuildApiOptions {
  deps: ApiDeps;
  logger: Logger;
  staffTokens: StaffTokenVerifier;
  apiKeys: ApiKeyStore;
  /** Named dependency checks for /readyz (each resolves when reachable). */
  readinessChecks?: Record<string, () => Promise<unknown>>;
  /** Collect Node process metrics too. @defaultValue true */
  processMetrics?: boolean;
  /** The built console to serve at `/`; false: none. @defaultValue dist/console when built */
  consoleDir?: string | false;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildApi(opts: BuildApiOptions): Promise<FastifyInstance> {
  const { deps, logger } = opts;
  const cfg = deps.cfg.api;
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; typed as the base so plugins see the default instance.
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: cfg.bodyLimitBytes,
    // A patient clip link carries its signed token in the path (~300 characters; the default
    // limit is 100). Each route's schema still bounds its own parameters.
    maxParamLength: 600,
    // Ours: the default lines would log URLs, and URLs hold join codes and session ids.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // __proto__ and constructor.prototype in a body are refused, not stripped: a 400.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // Every route is in the permission table by method; implicit HEAD twins would not be.
    exposeHeadRoutes: false,
    forceCloseConnections: 'idle',
  }).withTypeProvider<ZodTypeProvider>();

  // JSON only: a text/plain body is a 415, not a string for the schema to puzzle over.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((_request, reply) => {
    void sendProblem(reply, new ApiProblem('not_found'));
  });
  app.decorate('sseStreams', new Set<SseStream>());
  const routeKeys: string[] = [];
  app.decorate('routeKeys', routeKeys);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routeKeys.push(routeKey(method, route.url));
  });
  if (tracingEnabled()) installRequestTracing(app);

  const registry = new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'api_request_duration_ms',
    help: 'API request duration by route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
    registers: [registry],
  });
  const problems = new Counter({
    name: 'api_problems_total',
    help: 'Problem responses by code',
    labelNames: ['status'] as const,
    registers: [registry],
  });

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '(unmatched)';
    const ms = reply.elapsedTime;
    duration.observe({ method: request.method, route, status: String(reply.statusCode) }, ms);
    if (reply.statusCode >= 400) problems.inc({ status: String(reply.statusCode) });
    // The route pattern, never the URL: no session ids, join codes or query values.
    request.log.debug({ method: request.method, route, status: reply.statusCode, ms }, 'request');
  });

  await app.register(helmet, {
    // JSON routes need no CSP; the console's pages set their own (api/console-csp.ts).
    contentSecurityPolicy: false,
  });
  await app.register(cors, { origin: cfg.corsOrigins.length ? [...cfg.corsOrigins] : false });
  await app.register(rateLimit, {
    max: cfg.rateLimit.max,
    timeWindow: cfg.rateLimit.windowMs,
    // Per caller where known (auth runs first), else per address.
    keyGenerator: (request) => {
      const p = request.principal;
      if (!p) return `ip:${request.ip}`;
      return p.kind === 'staff' ? `staff:${p.subject}` : `key:${p.keyId}`;
    },
    hook: 'preHandler',
    errorResponseBuilder: (_request, context) =>
      new ApiProblem('rate_limited', { detail: `retry after ${context.after}` }),
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'VoiceCare Session API',
        version: '1.0.0',
        description:
          'Sessions, patient join links, clinician profiles and live events. Errors are RFC 9457 problem+json with a stable `code`.',
      },
      components: {
        securitySchemes: {
          staff: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        },
      },
      security: [{ staff: [] }, { apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });

  installAuth(app, { staffTokens: opts.staffTokens, apiKeys: opts.apiKeys });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const checks: Record<string, string> = { events: deps.events.ready() ? 'ok' : 'not open' };
    await Promise.all(
      Object.entries(opts.readinessChecks ?? {}).map(async ([name, check]) => {
        try {
          await check();
          checks[name] = 'ok';
        } catch {
          checks[name] = 'unreachable';
        }
      }),
    );
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.code(ready ? 200 : 503).send({ ready, checks });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(sessionRoutes, deps);
  await app.register(joinRoutes, deps);
  await app.register(profileRoutes, deps);
  await app.register(knowledgeRoutes, deps);
  await app.register(educationRoutes, deps);
  await app.register(eventRoutes, deps);
  await app.register(dashboardRoutes, deps);
  await app.register(authConfigRoutes, deps);
  if (opts.consoleDir !== false) {
    await installConsole(app, opts.consoleDir, { csp: consoleCsp(deps.cfg) });
  }

  app.addHook('preClose', async () => {
    for (const s of [...app.sseStreams]) s.close();
  });
  return app;
}
