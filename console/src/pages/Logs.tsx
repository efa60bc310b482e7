/**
 * Conversation logs. `/logs`: sessions by state, profile and date, newest first, a page at a
 * time (the API's cursor). `/logs/:sessionId`: one session's transcript with each turn's latency
 * as a bar, its captured answers with confidence and review flags, escalations, the profile
 * version it ran, and the timeline of its states; Export downloads what the API returned.
 */
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link, Route, Routes, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { api } from '../api.ts';
import {
  formatDateTime,
  formatDuration,
  formatTime,
  humanise,
  shortId,
  versionLabel,
} from '../ui/format.ts';
import { useDocumentTitle } from '../ui/hooks.ts';
import { Empty, ErrorNote, Loading, SeverityBadge, StateBadge } from '../ui/Status.tsx';

const STATES = ['requested', 'dispatching', 'active', 'completed', 'failed', 'interrupted'];

interface TurnLatency {
  endOfUtteranceMs?: number;
  transcriptionDelayMs?: number;
  llmTtftMs?: number;
  ttsTtfbMs?: number;
  endToEndMs?: number;
}

interface Utterance {
  seq: number;
  role: 'patient' | 'agent';
  text: string;
  startedAt: string;
  endedAt: string;
  interrupted: boolean;
  confidence?: number;
  latency?: TurnLatency;
}

interface Answer {
  value: string | number | boolean | null;
  confidence: number;
  sttConfidence?: number;
  source: { method: string; seq?: number; confirmedSeq?: number };
  confirmed: boolean;
  needsReview: boolean;
  reviewReason?: string;
  at: string;
}

interface Escalation {
  id: string;
  ruleId: string;
  severity: 'urgent' | 'emergency';
  status: string;
  at: string;
  seq?: number;
  channel: string;
  trigger: { detector: string; kind: string; value: string };
}

interface Session {
  sessionId: string;
  state: string;
  profile: { id: string; version?: number };
  profileVersion?: number;
  priority: string;
  room?: string;
  requestedAt: string;
  timestamps: Record<string, string>;
  attempts: number;
  failureCode?: string;
  failureReason?: string;
  endReason?: string;
  endedBy?: string;
  unanswered?: string[];
  dispatch?: { dispatchId: string; agentJoinedMs?: number };
  summary?: {
    turns: { patient: number; agent: number; interrupted: number };
    latency: Partial<Record<keyof TurnLatency, { count: number; medianMs: number; p95Ms: number }>>;
  };
  answers?: Record<string, Answer>;
  escalations?: Escalation[];
  updatedAt: string;
}

export function LogsPage() {
  return (
    <Routes>
      <Route index element={<SessionList />} />
      <Route path=":sessionId" element={<SessionLog />} />
    </Routes>
  );
}

// ---------------------------------------------------------------- the list

function endOfDay(date: string): string {
  const d = new Date(`${date}T00:00:00`);
  d.setDate(d.getDate() + 1);
  return d.toISOString();
}

function SessionList() {
  useDocumentTitle('Conversation logs');
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const filter = {
    state: params.get('state') ?? '',
    profile: params.get('profile') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
  };
  const [draft, setDraft] = useState(filter);
  const [profiles, setProfiles] = useState<string[]>([]);
  const [items, setItems] = useState<Session[] | null>(null);
  const [cursor, setCursor] = useState<string | undefined>();
  const [error, setError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const key = params.toString();

  const query = useMemo(() => {
    const q = new URLSearchParams({ limit: '25' });
    if (filter.state) q.set('state', filter.state);
    if (filter.profile) q.set('profile', filter.profile);
    if (filter.from) q.set('from', new Date(`${filter.from}T00:00:00`).toISOString());
    if (filter.to) q.set('to', endOfDay(filter.to));
    return q;
  }, [filter.state, filter.profile, filter.from, filter.to]);

  useEffect(() => {
    api<{ items: { id: string }[] }>('/v1/profiles').then(
      (r) => setProfiles(r.items.map((p) => p.id)),
      () => undefined,
    );
  }, []);

  useEffect(() => {
    let cancelled = false;
    setItems(null);
    setError(null);
    api<{ items: Session[]; nextCursor?: string }>(`/v1/sessions?${query.toString()}`).then(
      (r) => {
        if (cancelled) return;
        setItems(r.items);
        setCursor(r.nextCursor);
      },
      (err: unknown) => !cancelled && setError(err),
    );
    return () => {
      cancelled = true;
    };
  }, [query]);

  const more = async () => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const q = new URLSearchParams(query);
      q.set('cursor', cursor);
      const r = await api<{ items: Session[]; nextCursor?: string }>(
        `/v1/sessions?${q.toString()}`,
      );
      setItems((list) => [...(list ?? []), ...r.items]);
      setCursor(r.nextCursor);
    } catch (err) {
      setError(err);
    } finally {
      setLoadingMore(false);
    }
  };

  const search = (e: FormEvent) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of Object.entries(draft)) if (v) next.set(k, v);
    setParams(next);
  };

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Conversation logs</h1>
          <p className="sub">
            Every session, newest first. Open one for its transcript, answers and timeline.
          </p>
        </div>
      </div>
      <form
        className="card card-body filters"
        onSubmit={search}
        role="search"
        aria-label="Find sessions"
      >
        <div className="field">
          <label htmlFor="f-state">State</label>
          <select
            id="f-state"
            value={draft.state}
            onChange={(e) => setDraft({ ...draft, state: e.target.value })}
          >
            <option value="">Any state</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {humanise(s)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-profile">Profile</label>
          <select
            id="f-profile"
            value={draft.profile}
            onChange={(e) => setDraft({ ...draft, profile: e.target.value })}
          >
            <option value="">Any profile</option>
            {[...new Set([...profiles, ...(draft.profile ? [draft.profile] : [])])].map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-from">From</label>
          <input
            id="f-from"
            type="date"
            value={draft.from}
            onChange={(e) => setDraft({ ...draft, from: e.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor="f-to">To</label>
          <input
            id="f-to"
            type="date"
            value={draft.to}
            onChange={(e) => setDraft({ ...draft, to: e.target.value })}
          />
        </div>
        <button type="submit" className="btn btn-primary">
          Search
        </button>
        {key ? (
          <button
            type="button"
            className="btn btn-quiet"
            onClick={() => {
              setDraft({ state: '', profile: '', from: '', to: '' });
              setParams(new URLSearchParams());
            }}
          >
            Clear
          </button>
        ) : null}
      </form>

      {error ? <ErrorNote error={error} title="The sessions could not be listed." /> : null}
      <section className="card" aria-label="Sessions">
        {!items && !error ? <Loading label="Finding sessions…" /> : null}
        {items && items.length === 0 ? (
          <Empty title="No sessions match">Try another state, profile or a wider date range.</Empty>
        ) : null}
        {items && items.length > 0 ? (
          <table className="table" data-testid="session-list">
            <thead>
              <tr>
                <th scope="col">Requested</th>
                <th scope="col">Session</th>
                <th scope="col">Profile</th>
                <th scope="col">State</th>
                <th scope="col" className="num">
                  Length
                </th>
                <th scope="col">Flags</th>
              </tr>
            </thead>
            <tbody>
              {items.map((s) => {
                const review = Object.values(s.answers ?? {}).filter((a) => a.needsReview).length;
                const start = s.timestamps['active'];
                const end =
                  s.timestamps['completed'] ??
                  s.timestamps['interrupted'] ??
                  s.timestamps['failed'];
                return (
                  <tr
                    key={s.sessionId}
                    className="clickable"
                    data-testid="session-row"
                    data-session-id={s.sessionId}
                    onClick={() => void navigate(`/logs/${encodeURIComponent(s.sessionId)}`)}
                  >
                    <td className="tabular">{formatDateTime(s.requestedAt)}</td>
                    <td>
                      <Link
                        to={`/logs/${encodeURIComponent(s.sessionId)}`}
                        className="mono"
                        onClick={(e) => e.stopPropagation()}
                      >
                        {shortId(s.sessionId)}
                      </Link>
                    </td>
                    <td>
                      {s.profile.id}
                      <span className="muted"> {versionLabel(s)}</span>
                    </td>
                    <td>
                      <StateBadge state={s.state} />
                    </td>
                    <td className="num">
                      {start && end
                        ? formatDuration(new Date(end).getTime() - new Date(start).getTime())
                        : '—'}
                    </td>
                    <td>
                      <div className="row">
                        {s.escalations?.length ? (
                          <span className="badge sev-emergency">
                            {s.escalations.length} escalation{s.escalations.length === 1 ? '' : 's'}
                          </span>
                        ) : null}
                        {review ? <span className="badge review">{review} to review</span> : null}
                        {s.endReason ? (
                          <span className="muted">{humanise(s.endReason)}</span>
                        ) : null}
                        {s.failureCode ? (
                          <span className="muted">{humanise(s.failureCode)}</span>
                        ) : null}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ) : null}
        {cursor ? (
          <div className="card-body">
            <button
              type="button"
              className="btn"
              onClick={() => void more()}
              disabled={loadingMore}
            >
              {loadingMore ? 'Loading…' : 'Show older sessions'}
            </button>
          </div>
        ) : null}
      </section>
    </div>
  );
}

// ---------------------------------------------------------------- one session

const TIMELINE_ORDER = ['requested', 'dispatching', 'active', 'completed', 'interrupted', 'failed'];
/** A bar's full width: most good turns fit well inside it. */
const LATENCY_SCALE_MS = 3000;

function SessionLog() {
  const { sessionId = '' } = useParams();
  useDocumentTitle(`Session ${shortId(sessionId)}`);
  const [session, setSession] = useState<Session | null>(null);
  const [utterances, setUtterances] = useState<Utterance[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let cancelled = false;
    const id = encodeURIComponent(sessionId);
    Promise.all([
      api<Session>(`/v1/sessions/${id}`),
      api<{ utterances: Utterance[] }>(`/v1/sessions/${id}/transcript`),
    ]).then(
      ([s, t]) => {
        if (cancelled) return;
        setSession(s);
        setUtterances(t.utterances);
      },
      (err: unknown) => !cancelled && setError(err),
    );
    return () => {
      cancelled = true;
    };
  }, [sessionId]);

  const exportJson = () => {
    if (!session || !utterances) return;
    const blob = new Blob([JSON.stringify({ session, utterances }, null, 2)], {
      type: 'application/json',
    });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `session-${session.sessionId}.json`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  const escalatedSeqs = new Set(
    (session?.escalations ?? []).map((e) => e.seq).filter((s) => s !== undefined),
  );

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <p className="sub">
            <Link to="/logs">← All sessions</Link>
          </p>
          <h1>
            Session <span className="mono">{shortId(sessionId)}</span>
          </h1>
          {session ? (
            <div className="row sub" style={{ marginTop: '0.4rem' }}>
              <StateBadge state={session.state} />
              <span>
                Profile <strong>{session.profile.id}</strong>{' '}
                <span data-testid="profile-version">
                  {session.profileVersion !== undefined
                    ? `version ${session.profileVersion}`
                    : session.profile.version !== undefined
                      ? `version ${session.profile.version} (requested)`
                      : 'latest version (not yet known)'}
                </span>
              </span>
              <span>· requested {formatDateTime(session.requestedAt)}</span>
              {session.priority === 'urgent' ? (
                <span className="badge sev-urgent">Urgent</span>
              ) : null}
            </div>
          ) : null}
        </div>
        <button
          type="button"
          className="btn"
          onClick={exportJson}
          disabled={!session || !utterances}
          data-testid="export-json"
        >
          Export JSON
        </button>
      </div>

      {error ? <ErrorNote error={error} title="This session could not be loaded." /> : null}
      {!session && !error ? <Loading label="Loading the session…" /> : null}

      {session && utterances ? (
        <div className="grid grid-dash">
          <section className="card" aria-labelledby="t-title">
            <div className="card-head">
              <h2 id="t-title">Transcript</h2>
              <span className="meta">
                {utterances.length} turns · bars show response time (full width{' '}
                {LATENCY_SCALE_MS / 1000} s)
              </span>
            </div>
            {utterances.length === 0 ? (
              <Empty title="Nothing was said in this session" />
            ) : (
              <div
                className="transcript"
                style={{ maxHeight: 'none' }}
                data-testid="log-transcript"
              >
                {utterances.map((u) => (
                  <Turn key={u.seq} u={u} flagged={escalatedSeqs.has(u.seq)} />
                ))}
              </div>
            )}
          </section>
          <div className="stack">
            <Timeline session={session} />
            <Escalations items={session.escalations ?? []} />
            <Answers answers={session.answers ?? {}} unanswered={session.unanswered ?? []} />
            <LatencySummary session={session} />
          </div>
        </div>
      ) : null}
    </div>
  );
}

function LatencyBar({ ms, label, parts }: { ms: number; label: string; parts?: string }) {
  const pct = Math.min(100, (ms / LATENCY_SCALE_MS) * 100);
  const cls = ms > 2500 ? ' very-slow' : ms > 1500 ? ' slow' : '';
  return (
    <span className="latency" data-testid="turn-latency" data-ms={ms} title={parts}>
      <span className={`latency-track${cls}`} aria-hidden="true">
        <span style={{ width: `${pct}%` }} />
      </span>
      <span className="tabular">
        {label} {ms} ms
      </span>
    </span>
  );
}

function Turn({ u, flagged }: { u: Utterance; flagged: boolean }) {
  const l = u.latency ?? {};
  const agentMs =
    l.endToEndMs ??
    (l.llmTtftMs !== undefined || l.ttsTtfbMs !== undefined
      ? (l.llmTtftMs ?? 0) + (l.ttsTtfbMs ?? 0)
      : undefined);
  const parts = [
    l.endOfUtteranceMs !== undefined ? `end of speech ${l.endOfUtteranceMs} ms` : '',
    l.transcriptionDelayMs !== undefined ? `transcript ${l.transcriptionDelayMs} ms` : '',
    l.llmTtftMs !== undefined ? `LLM first token ${l.llmTtftMs} ms` : '',
    l.ttsTtfbMs !== undefined ? `voice first audio ${l.ttsTtfbMs} ms` : '',
    l.endToEndMs !== undefined ? `end to end ${l.endToEndMs} ms` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return (
    <div
      className={`turn turn--${u.role}${flagged ? ' flagged' : ''}`}
      data-testid="log-turn"
      data-seq={u.seq}
    >
      <div className="turn-who">{u.role === 'agent' ? 'Agent' : 'Patient'}</div>
      <div className="turn-bubble">
        <div className="turn-text">{u.text}</div>
        <div className="turn-meta">
          <span>{formatTime(u.startedAt)}</span>
          {u.role === 'agent' && agentMs !== undefined ? (
            <LatencyBar ms={agentMs} label="reply" parts={parts} />
          ) : null}
          {u.role === 'patient' && l.endOfUtteranceMs !== undefined ? (
            <LatencyBar ms={l.endOfUtteranceMs} label="turn end" parts={parts} />
          ) : null}
          {u.confidence !== undefined ? (
            <span>heard with {Math.round(u.confidence * 100)}% confidence</span>
          ) : null}
          {u.interrupted ? <span className="badge review">Interrupted</span> : null}
          {flagged ? <span className="badge sev-emergency">Escalated</span> : null}
        </div>
      </div>
    </div>
  );
}

function Timeline({ session }: { session: Session }) {
  const entries = TIMELINE_ORDER.filter((s) => session.timestamps[s]).map((s) => ({
    state: s,
    at: session.timestamps[s] ?? '',
  }));
  entries.sort((a, b) => a.at.localeCompare(b.at));
  return (
    <section className="card" aria-labelledby="tl-title">
      <div className="card-head">
        <h2 id="tl-title">Timeline</h2>
        <span className="meta">
          {session.attempts} placement attempt{session.attempts === 1 ? '' : 's'}
        </span>
      </div>
      <div className="card-body">
        <ol className="timeline" data-testid="timeline">
          {entries.map((e) => (
            <li key={e.state} data-state={e.state}>
              <StateBadge state={e.state} />
              <time dateTime={e.at}>{formatTime(e.at)}</time>
            </li>
          ))}
        </ol>
        {session.endReason || session.failureReason ? (
          <p className="hint" style={{ marginTop: '0.6rem' }}>
            {session.endReason ? (
              <>
                Ended: {humanise(session.endReason)}
                {session.endedBy ? ` (${humanise(session.endedBy)})` : ''}.{' '}
              </>
            ) : null}
            {session.failureReason ? <>Failure: {session.failureReason}</> : null}
          </p>
        ) : null}
        {session.dispatch?.agentJoinedMs !== undefined ? (
          <p className="hint">Agent joined {session.dispatch.agentJoinedMs} ms after dispatch.</p>
        ) : null}
      </div>
    </section>
  );
}

function Escalations({ items }: { items: Escalation[] }) {
  return (
    <section className="card" aria-labelledby="e-title">
      <div className="card-head">
        <h2 id="e-title">Escalations</h2>
      </div>
      {items.length === 0 ? (
        <Empty title="None in this session" />
      ) : (
        <div className="card-body escalations">
          {items.map((e) => (
            <div
              key={e.id}
              className={`escalation sev-${e.severity} status-${e.status}`}
              data-testid="log-escalation"
            >
              <div>
                <div className="row">
                  <SeverityBadge severity={e.severity} />
                  <span className="escalation-rule">{e.ruleId}</span>
                  <span className="badge plain">{humanise(e.status)}</span>
                </div>
                <div className="escalation-meta">
                  {formatTime(e.at)}
                  {e.seq !== undefined ? ` · turn ${e.seq + 1}` : ''} · {e.trigger.kind} “
                  {e.trigger.value}”
                </div>
              </div>
              <span />
            </div>
          ))}
        </div>
      )}
    </section>
  );
}

function formatValue(v: Answer['value']): string {
  if (v === null) return '—';
  if (typeof v === 'boolean') return v ? 'Yes' : 'No';
  return String(v);
}

function Answers({
  answers,
  unanswered,
}: {
  answers: Record<string, Answer>;
  unanswered: string[];
}) {
  const entries = Object.entries(answers);
  return (
    <section className="card" aria-labelledby="a-title">
      <div className="card-head">
        <h2 id="a-title">Answers</h2>
        <span className="meta">{entries.filter(([, a]) => a.needsReview).length} need review</span>
      </div>
      {entries.length === 0 && unanswered.length === 0 ? (
        <Empty title="No answers captured" />
      ) : (
        <div className="table-scroll">
          <table className="table compact" data-testid="answers">
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">Answer</th>
                <th scope="col">Review</th>
              </tr>
            </thead>
            <tbody>
              {entries.map(([field, a]) => (
                <tr
                  key={field}
                  data-testid="answer"
                  data-field={field}
                  data-needs-review={a.needsReview}
                >
                  <td className="mono">{field}</td>
                  <td>
                    {formatValue(a.value)}
                    <div className="muted small" data-testid="answer-confidence">
                      {Math.round(a.confidence * 100)}% confidence
                      {a.confirmed ? ' · read back, confirmed' : ''}
                    </div>
                  </td>
                  <td>
                    {a.needsReview ? (
                      <span className="badge review">
                        {humanise(a.reviewReason ?? 'needs review')}
                      </span>
                    ) : (
                      <span className="badge ok">OK</span>
                    )}
                  </td>
                </tr>
              ))}
              {unanswered.map((field) => (
                <tr key={field}>
                  <td className="mono">{field}</td>
                  <td className="muted">Not answered</td>
                  <td>
                    <span className="badge review">Unanswered</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function LatencySummary({ session }: { session: Session }) {
  const l = session.summary?.latency;
  if (!l || !Object.keys(l).length) return null;
  const names: Record<string, string> = {
    endOfUtteranceMs: 'End of speech',
    transcriptionDelayMs: 'Transcript',
    llmTtftMs: 'LLM first token',
    ttsTtfbMs: 'Voice first audio',
    endToEndMs: 'End to end',
  };
  return (
    <section className="card" aria-labelledby="l-title">
      <div className="card-head">
        <h2 id="l-title">Latency</h2>
        <span className="meta">median · 95th percentile</span>
      </div>
      <div className="card-body">
        <dl className="kv">
          {Object.entries(l).map(([k, v]) => (
            <div key={k} style={{ display: 'contents' }}>
              <dt>{names[k] ?? k}</dt>
              <dd>
                {v.medianMs} ms · {v.p95Ms} ms
              </dd>
            </div>
          ))}
        </dl>
      </div>
    </section>
  );
}
