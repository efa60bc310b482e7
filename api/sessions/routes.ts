/**
 * /v1/sessions: create (publish to Pub/Sub), read (folded from the revisions), list, transcript
 * (and its live tail), cancel, and join links for the patient.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  SESSION_STATES,
  TERMINAL_STATES,
  type SessionRecord,
  type SessionRequest,
} from '../../sessions/schema.ts';
import { actorOf } from '../auth/plugin.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiProblem } from '../errors.ts';
import { openSse } from '../sse.ts';
import { fingerprint, CreateSessionBody, newSessionId, toSessionRequest } from './request.ts';
import { listSessions } from './list.ts';
import { SessionReadCache } from './read-cache.ts';

const SessionParams = z.object({ id: z.string().min(1).max(128) });

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

export function sessionLinks(id: string): Record<string, string> {
  const self = `/v1/sessions/${encodeURIComponent(id)}`;
  return {
    self,
    transcript: `${self}/transcript`,
    cancel: `${self}/cancel`,
    joinLink: `${self}/join-link`,
  };
}

/** The session document as the API shows it: the store's record plus links. */
export function sessionView(record: SessionRecord): Record<string, unknown> {
  return { ...record, links: sessionLinks(record.sessionId) };
}

const sameRequest = (stored: SessionRecord, asked: SessionRequest): boolean =>
  stored.profile.id === asked.profile.id &&
  stored.profile.version === asked.profile.version &&
  stored.patientRef === asked.patient.ref;

export const sessionRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  const pollMs = deps.transcriptPollMs ?? 500;
  /** Published profile refs seen recently; published versions never change. */
  const knownProfiles = new Map<string, number>();
  const profileExists = async (id: string, version: number | undefined): Promise<boolean> => {
    const key = `${id}@${version ?? 'latest'}`;
    const seen = knownProfiles.get(key);
    if (seen !== undefined && seen > Date.now()) return true;
    const found = (await deps.profiles.get(id, version)) !== null;
    if (found) {
      if (knownProfiles.size > 1000) knownProfiles.clear();
      knownProfiles.set(key, Date.now() + 30_000);
    }
    return found;
  };

  const reads = new SessionReadCache((id) => deps.sessions.get(id), deps.cfg.api.readCacheMs);
  const load = async (id: string): Promise<SessionRecord> => {
    const record = await deps.sessions.get(id);
    if (!record) throw new ApiProblem('not_found', { detail: 'no such session' });
    return record;
  };

  app.post(
    '/v1/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Request a session: validated, stored, published to Pub/Sub',
        description:
          'Idempotent on `sessionId`; without one, on the `Idempotency-Key` header (the API then picks the id).',
        headers: z.object({ 'idempotency-key': z.string().regex(IDEMPOTENCY_KEY).optional() }),
        body: CreateSessionBody,
      },
    },
    async (request, reply) => {
      const body = request.body;
      const now = deps.now();
      let sessionId = body.sessionId;
      const key = request.headers['idempotency-key'];
      if (sessionId === undefined) {
        sessionId = key
          ? (
              await deps.idempotency.resolve(
                actorOf(request.principal),
                key,
                newSessionId(),
                fingerprint(body),
                now,
              )
            ).sessionId
          : newSessionId();
      }
      const sessionRequest = toSessionRequest(body, sessionId, now);
      if (!(await profileExists(sessionRequest.profile.id, sessionRequest.profile.version))) {
        throw new ApiProblem('profile_unknown', {
          detail: `profile ${sessionRequest.profile.id}${sessionRequest.profile.version ? ` v${sessionRequest.profile.version}` : ''} is not published`,
          errors: [{ path: 'body.profile', message: 'not a published profile' }],
        });
      }
      const { created, session } = await deps.sessions.claim(sessionRequest, now);
      if (!created) {
        if (!sameRequest(session, sessionRequest)) {
          throw new ApiProblem('idempotency_conflict', {
            detail: 'a different session with this sessionId already exists',
          });
        }
      }
      // Published again on a retry while still requested: the claim may have outlived a failed
      // publish, and the dispatcher places each sessionId once however often it hears of it.
      if (session.state === 'requested') await deps.requests.publish(sessionRequest);
      request.log.info({ sessionId, created }, 'session requested');
      const links = sessionLinks(sessionId);
      return reply
        .code(202)
        .header('location', links['self'])
        .send({ sessionId, state: session.state, created, links });
    },
  );

  app.get(
    '/v1/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'List sessions, newest request first',
        querystring: z
          .object({
            state: z.enum(SESSION_STATES).optional(),
            profile: z.string().max(64).optional(),
            from: z.iso.datetime({ offset: true }).optional(),
            to: z.iso.datetime({ offset: true }).optional(),
            limit: z.coerce.number().int().min(1).max(100).default(20),
            cursor: z.string().max(512).optional(),
          })
          .strict(),
      },
    },
    async (request) => {
      const q = request.query;
      const { items, nextCursor } = await listSessions(deps.db, deps.sessions, {
        state: q.state,
        profile: q.profile,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        limit: q.limit,
        cursor: q.cursor,
      });
      return {
        items: items.map(sessionView),
        ...(nextCursor ? { nextCursor, links: { next: nextLink(q, nextCursor) } } : {}),
      };
    },
  );

  app.get(
    '/v1/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        summary:
          'One session: state, timestamps, profile version, answers, escalations, follow-ups, summary',
        params: SessionParams,
      },
    },
    async (request) => {
      const record = await reads.get(request.params.id);
      if (!record) throw new ApiProblem('not_found', { detail: 'no such session' });
      // Questions the agent could not answer from approved documents, for the care team.
      // The question is the patient's words: staff see it, a backend key only that there is one.
      const staff = request.principal?.kind === 'staff';
      const followUps = (await deps.followUps.listFollowUps(record.sessionId)).map((f) =>
        staff ? f : { ...f, question: undefined },
      );
      return { ...sessionView(record), followUps };
    },
  );

  app.get(
    '/v1/sessions/:id/transcript',
    {
      schema: {
        tags: ['sessions'],
        summary: 'The utterances in order (see /transcript/stream for a live tail)',
        params: SessionParams,
      },
    },
    async (request) => {
      const record = await load(request.params.id);
      const utterances = await deps.utterances.listUtterances(record.sessionId);
      return { sessionId: record.sessionId, state: record.state, utterances };
    },
  );

  app.get(
    '/v1/sessions/:id/transcript/stream',
    {
      schema: {
        tags: ['sessions'],
        summary:
          'Server-Sent Events: each utterance as it is stored, then `end` when the call is over',
        params: SessionParams,
        headers: z.object({ 'last-event-id': z.coerce.number().int().min(-1).optional() }),
      },
    },
    async (request, reply) => {
      const record = await load(request.params.id);
      const sse = openSse(request, reply);
      let next = (request.headers['last-event-id'] ?? -1) + 1;
      // No change streams on FerretDB: poll, one indexed read per interval per open stream.
      for (;;) {
        const all = await deps.utterances.listUtterances(record.sessionId);
        for (const u of all) {
          if (u.seq < next) continue;
          sse.send('utterance', u, u.seq);
          next = u.seq + 1;
        }
        const current = await deps.sessions.get(record.sessionId);
        if (!current || TERMINAL_STATES.has(current.state)) {
          sse.send('end', { state: current?.state ?? 'unknown' });
          sse.close();
          return;
        }
        if (sse.signal.aborted) return;
        await sleep(pollMs, sse.signal);
        if (sse.signal.aborted) return;
      }
    },
  );

  app.post(
    '/v1/sessions/:id/cancel',
    {
      schema: {
        tags: ['sessions'],
        summary:
          'Cancel: a session not yet placed is failed as `cancelled` (dispatcher and agent skip it); a live call is ended by closing its room',
        params: SessionParams,
      },
    },
    async (request) => {
      const id = request.params.id;
      const now = deps.now();
      // Bounded: each round either writes or sees a state another writer moved to.
      for (let round = 0; round < 3; round++) {
        const record = await load(id);
        if (TERMINAL_STATES.has(record.state)) {
          if (record.failureReason === 'cancelled' || record.endReason === 'cancelled') {
            return { sessionId: id, state: record.state, cancelled: true };
          }
          throw new ApiProblem('session_not_cancellable', {
            detail: `the session is already ${record.state}`,
          });
        }
        const next =
          record.state === 'active'
            ? await deps.sessions.transition(id, 'interrupted', now, { endReason: 'cancelled' })
            : await deps.sessions.transition(id, 'failed', now, { failureReason: 'cancelled' });
        if (!next) continue;
        // The record first, then the room: an agent that sees its room go finds the session
        // already ended and leaves it as it is.
        if (record.room) await deps.rooms.deleteRoom(record.room);
        request.log.info({ sessionId: id, from: record.state }, 'session cancelled');
        return { sessionId: id, state: next.state, cancelled: true };
      }
      throw new ApiProblem('unavailable', { detail: 'the session kept changing; try again' });
    },
  );

  app.post(
    '/v1/sessions/:id/join-link',
    {
      schema: {
        tags: ['join'],
        summary: 'A single-use, expiring link for the patient to join the call',
        params: SessionParams,
      },
    },
    async (request, reply) => {
      const record = await load(request.params.id);
      if (TERMINAL_STATES.has(record.state)) {
        throw new ApiProblem('session_ended', { detail: `the session is ${record.state}` });
      }
      const link = await deps.joinLinks.create(
        record.sessionId,
        actorOf(request.principal),
        deps.now(),
      );
      // `page` is what the patient opens (the console's patient page); `path` is the API call
      // that page makes to redeem the code. `url` is the page's full address, to send by SMS.
      const path = `/v1/join/${link.code}`;
      const page = `/join/${link.code}`;
      return reply.code(201).send({
        code: link.code,
        path,
        page,
        ...(deps.cfg.api.publicUrl ? { url: `${deps.cfg.api.publicUrl}${page}` } : {}),
        expiresAt: link.expiresAt.toISOString(),
      });
    },
  );
};

function nextLink(q: Record<string, unknown>, cursor: string): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v !== undefined && k !== 'cursor') params.set(k, String(v));
  }
  params.set('cursor', cursor);
  return `/v1/sessions?${params.toString()}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
