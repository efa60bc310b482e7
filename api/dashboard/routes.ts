/**
 * GET /v1/dashboard: one summary for the console's dashboard, read from the session store. The
 * console keeps it current from the event stream (GET /v1/events) and reads this again after
 * each event, so it only has to be right, not pushed.
 *
 * Worker load comes from the store too: the API has no view of the agent workers themselves (the
 * dispatcher's /metrics has the subscription backlog; LiveKit has the workers' own load). What is
 * honest from here is sessions running and being placed, and the workers those need at the
 * dispatcher's sessions-per-worker (the same arithmetic the autoscaler signal uses, without the
 * backlog). The response says so in `workers.source`.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { desiredWorkers } from '../../dispatcher/scaling.ts';
import {
  TERMINAL_STATES,
  type Escalation,
  type SessionRecord,
  type SessionState,
} from '../../sessions/schema.ts';
import type { ApiDeps } from '../deps.ts';
import { listSessions } from '../sessions/list.ts';

const WINDOW_MS = 24 * 3_600_000;
/** The most sessions one summary folds: past this the counts say `truncated`. */
const MAX_SESSIONS = 500;
const PAGE = 100;
/** Concurrent dashboards (and a burst of events) share one read of the store. */
const CACHE_MS = 250;

export interface DashboardSummary {
  at: string;
  windowMs: number;
  live: LiveSession[];
  escalations: DashboardEscalation[];
  last24h: {
    total: number;
    byState: Partial<Record<SessionState, number>>;
    /** Finished sessions by why they ended (`endReason`, or `failureCode` for failures). */
    byReason: Record<string, number>;
    truncated: boolean;
  };
  workers: {
    source: 'session-store';
    activeSessions: number;
    placingSessions: number;
    sessionsPerWorker: number;
    spareWorkers: number;
    /** Workers the running and placing sessions need, plus spares (no backlog). */
    needed: number;
  };
}

interface LiveSession {
  sessionId: string;
  state: SessionState;
  profile: { id: string; version?: number };
  profileVersion?: number;
  priority: 'routine' | 'urgent';
  requestedAt: string;
  /** When the current state was entered. */
  since: string;
  activeAt?: string;
  attempts: number;
  escalations: number;
}

interface DashboardEscalation {
  sessionId: string;
  escalationId: string;
  ruleId: string;
  severity: Escalation['severity'];
  status: Escalation['status'];
  channel: Escalation['channel'];
  trigger: Escalation['trigger'];
  at: string;
  profile: { id: string; version?: number };
  sessionState: SessionState;
}

function summarise(
  records: readonly SessionRecord[],
  truncated: boolean,
  now: Date,
  cfg: ApiDeps['cfg'],
): DashboardSummary {
  const byState: Partial<Record<SessionState, number>> = {};
  const byReason: Record<string, number> = {};
  const live: LiveSession[] = [];
  const escalations: DashboardEscalation[] = [];
  for (const r of records) {
    byState[r.state] = (byState[r.state] ?? 0) + 1;
    if (TERMINAL_STATES.has(r.state)) {
      const reason = r.state === 'failed' ? (r.failureCode ?? 'unknown') : (r.endReason ?? r.state);
      byReason[reason] = (byReason[reason] ?? 0) + 1;
    } else {
      const since = r.timestamps[r.state] ?? r.requestedAt;
      live.push({
        sessionId: r.sessionId,
        state: r.state,
        profile: r.profile,
        ...(r.profileVersion !== undefined ? { profileVersion: r.profileVersion } : {}),
        priority: r.priority,
        requestedAt: r.requestedAt.toISOString(),
        since: since.toISOString(),
        ...(r.timestamps.active ? { activeAt: r.timestamps.active.toISOString() } : {}),
        attempts: r.attempts,
        escalations: r.escalations?.length ?? 0,
      });
    }
    for (const e of r.escalations ?? []) {
      escalations.push({
        sessionId: r.sessionId,
        escalationId: e.id,
        ruleId: e.ruleId,
        severity: e.severity,
        status: e.status,
        channel: e.channel,
        trigger: e.trigger,
        at: e.at.toISOString(),
        profile: r.profile,
        sessionState: r.state,
      });
    }
  }
  escalations.sort((a, b) => b.at.localeCompare(a.at));
  const activeSessions = byState.active ?? 0;
  const placingSessions = (byState.requested ?? 0) + (byState.dispatching ?? 0);
  const { sessionsPerWorker, spareWorkers } = cfg.dispatcher;
  return {
    at: now.toISOString(),
    windowMs: WINDOW_MS,
    live,
    escalations,
    last24h: { total: records.length, byState, byReason, truncated },
    workers: {
      source: 'session-store',
      activeSessions,
      placingSessions,
      sessionsPerWorker,
      spareWorkers,
      needed: desiredWorkers(
        { backlog: 0, inFlight: placingSessions, activeSessions },
        { sessionsPerWorker, spareWorkers },
      ),
    },
  };
}

export const dashboardRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  let cached: { at: number; summary: Promise<DashboardSummary> } | undefined;

  const read = async (): Promise<DashboardSummary> => {
    const now = deps.now();
    const from = new Date(now.getTime() - WINDOW_MS);
    const records: SessionRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await listSessions(deps.db, deps.sessions, { from, limit: PAGE, cursor });
      records.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor && records.length < MAX_SESSIONS);
    return summarise(records.slice(0, MAX_SESSIONS), cursor !== undefined, now, deps.cfg);
  };

  app.get(
    '/v1/dashboard',
    {
      schema: {
        tags: ['dashboard'],
        summary:
          'Live sessions, escalations, the last 24 h by outcome and worker load, from the session store',
      },
    },
    async (_request, reply) => {
      const t = Date.now();
      if (!cached || t - cached.at > CACHE_MS) {
        const summary = read();
        cached = { at: t, summary };
        // A failed read is not served to the next caller.
        summary.catch(() => {
          if (cached?.summary === summary) cached = undefined;
        });
      }
      void reply.header('cache-control', 'no-store');
      return cached.summary;
    },
  );
};
