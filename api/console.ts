/**
 * Serves the built console (dist/console, from `npm run console:build`) from the API, so one URL
 * opens the clinician dashboard and the patient page. The console's own routes are listed here
 * and each gets index.html (the page routes itself); hashed assets come from /assets/. Pages hold
 * no data: every call they make goes through the API's permissions. Without a build the API runs
 * as before and `/` says how to make one.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { CONSOLE_PAGES } from './console-pages.ts';

/** dist/console from the source tree (api/) and from the compiled tree (dist/api/). */
const CANDIDATES = ['../dist/console', '../console'].map((p) =>
  fileURLToPath(new URL(p, import.meta.url)),
);

export function consoleDir(): string | undefined {
  return CANDIDATES.find((dir) => existsSync(`${dir}/index.html`));
}

export interface ConsoleOptions {
  /** The pages' Content-Security-Policy (api/console-csp.ts); none when absent. */
  csp?: string;
}

export async function installConsole(
  app: FastifyInstance,
  dir = consoleDir(),
  opts: ConsoleOptions = {},
): Promise<void> {
  if (!dir) {
    for (const page of CONSOLE_PAGES) {
      app.get(page, { schema: { hide: true } }, async (_request, reply) =>
        reply
          .code(503)
          .type('text/plain')
          .send('The console is not built: run `npm run console:build`.\n'),
      );
    }
    return;
  }
  // Hashed names never change, so assets are cached for good; index.html never is.
  await app.register(fastifyStatic, {
    root: `${dir}/assets`,
    prefix: '/assets/',
    index: false,
    serve: true,
    immutable: true,
    maxAge: '365d',
    schemaHide: true,
  });
  for (const page of CONSOLE_PAGES) {
    app.get(page, { schema: { hide: true } }, async (_request, reply) =>
      (opts.csp ? reply.header('content-security-policy', opts.csp) : reply)
        .header('cache-control', 'no-cache')
        .sendFile('index.html', dir),
    );
  }
}
