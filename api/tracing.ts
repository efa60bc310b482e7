/**
 * The API's spans: one server span per /v1 request, named by method and route pattern (never the
 * URL, which holds session ids and join codes), continuing a caller's `traceparent` header. The
 * handler runs inside it, so what it publishes (api/main.ts) is its child.
 */
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { contextFrom, tracerFor } from '../infra/tracing.ts';

export const apiTracer = tracerFor('api');

/** Only the API's resources: probes and metrics would be a span every few seconds. */
const TRACED = /^\/v1\//;

/**
 * Wraps every /v1 route's handler in a server span, ended once the response is closed (the
 * error handler may still set the status after the handler threw). Call before the routes are
 * registered (an `onRoute` hook sees only the routes added after it), and only while tracing
 * is on.
 */
export function installRequestTracing(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (!TRACED.test(route.url)) return;
    const handler = route.handler as (
      this: FastifyInstance,
      request: FastifyRequest,
      reply: FastifyReply,
    ) => unknown;
    const name = `${[route.method].flat().join(',')} ${route.url}`;
    route.handler = function traced(this: FastifyInstance, request, reply) {
      const parent = contextFrom(request.headers, context.active());
      const span = apiTracer.start(name, {
        kind: SpanKind.SERVER,
        parent,
        attributes: { 'http.request.method': request.method, 'http.route': route.url },
      });
      if (!span) return handler.call(this, request, reply);
      // The socket's close, not a hook: hijacked replies (event streams) run no onResponse.
      reply.raw.once('close', () => {
        const { statusCode, writableFinished } = reply.raw;
        span.setAttribute('http.response.status_code', statusCode);
        if (!writableFinished || statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      });
      return context.with(trace.setSpan(parent, span), () => handler.call(this, request, reply));
    } as RouteHandlerMethod;
  });
}
