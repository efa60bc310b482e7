/**
 * What the API adds for the console, against the real servers: the dashboard summary from the
 * session store, the public sign-in configuration (dev and OIDC), and the pages' CSP, which the
 * JSON routes do not get.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../infra/config.ts';
import { ConfigError } from '../infra/errors.ts';
import { consoleCsp } from '../api/console-csp.ts';
import { startApi, type ApiFixture } from './support/api.ts';
import { seedSession, SAMPLE_CALL } from './support/console-seed.ts';
import { TEST_ENV } from './support/env.ts';

let f: ApiFixture;
let clinician: string;

beforeAll(async () => {
  f = await startApi();
  clinician = `Bearer ${await f.staffToken(['clinician'])}`;
});

afterAll(async () => {
  await f?.stop();
});

interface Summary {
  live: { sessionId: string; state: string; activeAt?: string; escalations: number }[];
  escalations: { sessionId: string; ruleId: string; severity: string }[];
  last24h: { total: number; byState: Record<string, number>; byReason: Record<string, number> };
  workers: {
    source: string;
    activeSessions: number;
    placingSessions: number;
    sessionsPerWorker: number;
    needed: number;
  };
}

describe('GET /v1/dashboard', () => {
  it('summarises the last day from the store: live sessions, escalations, outcomes and load', async () => {
    const db = f.api.mongo.db;
    const live = await seedSession(db, {
      ...SAMPLE_CALL,
      state: 'active',
      escalations: [
        {
          ruleId: 'chest-pain',
          severity: 'emergency',
          status: 'confirmed',
          seq: 5,
          channel: 'speech',
          trigger: { detector: 'rules', kind: 'phrase', value: 'chest pain' },
        },
      ],
    });
    const waiting = await seedSession(db, { state: 'requested' });
    await seedSession(db, { state: 'completed' });
    await seedSession(db, { state: 'completed', endReason: 'max_duration' });
    await seedSession(db, { state: 'failed' });
    // Older than a day: not in the counts.
    await seedSession(db, {
      state: 'completed',
      requestedAt: new Date(Date.now() - 30 * 3_600_000),
    });

    const res = await f.fetch('/v1/dashboard', { auth: clinician });
    expect(res.status).toBe(200);
    const s = (await res.json()) as Summary;
    expect(s.live.map((l) => l.sessionId).sort()).toEqual([live, waiting].sort());
    expect(s.live.find((l) => l.sessionId === live)).toMatchObject({
      state: 'active',
      escalations: 1,
    });
    expect(s.live.find((l) => l.sessionId === live)?.activeAt).toBeDefined();
    expect(s.escalations).toEqual([
      expect.objectContaining({ sessionId: live, ruleId: 'chest-pain', severity: 'emergency' }),
    ]);
    expect(s.last24h.total).toBe(5);
    expect(s.last24h.byState).toEqual({ active: 1, requested: 1, completed: 2, failed: 1 });
    expect(s.last24h.byReason).toEqual({ end_phrase: 1, max_duration: 1, agent_join_timeout: 1 });
    expect(s.workers).toMatchObject({
      source: 'session-store',
      activeSessions: 1,
      placingSessions: 1,
    });
    // ceil((1 active + 1 placing) / per worker) + spare, the autoscaler's arithmetic.
    const { sessionsPerWorker, spareWorkers } = f.cfg.dispatcher;
    expect(s.workers.needed).toBe(Math.ceil(2 / sessionsPerWorker) + spareWorkers);
  });

  it('is for staff only: a backend key is refused', async () => {
    const key = await f.apiKey(['sessions:read']);
    expect((await f.fetch('/v1/dashboard', { auth: `ApiKey ${key}` })).status).toBe(403);
    expect((await f.fetch('/v1/dashboard')).status).toBe(401);
  });
});

describe('sign-in configuration', () => {
  it('tells the sign-in page, without credentials, that tokens come from the dev key here', async () => {
    const res = await f.fetch('/v1/auth/config');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ mode: 'dev', rolesClaim: 'roles' });
  });

  it('advertises the OIDC client when all three endpoints are configured, and refuses part of one', () => {
    const env = {
      ...TEST_ENV,
      API_JWKS_URL: 'https://id.example.org/jwks',
      API_JWT_ISSUER: 'https://id.example.org',
      API_OIDC_AUTHORIZE_URL: 'https://id.example.org/authorize',
      API_OIDC_TOKEN_URL: 'https://id.example.org/token',
      API_OIDC_CLIENT_ID: 'voicecare-console',
    };
    const cfg = loadConfig(env);
    expect(cfg.api.oidc).toEqual({
      authorizeUrl: 'https://id.example.org/authorize',
      tokenUrl: 'https://id.example.org/token',
      clientId: 'voicecare-console',
      scope: 'openid profile',
    });
    // The browser posts the code to the token endpoint: the pages' CSP lets it.
    expect(consoleCsp(cfg)).toMatch(/connect-src [^;]*https:\/\/id\.example\.org/);
    const { API_OIDC_TOKEN_URL: _dropped, ...partial } = env;
    expect(() => loadConfig(partial)).toThrow(ConfigError);
    expect(() => loadConfig(partial)).toThrow(/API_OIDC_TOKEN_URL/);
  });
});

describe('the console pages', () => {
  it('carry a CSP that allows only this origin and LiveKit, and the JSON routes carry none', async () => {
    const page = await f.fetch('/login');
    // Without a build the pages say how to make one (503) and there is nothing to protect.
    if (page.status === 503) throw new Error('build the console first: npm run console:build');
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const lk = new URL(f.cfg.livekit.url);
    expect(csp).toMatch(new RegExp(`connect-src 'self' ws://${lk.host} http://${lk.host}`));
    expect(csp).toMatch(/media-src 'self' blob: mediastream:/);
    const apiRes = await f.fetch('/v1/auth/config');
    expect(apiRes.headers.get('content-security-policy')).toBeNull();
  });
});
