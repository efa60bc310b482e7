/**
 * The session API against the real servers: FerretDB, the Pub/Sub emulator, LiveKit's server
 * API. Who may call what (the whole table, walked), hostile bodies, idempotency, paging, cancel,
 * join links and the patient token's claims, profiles, and both SSE streams.
 */
import type { Message, Subscription } from '@google-cloud/pubsub';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS, decide, type Permission, type Principal } from '../api/auth/permissions.ts';
import { JoinLinks } from '../api/join/links.ts';
import { createPubSub, ensureSubscription } from '../infra/pubsub.ts';
import { PubSubEventPublisher } from '../sessions/events.ts';
import { MongoSessionStore, MongoUtteranceStore } from '../sessions/mongo-store.ts';
import { SessionRequestV1, type SessionRequest } from '../sessions/schema.ts';
import { json, sessionBody, startApi, type ApiFixture } from './support/api.ts';
import { uniqueName } from './support/env.ts';
import { SseReader } from './support/sse.ts';

let f: ApiFixture;
let sessions: MongoSessionStore;
let clinician: string;
let admin: string;
let creator: string;
let reader: string;
const pubsub = createPubSub({
  projectId: 'voicecare-local',
  emulatorHost: '127.0.0.1:8085',
  requestsTopic: '',
  requestsSubscription: '',
  eventsTopic: '',
  deadLetterTopic: '',
  maxDeliveryAttempts: 5,
});
let requestsSub: Subscription;
const published: SessionRequest[] = [];

beforeAll(async () => {
  f = await startApi();
  sessions = new MongoSessionStore({ db: f.api.mongo.db });
  clinician = `Bearer ${await f.staffToken(['clinician'], { name: 'RN Lee' })}`;
  admin = `Bearer ${await f.staffToken(['admin'], { name: 'Dr Admin' })}`;
  creator = `ApiKey ${await f.apiKey(['sessions:create'])}`;
  reader = `ApiKey ${await f.apiKey(['sessions:read'])}`;
  requestsSub = await ensureSubscription(pubsub, {
    topic: f.cfg.pubsub.requestsTopic,
    subscription: uniqueName('api-requests'),
  });
  requestsSub.on('message', (m: Message) => {
    m.ack();
    published.push(SessionRequestV1.parse(JSON.parse(m.data.toString())));
  });
});

afterAll(async () => {
  await requestsSub?.close().catch(() => undefined);
  await requestsSub?.delete().catch(() => undefined);
  await pubsub.close();
  await f?.stop();
});

async function create(body = sessionBody(), auth = creator, headers: Record<string, string> = {}) {
  const init = json(body);
  const res = await f.fetch('/v1/sessions', {
    ...init,
    headers: { ...(init.headers as Record<string, string>), ...headers },
    auth,
  });
  return { res, body: (await res.json()) as Record<string, unknown> };
}

async function until<T>(fn: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('who may call what', () => {
  const callers: Record<string, () => string | undefined> = {
    'no credentials': () => undefined,
    clinician: () => clinician,
    admin: () => admin,
    'key sessions:create': () => creator,
    'key sessions:read': () => reader,
  };
  const principals: Record<string, Principal | null> = {
    'no credentials': null,
    clinician: { kind: 'staff', subject: 's', name: undefined, roles: ['clinician'] },
    admin: { kind: 'staff', subject: 's', name: undefined, roles: ['admin'] },
    'key sessions:create': { kind: 'service', keyId: 'k', scopes: ['sessions:create'] },
    'key sessions:read': { kind: 'service', keyId: 'k', scopes: ['sessions:read'] },
  };

  it('has a permission entry for every route it serves, and no entry for a route it lacks', () => {
    expect([...f.api.app.routeKeys].sort()).toEqual(Object.keys(PERMISSIONS).sort());
  });

  const cases = Object.entries(PERMISSIONS).flatMap(([route, permission]) =>
    Object.keys(callers).map(
      (caller) => [route, caller, permission] as [string, string, Permission],
    ),
  );
  it.each(cases)('%s, called with %s', async (route, caller, permission) => {
    const [method = 'GET', pattern = '/'] = route.split(' ');
    // Unknown ids: a granted caller gets past authorisation and then a 404 or 400, never data.
    const path = pattern
      .replace(':id', 'no-such-session')
      .replace(':code', 'no-such-code')
      .replace(':version', '1')
      .replace(/^\*$/, '/v1/sessions');
    const abort = new AbortController();
    const res = await f.fetch(path, {
      method,
      signal: abort.signal,
      ...(method === 'POST' ? { body: '{}', headers: { 'content-type': 'application/json' } } : {}),
      auth: callers[caller]?.(),
    });
    abort.abort(); // SSE routes would stream on
    const expected = decide(permission, principals[caller] ?? null);
    if (expected === 'unauthenticated') expect(res.status).toBe(401);
    else if (expected === 'forbidden') expect(res.status).toBe(403);
    else expect([401, 403]).not.toContain(res.status);
    if (res.status === 401 || res.status === 403) {
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
  });

  it('refuses a forged, an expired and a wrong-audience token, and an unknown key', async () => {
    const expired = await f.staffToken(['admin'], { ttlMs: -60_000 });
    for (const auth of [
      `Bearer ${clinician.slice(7, -4)}AAAA`,
      `Bearer ${expired}`,
      'Bearer not-a-jwt',
      'ApiKey vck_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      'Basic dXNlcjpwYXNz',
    ]) {
      const res = await f.fetch('/v1/sessions', { auth });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('unauthenticated');
    }
  });

  it('gives a staff token with no known role nothing', async () => {
    const res = await f.fetch('/v1/sessions', {
      auth: `Bearer ${await f.staffToken([])}`,
    });
    expect(res.status).toBe(403);
  });
});

describe('POST /v1/sessions with hostile bodies', () => {
  const post = (body: string, contentType = 'application/json') =>
    f.fetch('/v1/sessions', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
      auth: creator,
    });

  const expectProblem = async (res: Response, status: number, path?: string) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await res.json()) as { errors?: { path: string }[]; code: string };
    if (path) expect(problem.errors?.map((e) => e.path)).toContain(path);
    return problem;
  };

  it('answers malformed JSON with a 400 about the body', async () => {
    await expectProblem(await post('{"profile": {"id": "intake"'), 400, 'body');
  });

  it('names the field path of a wrong type', async () => {
    await expectProblem(
      await post(JSON.stringify({ profile: { id: 7 }, patient: { ref: 'x' } })),
      400,
      'body.profile.id',
    );
    await expectProblem(
      await post(
        JSON.stringify({ profile: { id: 'intake' }, patient: { ref: 'x' }, priority: 'now' }),
      ),
      400,
      'body.priority',
    );
  });

  it('refuses a huge string by its field', async () => {
    const problem = await expectProblem(
      await post(JSON.stringify(sessionBody({ patient: { ref: 'a'.repeat(20_000) } }))),
      400,
      'body.patient.ref',
    );
    expect(JSON.stringify(problem)).not.toContain('a'.repeat(200));
  });

  it('refuses __proto__ and constructor.prototype keys', async () => {
    await expectProblem(
      await post('{"profile":{"id":"intake"},"patient":{"ref":"x"},"__proto__":{"admin":true}}'),
      400,
      'body',
    );
    await expectProblem(
      await post(
        '{"profile":{"id":"intake"},"patient":{"ref":"x","constructor":{"prototype":{"a":1}}}}',
      ),
      400,
    );
    expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
  });

  it('refuses deep nesting without falling over', async () => {
    const deep = `{"profile":{"id":"intake"},"patient":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    await expectProblem(await post(deep), 400, 'body.patient');
  });

  it('refuses unknown fields and the wrong content type', async () => {
    await expectProblem(await post(JSON.stringify(sessionBody({ extra: 1 }))), 400, 'body');
    await expectProblem(await post('profile=intake', 'text/plain'), 415);
    await expectProblem(
      await post(JSON.stringify(sessionBody()), 'application/x-www-form-urlencoded'),
      415,
    );
  });

  it('answers an oversized body with a 413', async () => {
    const big = JSON.stringify(sessionBody({ pad: 'x'.repeat(f.cfg.api.bodyLimitBytes) }));
    await expectProblem(await post(big), 413);
  });

  it('refuses a profile that is not published, naming it', async () => {
    await expectProblem(
      await post(JSON.stringify(sessionBody({ profile: { id: 'no-such-profile' } }))),
      422,
      'body.profile',
    );
  });
});

describe('creating and reading sessions', () => {
  it('stores the request, publishes it to Pub/Sub and answers 202 with links', async () => {
    const sessionId = uniqueName('s');
    const { res, body } = await create(sessionBody({ sessionId }));
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/sessions/${sessionId}`);
    expect(body).toMatchObject({ sessionId, state: 'requested', created: true });
    expect(body['links']).toMatchObject({ self: `/v1/sessions/${sessionId}` });
    const message = await until(() => published.find((p) => p.sessionId === sessionId));
    expect(message.profile).toEqual({ id: 'intake' });

    const got = await f.fetch(`/v1/sessions/${sessionId}`, { auth: reader });
    expect(got.status).toBe(200);
    const doc = (await got.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      sessionId,
      state: 'requested',
      profile: { id: 'intake' },
      attempts: 0,
    });
    expect(doc['timestamps']).toHaveProperty('requested');
  });

  it('is idempotent on sessionId, and refuses the same id for a different request', async () => {
    const sessionId = uniqueName('s');
    const body = sessionBody({ sessionId });
    const first = await create(body);
    const again = await create(body);
    expect(first.res.status).toBe(202);
    expect(again.res.status).toBe(202);
    expect(again.body).toMatchObject({ sessionId, created: false });
    const other = await create({ ...body, patient: { ref: 'someone-else' } });
    expect(other.res.status).toBe(409);
    expect(other.body['code']).toBe('idempotency_conflict');
  });

  it('is idempotent on Idempotency-Key when it picks the id, even under concurrency', async () => {
    const key = uniqueName('idem');
    const body = sessionBody();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => create(body, creator, { 'idempotency-key': key })),
    );
    const ids = new Set(results.map((r) => r.body['sessionId']));
    expect(results.map((r) => r.res.status)).toEqual([202, 202, 202, 202, 202]);
    expect(ids.size).toBe(1);
    expect(String([...ids][0])).toMatch(/^ses_/);
    const reused = await create(sessionBody(), creator, { 'idempotency-key': key });
    expect(reused.res.status).toBe(409);
    // Keys are per caller: another caller's same key is another session.
    const otherCaller = await create(body, clinician, { 'idempotency-key': key });
    expect(otherCaller.body['sessionId']).not.toBe([...ids][0]);
  });

  it('answers 404 for a session that does not exist', async () => {
    const res = await f.fetch('/v1/sessions/nope', { auth: reader });
    expect(res.status).toBe(404);
  });

  it('lists newest first with a cursor, and filters by state, profile and time', async () => {
    const profileTag = uniqueName('t');
    const base = Date.parse('2031-01-01T00:00:00Z');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const sessionId = `${profileTag}-${i}`;
      ids.push(sessionId);
      const r = await create(
        sessionBody({ sessionId, requestedAt: new Date(base + i * 60_000).toISOString() }),
      );
      expect(r.res.status).toBe(202);
    }
    await sessions.transition(ids[1]!, 'failed', new Date(), { failureReason: 'test' });
    const from = new Date(base).toISOString();
    const to = new Date(base + 10 * 60_000).toISOString();
    const seen: string[] = [];
    let next: string | undefined =
      `/v1/sessions?limit=2&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    const pages: number[] = [];
    while (next) {
      const res = await f.fetch(next, { auth: reader });
      expect(res.status).toBe(200);
      const page = (await res.json()) as {
        items: { sessionId: string }[];
        links?: { next: string };
      };
      pages.push(page.items.length);
      seen.push(...page.items.map((s) => s.sessionId));
      next = page.links?.next;
    }
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toEqual([2, 2, 1]);

    const failed = await f.fetch(
      `/v1/sessions?state=failed&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
      { auth: reader },
    );
    expect(
      ((await failed.json()) as { items: { sessionId: string }[] }).items.map((s) => s.sessionId),
    ).toEqual([ids[1]]);
    const none = await f.fetch(`/v1/sessions?profile=no-such&from=${encodeURIComponent(from)}`, {
      auth: reader,
    });
    expect(((await none.json()) as { items: unknown[] }).items).toEqual([]);
    const bad = await f.fetch('/v1/sessions?cursor=garbage', { auth: reader });
    expect(bad.status).toBe(400);
    const badLimit = await f.fetch('/v1/sessions?limit=100000', { auth: reader });
    expect(((await badLimit.json()) as { errors: { path: string }[] }).errors[0]?.path).toBe(
      'query.limit',
    );
  });
});

describe('cancel', () => {
  it('fails a session that is not placed yet as cancelled, once', async () => {
    const { body } = await create();
    const id = String(body['sessionId']);
    const res = await f.fetch(`/v1/sessions/${id}/cancel`, { method: 'POST', auth: creator });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: 'failed', cancelled: true });
    const again = await f.fetch(`/v1/sessions/${id}/cancel`, { method: 'POST', auth: creator });
    expect(again.status).toBe(200);
    expect((await sessions.get(id))?.failureReason).toBe('cancelled');
  });

  it('ends a live call by closing its room, and refuses to cancel a finished one', async () => {
    const { body } = await create();
    const id = String(body['sessionId']);
    await sessions.transition(id, 'active', new Date(), { room: `session-${id}-1` });
    const res = await f.fetch(`/v1/sessions/${id}/cancel`, { method: 'POST', auth: clinician });
    expect(res.status).toBe(200);
    expect(await sessions.get(id)).toMatchObject({ state: 'interrupted', endReason: 'cancelled' });

    const done = String((await create()).body['sessionId']);
    await sessions.transition(done, 'active', new Date(), { room: 'r' });
    await sessions.transition(done, 'completed', new Date());
    const refused = await f.fetch(`/v1/sessions/${done}/cancel`, {
      method: 'POST',
      auth: clinician,
    });
    expect(refused.status).toBe(409);
  });
});

describe('patient join links', () => {
  const link = async (id: string) => {
    const res = await f.fetch(`/v1/sessions/${id}/join-link`, { method: 'POST', auth: creator });
    expect(res.status).toBe(201);
    return (await res.json()) as { code: string; path: string; expiresAt: string };
  };
  const open = (path: string) => f.fetch(path, { method: 'POST' });

  it('asks the patient to retry while the call is set up, without using the link', async () => {
    const id = String((await create()).body['sessionId']);
    const l = await link(id);
    const early = await open(l.path);
    expect(early.status).toBe(409);
    expect(await early.json()).toMatchObject({ code: 'session_not_ready', retryable: true });
    await sessions.transition(id, 'dispatching', new Date(), { room: `session-${id}-1` });
    expect((await open(l.path)).status).toBe(409);
    await sessions.transition(id, 'active', new Date(), { room: `session-${id}-1` });
    expect((await open(l.path)).status).toBe(200);
  });

  it('exchanges the code once for a microphone-only token bound to the session', async () => {
    const id = String((await create()).body['sessionId']);
    const room = `session-${id}-1`;
    await sessions.transition(id, 'active', new Date(), { room });
    const l = await link(id);
    const res = await open(l.path);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      token: string;
      livekitUrl: string;
      room: string;
      identity: string;
    };
    expect(body.livekitUrl).toBe(f.cfg.livekit.url);
    const claims = decodeJwt(body.token);
    expect(claims.sub).toBe(`patient-${id}`);
    expect(claims.iss).toBe(f.cfg.livekit.apiKey);
    expect((claims.exp ?? 0) - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(15 * 60);
    expect((claims.exp ?? 0) - (claims.nbf ?? 0)).toBeLessThanOrEqual(15 * 60);
    const video = claims['video'] as Record<string, unknown>;
    expect(video['room']).toBe(room);
    expect(video['roomJoin']).toBe(true);
    expect(video['canPublish']).toBe(true);
    expect(video['canSubscribe']).toBe(true);
    expect(video['canPublishSources']).toEqual(['microphone']);
    expect(video['canPublishData']).toBe(false);
    for (const grant of [
      'roomAdmin',
      'roomCreate',
      'roomList',
      'roomRecord',
      'recorder',
      'agent',
      'hidden',
    ]) {
      expect(video[grant] ?? false).toBe(false);
    }
    expect(claims['sip']).toBeUndefined();

    const second = await open(l.path);
    expect(second.status).toBe(410);
    expect(((await second.json()) as { detail: string }).detail).toMatch(/already been used/);
  });

  it('lets exactly one of several concurrent openers use a link', async () => {
    const id = String((await create()).body['sessionId']);
    await sessions.transition(id, 'active', new Date(), { room: `session-${id}-1` });
    const l = await link(id);
    const statuses = await Promise.all(
      Array.from({ length: 6 }, () => open(l.path).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 410)).toHaveLength(5);
  });

  it('answers an expired link with 410 and an unknown one with 404', async () => {
    const id = String((await create()).body['sessionId']);
    await sessions.transition(id, 'active', new Date(), { room: `session-${id}-1` });
    const links = new JoinLinks({ db: f.api.mongo.db, ttlMs: 1000 });
    const old = await links.create(id, 'test', new Date(Date.now() - 60_000));
    const res = await open(`/v1/join/${old.code}`);
    expect(res.status).toBe(410);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/expired/);
    expect((await open('/v1/join/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
  });
});

describe('live streams', () => {
  it('streams session events from the session-events topic', async () => {
    const abort = new AbortController();
    const res = await f.fetch('/v1/events', { auth: clinician, signal: abort.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const sse = new SseReader(res);
    await sse.waitFor((e) => e.event === 'open');
    const publisher = new PubSubEventPublisher({ topic: pubsub.topic(f.cfg.pubsub.eventsTopic) });
    const sessionId = uniqueName('ev');
    await publisher.publish({
      type: 'session.ready',
      sessionId,
      at: new Date().toISOString(),
      room: 'r',
      livekitUrl: 'ws://x',
    });
    const got = await sse.waitFor((e) => e.event === 'session.ready');
    expect(got.data).toMatchObject({ sessionId, room: 'r' });
    abort.abort();
  });

  it('tails the transcript as utterances are stored, then ends with the call', async () => {
    const id = String((await create()).body['sessionId']);
    await sessions.transition(id, 'active', new Date(), { room: 'r' });
    const utterances = new MongoUtteranceStore({ db: f.api.mongo.db });
    const say = (seq: number, role: 'agent' | 'patient', text: string) =>
      utterances.writeUtterances([
        {
          sessionId: id,
          seq,
          role,
          text,
          startedAt: new Date(),
          endedAt: new Date(),
          interrupted: false,
        },
      ]);
    await say(0, 'agent', 'hello');
    const abort = new AbortController();
    const res = await f.fetch(`/v1/sessions/${id}/transcript/stream`, {
      auth: clinician,
      signal: abort.signal,
    });
    const sse = new SseReader(res);
    await sse.waitFor((e) => e.event === 'utterance' && e.id === '0');
    await say(1, 'patient', 'hi');
    expect((await sse.waitFor((e) => e.id === '1')).data).toMatchObject({
      role: 'patient',
      text: 'hi',
    });
    await sessions.transition(id, 'completed', new Date());
    expect((await sse.waitFor((e) => e.event === 'end')).data).toEqual({ state: 'completed' });

    const full = await f.fetch(`/v1/sessions/${id}/transcript`, { auth: clinician });
    const t = (await full.json()) as { utterances: { seq: number; text: string }[] };
    expect(t.utterances.map((u) => u.text)).toEqual(['hello', 'hi']);
    abort.abort();
  });
});

describe('profiles for the console', () => {
  it('lists, gets, validates with positions, publishes as the caller, and diffs', async () => {
    const list = (await (await f.fetch('/v1/profiles', { auth: clinician })).json()) as {
      items: { id: string; latest: number }[];
    };
    const intake = list.items.find((p) => p.id === 'intake');
    expect(intake).toBeDefined();
    const one = (await (await f.fetch('/v1/profiles/intake', { auth: clinician })).json()) as {
      profile: Record<string, unknown>;
      version: number;
    };
    expect(one.profile['id']).toBe('intake');

    const bad = await f.fetch('/v1/profiles/validate', {
      ...json({ yaml: 'id: intake\nversion: zero\n' }),
      auth: clinician,
    });
    const verdict = (await bad.json()) as {
      valid: boolean;
      issues: { line: number; column: number; field: string }[];
    };
    expect(verdict.valid).toBe(false);
    const versionIssue = verdict.issues.find((i) => i.field === 'version');
    expect(versionIssue).toMatchObject({ line: 2 });
    expect(versionIssue?.column).toBeGreaterThan(0);

    const { readFile } = await import('node:fs/promises');
    const yaml = (await readFile(new URL('../prompts/intake.yaml', import.meta.url), 'utf8'))
      .replace(/^version: \d+/m, `version: ${one.version + 1}`)
      .replace('maxDurationMs: 600000', 'maxDurationMs: 540000');
    const refused = await f.fetch('/v1/profiles', {
      ...json({ yaml, note: 'n' }),
      auth: clinician,
    });
    expect(refused.status).toBe(403);
    const pub = await f.fetch('/v1/profiles', {
      ...json({ yaml, note: 'shorter greeting' }),
      auth: admin,
    });
    expect(pub.status).toBe(201);
    expect(await pub.json()).toMatchObject({ author: 'Dr Admin', version: one.version + 1 });

    const diff = await f.fetch(
      `/v1/profiles/intake/diff?from=${one.version}&to=${one.version + 1}`,
      {
        auth: clinician,
      },
    );
    const changes = (await diff.json()) as { changes: { path: string }[] };
    expect(changes.changes.map((c) => c.path)).toContain('limits.maxDurationMs');
  });

  it('speaks a published first message as WAV', async () => {
    const res = await f.fetch('/v1/profiles/preview', {
      ...json({ id: 'intake', name: 'Ann' }),
      auth: clinician,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    const wav = Buffer.from(await res.arrayBuffer());
    expect(wav.subarray(0, 4).toString()).toBe('RIFF');
    expect(wav.length).toBeGreaterThan(10_000);
  });
});

describe('operations', () => {
  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect((await f.fetch('/healthz')).status).toBe(200);
    expect(await (await f.fetch('/readyz')).json()).toMatchObject({ ready: true });
    const metrics = await (await f.fetch('/metrics')).text();
    expect(metrics).toMatch(/api_request_duration_ms_bucket/);
    const doc = (await (await f.fetch('/openapi.json')).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/sessions',
        '/v1/sessions/{id}',
        '/v1/join/{code}',
        '/v1/profiles',
      ]),
    );
    const post = (doc.paths['/v1/sessions'] as { post: { requestBody: unknown } }).post;
    expect(JSON.stringify(post.requestBody)).toContain('patient');
  });
});
