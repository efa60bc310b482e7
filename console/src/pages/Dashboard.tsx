/**
 * The dashboard: escalations on top, live sessions with a ticking duration, the last 24 hours by
 * outcome, worker load, and the live transcript of one session. The summary comes from
 * GET /v1/dashboard; the event stream applies each event at once and then reads the summary
 * again, so the page stays right without a reload.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { api, type StreamEvent } from '../api.ts';
import { useSessionEvents, useTranscriptTail, type StreamStatus } from '../staff/streams.ts';
import {
  formatAgo,
  formatDuration,
  formatTime,
  humanise,
  shortId,
  versionLabel,
} from '../ui/format.ts';
import { useDocumentTitle, useNow } from '../ui/hooks.ts';
import { Empty, ErrorNote, Loading, SeverityBadge, StateBadge } from '../ui/Status.tsx';

interface LiveSession {
  sessionId: string;
  state: string;
  profile: { id: string; version?: number };
  profileVersion?: number;
  priority: 'routine' | 'urgent';
  requestedAt: string;
  since: string;
  activeAt?: string;
  attempts: number;
  escalations: number;
}

interface EscalationView {
  sessionId: string;
  escalationId: string;
  ruleId: string;
  severity: 'urgent' | 'emergency';
  status: 'confirmed' | 'suspected' | 'denied';
  channel: 'speech' | 'text';
  trigger: { detector: string; kind: string; value: string };
  at: string;
  profile?: { id: string; version?: number };
  sessionState?: string;
}

interface Summary {
  at: string;
  live: LiveSession[];
  escalations: EscalationView[];
  last24h: {
    total: number;
    byState: Record<string, number>;
    byReason: Record<string, number>;
    truncated: boolean;
  };
  workers: {
    source: string;
    activeSessions: number;
    placingSessions: number;
    sessionsPerWorker: number;
    spareWorkers: number;
    needed: number;
  };
}

const REFRESH_AFTER_EVENT_MS = 300;

function applyEvent(s: Summary, e: StreamEvent): Summary {
  const ev = e.data as { type: string; sessionId: string; at: string } & Record<string, unknown>;
  switch (ev.type) {
    case 'session.ready':
      return {
        ...s,
        live: s.live.map((l) =>
          l.sessionId === ev.sessionId
            ? { ...l, state: 'active', since: ev.at, activeAt: ev.at }
            : l,
        ),
      };
    case 'session.started': {
      const profile = ev['profile'] as { id: string; version: number };
      return {
        ...s,
        live: s.live.map((l) =>
          l.sessionId === ev.sessionId ? { ...l, profileVersion: profile.version } : l,
        ),
      };
    }
    case 'session.completed':
    case 'session.failed': {
      const ended = s.live.find((l) => l.sessionId === ev.sessionId);
      if (!ended) return s;
      const state = ev.type === 'session.failed' ? 'failed' : String(ev['state']);
      const byState = { ...s.last24h.byState };
      byState[ended.state] = Math.max(0, (byState[ended.state] ?? 1) - 1);
      byState[state] = (byState[state] ?? 0) + 1;
      return {
        ...s,
        live: s.live.filter((l) => l.sessionId !== ev.sessionId),
        last24h: { ...s.last24h, byState },
      };
    }
    case 'session.escalation': {
      if (s.escalations.some((x) => x.escalationId === ev['escalationId'])) return s;
      const live = s.live.find((l) => l.sessionId === ev.sessionId);
      const esc: EscalationView = {
        sessionId: ev.sessionId,
        escalationId: String(ev['escalationId']),
        ruleId: String(ev['ruleId']),
        severity: ev['severity'] as EscalationView['severity'],
        status: ev['status'] as EscalationView['status'],
        channel: ev['channel'] as EscalationView['channel'],
        trigger: ev['trigger'] as EscalationView['trigger'],
        at: ev.at,
        ...(live ? { profile: live.profile, sessionState: live.state } : {}),
      };
      return {
        ...s,
        escalations: [esc, ...s.escalations],
        live: s.live.map((l) =>
          l.sessionId === ev.sessionId ? { ...l, escalations: l.escalations + 1 } : l,
        ),
      };
    }
    default:
      return s;
  }
}

/** The store's summary, keeping escalations heard on the stream that the store has not yet. */
function merge(fresh: Summary, previous: Summary | null): Summary {
  if (!previous) return fresh;
  const known = new Set(fresh.escalations.map((e) => e.escalationId));
  const heardOnly = previous.escalations.filter((e) => !known.has(e.escalationId));
  const escalations = [...heardOnly, ...fresh.escalations].sort((a, b) => b.at.localeCompare(a.at));
  return { ...fresh, escalations };
}

export function DashboardPage() {
  useDocumentTitle('Dashboard');
  const [summary, setSummary] = useState<Summary | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [params, setParams] = useSearchParams();
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const load = useCallback(async () => {
    try {
      const next = await api<Summary>('/v1/dashboard');
      setSummary((prev) => merge(next, prev));
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, []);

  useEffect(() => {
    void load();
    return () => clearTimeout(refreshTimer.current);
  }, [load]);

  const onEvent = useCallback(
    (e: StreamEvent) => {
      if (!e.event.startsWith('session.')) return;
      setSummary((s) => (s ? applyEvent(s, e) : s));
      if (e.event === 'session.escalation') {
        const id = String((e.data as { escalationId?: string }).escalationId);
        setFresh((f) => new Set([...f, id]));
      }
      clearTimeout(refreshTimer.current);
      refreshTimer.current = setTimeout(() => void load(), REFRESH_AFTER_EVENT_MS);
    },
    [load],
  );
  const status = useSessionEvents(onEvent, () => void load());

  const live = summary?.live ?? [];
  const watched = params.get('watch') ?? undefined;
  const watch = useCallback(
    (id: string) =>
      setParams(
        (p) => {
          p.set('watch', id);
          return p;
        },
        { replace: true },
      ),
    [setParams],
  );
  // With nothing chosen, follow the newest call in progress, and stay on it after it ends.
  const firstActive = live.find((l) => l.state === 'active')?.sessionId;
  useEffect(() => {
    if (!watched && firstActive) watch(firstActive);
  }, [watched, firstActive, watch]);

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Dashboard</h1>
          <p className="sub">Calls in progress, escalations and the last 24 hours.</p>
        </div>
        <LiveIndicator status={status} />
      </div>

      {error ? <ErrorNote error={error} title="The dashboard could not load." /> : null}
      {!summary && !error ? <Loading label="Loading the dashboard…" /> : null}

      {summary ? (
        <>
          <Escalations items={summary.escalations} fresh={fresh} onWatch={watch} />
          <Stats summary={summary} />
          <div className="grid grid-dash">
            <div className="stack">
              <LiveSessions items={live} watched={watched} onWatch={watch} />
              <LiveTranscript sessionId={watched} />
            </div>
            <div className="stack">
              <Outcomes summary={summary} />
              <WorkerLoad summary={summary} />
            </div>
          </div>
        </>
      ) : null}
    </div>
  );
}

function LiveIndicator({ status }: { status: StreamStatus }) {
  const label =
    status === 'open'
      ? 'Live'
      : status === 'refused'
        ? 'Live updates refused'
        : status === 'reconnecting'
          ? 'Reconnecting…'
          : 'Connecting…';
  return (
    <div
      className="row muted"
      role="status"
      aria-live="polite"
      data-testid="live-status"
      data-status={status}
    >
      <span className={`live-dot${status === 'open' ? '' : ' off'}`} aria-hidden="true" />
      {label}
    </div>
  );
}

function Escalations({
  items,
  fresh,
  onWatch,
}: {
  items: EscalationView[];
  fresh: ReadonlySet<string>;
  onWatch: (id: string) => void;
}) {
  if (!items.length) return null;
  return (
    <section aria-labelledby="esc-title" className="stack">
      <h2 id="esc-title">
        Escalations <span className="muted">({items.length} in the last 24 hours)</span>
      </h2>
      <ul className="escalations">
        {items.map((e) => (
          <li
            key={e.escalationId}
            data-testid="escalation"
            data-session-id={e.sessionId}
            data-rule-id={e.ruleId}
            className={`escalation sev-${e.severity} status-${e.status}${fresh.has(e.escalationId) ? ' fresh' : ''}`}
          >
            <div>
              <div className="row">
                <SeverityBadge severity={e.severity} />
                <span className="escalation-title">
                  Rule <span className="escalation-rule">{e.ruleId}</span> fired
                </span>
                {e.status !== 'confirmed' ? (
                  <span className="badge plain">{humanise(e.status)}</span>
                ) : null}
              </div>
              <div className="escalation-meta">
                Session <span className="mono">{shortId(e.sessionId)}</span>
                {e.profile ? <> · {e.profile.id}</> : null} · {formatAgo(e.at)} ({formatTime(e.at)})
                · heard by the {e.trigger.detector === 'rules' ? 'rule matcher' : 'classifier'} (
                {e.trigger.kind} “{e.trigger.value}”){e.channel === 'text' ? ' · typed' : ''}
              </div>
            </div>
            <div className="row">
              {e.sessionState === 'active' || !e.sessionState ? (
                <button
                  type="button"
                  className="btn btn-small"
                  onClick={() => onWatch(e.sessionId)}
                >
                  Watch live
                </button>
              ) : null}
              <Link className="btn btn-small" to={`/logs/${encodeURIComponent(e.sessionId)}`}>
                Open log
              </Link>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Stats({ summary }: { summary: Summary }) {
  const by = summary.last24h.byState;
  const ended = (by['completed'] ?? 0) + (by['failed'] ?? 0) + (by['interrupted'] ?? 0);
  const emergencies = summary.escalations.filter((e) => e.severity === 'emergency').length;
  return (
    <div className="stats">
      <div className="card stat" data-testid="stat-live">
        <div className="stat-label">In progress now</div>
        <div className="stat-value">{summary.live.length}</div>
        <div className="stat-foot">
          {by['active'] ?? 0} in call · {(by['requested'] ?? 0) + (by['dispatching'] ?? 0)}{' '}
          connecting
        </div>
      </div>
      <div
        className={`card stat${summary.escalations.length ? ' alert' : ''}`}
        data-testid="stat-escalations"
      >
        <div className="stat-label">Escalations, 24 h</div>
        <div className="stat-value">{summary.escalations.length}</div>
        <div className="stat-foot">{emergencies} emergency</div>
      </div>
      <div className="card stat" data-testid="stat-completed">
        <div className="stat-label">Completed, 24 h</div>
        <div className="stat-value">{by['completed'] ?? 0}</div>
        <div className="stat-foot">of {ended} finished</div>
      </div>
      <div className="card stat" data-testid="stat-failed">
        <div className="stat-label">Failed or interrupted, 24 h</div>
        <div className="stat-value">{(by['failed'] ?? 0) + (by['interrupted'] ?? 0)}</div>
        <div className="stat-foot">
          {by['failed'] ?? 0} failed · {by['interrupted'] ?? 0} interrupted
        </div>
      </div>
    </div>
  );
}

function LiveSessions({
  items,
  watched,
  onWatch,
}: {
  items: LiveSession[];
  watched: string | undefined;
  onWatch: (id: string) => void;
}) {
  const now = useNow(1000);
  return (
    <section className="card" aria-labelledby="live-title">
      <div className="card-head">
        <h2 id="live-title">Live sessions</h2>
        <span className="meta">Duration counts from when the call connected</span>
      </div>
      <div className="card-body flush">
        {items.length === 0 ? (
          <Empty title="No calls in progress">
            New sessions appear here as soon as they are requested.
          </Empty>
        ) : (
          <table className="table" data-testid="live-sessions">
            <thead>
              <tr>
                <th scope="col">Session</th>
                <th scope="col">State</th>
                <th scope="col">Profile</th>
                <th scope="col" className="num">
                  Duration
                </th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((s) => {
                const from = s.activeAt ?? s.requestedAt;
                return (
                  <tr
                    key={s.sessionId}
                    data-testid="live-session"
                    data-session-id={s.sessionId}
                    data-state={s.state}
                    className={watched === s.sessionId ? 'selected' : undefined}
                  >
                    <td>
                      <span className="mono">{shortId(s.sessionId)}</span>
                      {s.priority === 'urgent' ? (
                        <span className="badge sev-urgent"> Urgent</span>
                      ) : null}
                      {s.escalations ? (
                        <span className="badge sev-emergency" title="Escalations in this call">
                          {s.escalations} escalation{s.escalations === 1 ? '' : 's'}
                        </span>
                      ) : null}
                    </td>
                    <td>
                      <StateBadge state={s.state} />
                    </td>
                    <td>
                      {s.profile.id}
                      <span className="muted"> {versionLabel(s)}</span>
                    </td>
                    <td className="num" data-testid="duration">
                      {s.activeAt ? (
                        formatDuration(now - new Date(from).getTime())
                      ) : (
                        <span className="muted">
                          waiting {formatDuration(now - new Date(from).getTime())}
                        </span>
                      )}
                    </td>
                    <td className="num">
                      <button
                        type="button"
                        className="btn btn-small"
                        data-testid="watch-session"
                        aria-pressed={watched === s.sessionId}
                        onClick={() => onWatch(s.sessionId)}
                      >
                        {watched === s.sessionId ? 'Watching' : 'Watch'}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}

function LiveTranscript({ sessionId }: { sessionId: string | undefined }) {
  const { utterances, ended, status } = useTranscriptTail(sessionId);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    box.current?.scrollTo({ top: box.current.scrollHeight });
  }, [utterances.length]);
  return (
    <section
      className="card"
      aria-labelledby="tx-title"
      data-testid="live-transcript"
      data-session-id={sessionId ?? ''}
    >
      <div className="card-head">
        <h2 id="tx-title">Live transcript</h2>
        {sessionId ? (
          <span className="meta">
            Session <span className="mono">{shortId(sessionId)}</span>
            {ended ? ` · call ${ended}` : status === 'open' ? ' · live' : ` · ${status}`}
          </span>
        ) : null}
      </div>
      {!sessionId ? (
        <Empty title="No call selected">
          Press Watch on a live session to follow what is said.
        </Empty>
      ) : status === 'refused' ? (
        <div className="card-body">
          <p className="note note-error" role="alert">
            This transcript cannot be shown: the session was not found or you may not see it.
          </p>
        </div>
      ) : utterances.length === 0 ? (
        <Empty title={ended ? 'Nothing was said in this call' : 'Waiting for the first words…'} />
      ) : (
        <div
          className="transcript"
          ref={box}
          role="log"
          aria-label="What has been said so far"
          tabIndex={0}
        >
          {utterances.map((u) => (
            <div
              key={u.seq}
              className={`turn turn--${u.role}`}
              data-testid="live-transcript-line"
              data-role={u.role}
            >
              <div className="turn-who">{u.role === 'agent' ? 'Agent' : 'Patient'}</div>
              <div className="turn-bubble">
                <div className="turn-text">{u.text}</div>
                <div className="turn-meta">
                  <span>{formatTime(u.startedAt)}</span>
                  {u.interrupted ? <span>interrupted</span> : null}
                </div>
              </div>
            </div>
          ))}
        </div>
      )}
    </section>
  );
}

function Outcomes({ summary }: { summary: Summary }) {
  const by = summary.last24h.byState;
  const rows = (
    ['completed', 'interrupted', 'failed', 'active', 'dispatching', 'requested'] as const
  )
    .map((state) => ({ state, n: by[state] ?? 0 }))
    .filter((r) => r.n > 0 || ['completed', 'interrupted', 'failed'].includes(r.state));
  const max = Math.max(1, ...rows.map((r) => r.n));
  const reasons = Object.entries(summary.last24h.byReason).sort((a, b) => b[1] - a[1]);
  return (
    <section className="card" aria-labelledby="out-title" data-testid="outcomes">
      <div className="card-head">
        <h2 id="out-title">Last 24 hours</h2>
        <span className="meta">{summary.last24h.total} sessions</span>
      </div>
      <div className="card-body stack">
        <div className="bars">
          {rows.map((r) => (
            <div
              className="bar-row"
              key={r.state}
              data-testid={`outcome-${r.state}`}
              data-count={r.n}
            >
              <StateBadge state={r.state} />
              <div className="bar-track" aria-hidden="true">
                <span className={`fill-${r.state}`} style={{ width: `${(r.n / max) * 100}%` }} />
              </div>
              <span className="num tabular">{r.n}</span>
            </div>
          ))}
        </div>
        {reasons.length ? (
          <div>
            <h3 className="field-label">Why finished calls ended</h3>
            <dl className="kv">
              {reasons.map(([reason, n]) => (
                <div key={reason} style={{ display: 'contents' }}>
                  <dt>{humanise(reason)}</dt>
                  <dd>{n}</dd>
                </div>
              ))}
            </dl>
          </div>
        ) : null}
        {summary.last24h.truncated ? (
          <p className="hint">Counts cover the most recent 500 sessions.</p>
        ) : null}
      </div>
    </section>
  );
}

function WorkerLoad({ summary }: { summary: Summary }) {
  const w = summary.workers;
  const capacity = Math.max(1, w.needed) * w.sessionsPerWorker;
  const used = w.activeSessions + w.placingSessions;
  const pct = Math.min(100, Math.round((used / capacity) * 100));
  return (
    <section className="card" aria-labelledby="load-title" data-testid="worker-load">
      <div className="card-head">
        <h2 id="load-title">Worker pool</h2>
        <span className="meta">
          {used} of {capacity} session slots
        </span>
      </div>
      <div className="card-body">
        <div
          className="load-meter"
          role="meter"
          aria-valuemin={0}
          aria-valuemax={capacity}
          aria-valuenow={used}
          aria-label="Sessions holding a worker slot"
        >
          <span style={{ width: `${pct}%` }} />
        </div>
        <dl className="kv">
          <dt>Sessions in calls</dt>
          <dd data-testid="worker-active">{w.activeSessions}</dd>
          <dt>Being placed</dt>
          <dd>{w.placingSessions}</dd>
          <dt>Sessions per worker</dt>
          <dd>{w.sessionsPerWorker}</dd>
          <dt>Workers needed</dt>
          <dd data-testid="worker-needed">
            {w.needed} <span className="muted">(incl. {w.spareWorkers} spare)</span>
          </dd>
        </dl>
        <p className="hint" style={{ marginTop: '0.75rem' }}>
          Estimated from the session store: the API cannot see the workers themselves or the queue
          backlog. The dispatcher’s <code>/metrics</code> has the autoscaler’s own figure.
        </p>
      </div>
    </section>
  );
}
