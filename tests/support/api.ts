/**
 * A real API server for tests: its own database and topics, port 0, the dev key in a temporary
 * folder, and helpers to mint staff tokens and API keys the way operators do.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../infra/config.ts';
import { createLogger } from '../../infra/logger.ts';
import { readProfile } from '../../prompts/loader.ts';
import { MongoProfileStore } from '../../prompts/mongo-store.ts';
import { ApiKeyStore } from '../../api/auth/api-keys.ts';
import { signDevToken } from '../../api/auth/jwt.ts';
import type { ApiKeyScope, StaffRole } from '../../api/auth/permissions.ts';
import { runApi, type RunningApi } from '../../api/main.ts';
import { testConfig, uniqueName } from './env.ts';

export interface ApiFixture {
  cfg: Config;
  env: Record<string, string>;
  api: RunningApi;
  url: string;
  staffToken(
    roles: readonly StaffRole[],
    opts?: { subject?: string; name?: string; ttlMs?: number },
  ): Promise<string>;
  apiKey(scopes: readonly ApiKeyScope[]): Promise<string>;
  fetch(path: string, init?: RequestInit & { auth?: string }): Promise<Response>;
  stop(): Promise<void>;
}

/** Starts the API; `env` overrides the test environment (share topics with a dispatcher, say). */
export async function startApi(env: Record<string, string> = {}): Promise<ApiFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'voicecare-api-'));
  const fullEnv: Record<string, string> = {
    MONGODB_DB: uniqueName('api'),
    PUBSUB_REQUESTS_TOPIC: uniqueName('requests'),
    PUBSUB_EVENTS_TOPIC: uniqueName('events'),
    API_DEV_KEY_PATH: join(dir, 'dev-key.json'),
    API_RATE_LIMIT_MAX: '100000',
    ...env,
  };
  const cfg = testConfig(fullEnv);
  const api = await runApi(cfg, {
    port: 0,
    processMetrics: false,
    logger: createLogger({ level: cfg.log.level, service: 'api-test' }),
  });
  // The repo's intake profile, published into this test's database.
  await new MongoProfileStore(api.mongo.db)
    .publish(await readProfile(new URL('../../prompts/intake.yaml', import.meta.url).pathname), {
      author: 'test',
      note: 'fixture',
    })
    .catch(() => undefined);
  const keys = new ApiKeyStore(api.mongo.db);
  return {
    cfg,
    env: fullEnv,
    api,
    url: api.url,
    staffToken: (roles, opts = {}) => {
      if (!api.devKey) throw new Error('the test API has no dev key');
      return signDevToken(api.devKey, cfg.api.jwt, {
        subject: opts.subject ?? uniqueName('staff'),
        roles,
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}),
      });
    },
    apiKey: async (scopes) => (await keys.create(uniqueName('backend'), scopes)).key,
    fetch: (path, init = {}) => {
      const { auth, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (auth !== undefined) headers.set('authorization', auth);
      return fetch(`${api.url}${path}`, { ...rest, headers });
    },
    stop: async () => {
      await api.mongo.db.dropDatabase().catch(() => undefined);
      await api.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A valid session request body for the intake profile. */
export function sessionBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { profile: { id: 'intake' }, patient: { ref: uniqueName('pt') }, ...overrides };
}

export const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
