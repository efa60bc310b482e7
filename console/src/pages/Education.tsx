/**
 * Education audio: short spoken lessons for patients. Write a script (or draft one from
 * approved knowledge documents when an LLM is configured), attached to profiles; render a
 * version in a chosen voice (a job, with progress); listen to the clip; admins approve the
 * script version and the clip, and retire either. Only an approved clip of the version in use
 * plays in calls and through patient links (the API enforces all of it).
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, apiBlob } from '../api.ts';
import { useStaffUser } from '../staff/Shell.tsx';
import { formatDateTime, humanise } from '../ui/format.ts';
import { useDocumentTitle } from '../ui/hooks.ts';
import { Empty, ErrorNote, Loading } from '../ui/Status.tsx';

interface Stamp {
  by: string;
  at: string;
}
interface Version {
  scriptId: string;
  version: number;
  title: string;
  text: string;
  profiles: string[];
  status: 'pending' | 'approved' | 'superseded';
  draftedFrom?: { docId: string; version: number }[];
  created: Stamp;
  approved?: Stamp;
}
interface Voice {
  provider: 'local' | 'elevenlabs' | 'openai';
  voiceId: string;
  label: string;
}
interface Clip {
  clipId: string;
  source: { scriptId: string; version: number };
  voice: { provider: string; voiceId: string; speed: number };
  state: 'queued' | 'rendering' | 'ready' | 'failed';
  progress: number;
  error?: { code: string; message: string };
  audio?: { durationMs: number; sampleRate: number; bytes: number; format: string };
  requested: Stamp;
  approved?: Stamp;
  retired?: Stamp;
  playable?: boolean;
}
interface Script {
  scriptId: string;
  title: string;
  status: 'pending' | 'approved' | 'retired';
  inUseVersion?: number;
  retired?: Stamp;
  versions: Version[];
  clips?: Clip[];
  playingClipId?: string;
}

const STATUS_CLASS: Record<string, string> = {
  approved: 'state-completed',
  ready: 'state-completed',
  pending: 'state-requested',
  queued: 'state-requested',
  rendering: 'state-active',
  retired: 'state-interrupted',
  superseded: 'state-interrupted',
  failed: 'state-failed',
};

function StatusBadge({ status }: { status: string }) {
  return <span className={`badge ${STATUS_CLASS[status] ?? ''}`}>{humanise(status)}</span>;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function ScriptEditor({ scripts, onSaved }: { scripts: Script[]; onSaved: (id: string) => void }) {
  const [profiles, setProfiles] = useState<string[]>([]);
  const [docs, setDocs] = useState<{ docId: string; title: string; status: string }[]>([]);
  const [text, setText] = useState('');
  const [draftedFrom, setDraftedFrom] = useState<Version['draftedFrom']>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string>();
  const form = useRef<HTMLFormElement>(null);

  useEffect(() => {
    api<{ items: { id: string }[] }>('/v1/profiles').then(
      (r) => setProfiles(r.items.map((p) => p.id)),
      () => undefined,
    );
    api<{ items: { docId: string; title: string; status: string }[] }>('/v1/knowledge').then(
      (r) => setDocs(r.items.filter((d) => d.status === 'approved')),
      () => undefined,
    );
  }, []);

  const draft = async () => {
    const data = new FormData(form.current ?? undefined);
    setError(undefined);
    setBusy(true);
    try {
      const d = await api<{ text: string; draftedFrom: Version['draftedFrom'] }>(
        '/v1/education/scripts/draft',
        {
          method: 'POST',
          json: {
            topic: String(data.get('title') || data.get('topic') || ''),
            docIds: data.getAll('doc').map(String),
          },
        },
      );
      setText(d.text);
      setDraftedFrom(d.draftedFrom);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const el = e.currentTarget;
    const data = new FormData(el);
    const scriptId = String(data.get('scriptId') ?? '');
    setError(undefined);
    setDone(undefined);
    setBusy(true);
    try {
      const v = await api<Version>('/v1/education/scripts', {
        method: 'POST',
        json: {
          ...(scriptId ? { scriptId } : {}),
          title: String(data.get('title') ?? ''),
          text,
          profiles: data.getAll('profile').map(String),
          ...(draftedFrom ? { draftedFrom } : {}),
        },
      });
      setDone(`${v.title} v${v.version} saved, waiting for approval.`);
      el.reset();
      setText('');
      setDraftedFrom(undefined);
      onSaved(v.scriptId);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={form} className="card card-body stack" onSubmit={submit} aria-label="Write a script">
      <h2>Write a script</h2>
      <div className="field">
        <label htmlFor="e-title">Title</label>
        <input id="e-title" name="title" type="text" required maxLength={200} />
      </div>
      <div className="field">
        <label htmlFor="e-script">New version of</label>
        <select id="e-script" name="scriptId" defaultValue="">
          <option value="">A new script</option>
          {scripts
            .filter((s) => s.status !== 'retired')
            .map((s) => (
              <option key={s.scriptId} value={s.scriptId}>
                {s.title}
              </option>
            ))}
        </select>
      </div>
      <fieldset className="field">
        <legend>Profiles whose calls may play it</legend>
        {profiles.map((p) => (
          <label key={p} className="row">
            <input type="checkbox" name="profile" value={p} /> {p}
          </label>
        ))}
      </fieldset>
      <div className="field">
        <label htmlFor="e-text">What the patient hears</label>
        <textarea
          id="e-text"
          name="text"
          rows={8}
          required
          maxLength={8000}
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        {draftedFrom ? (
          <span className="hint">
            Drafted from {draftedFrom.map((d) => `${d.docId} v${d.version}`).join(', ')}: read and
            edit it before saving.
          </span>
        ) : null}
      </div>
      {docs.length ? (
        <fieldset className="field">
          <legend>Draft from approved documents (needs an LLM)</legend>
          {docs.map((d) => (
            <label key={d.docId} className="row">
              <input type="checkbox" name="doc" value={d.docId} /> {d.title}
            </label>
          ))}
          <div className="row">
            <button type="button" className="btn" disabled={busy} onClick={() => void draft()}>
              Draft
            </button>
          </div>
        </fieldset>
      ) : null}
      {error ? <ErrorNote error={error} title="Not done" /> : null}
      {done ? (
        <p className="note note-ok" role="status">
          {done}
        </p>
      ) : null}
      <div className="row">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          Save
        </button>
      </div>
    </form>
  );
}

function ClipPlayer({ clip }: { clip: Clip }) {
  const [url, setUrl] = useState<string>();
  const [error, setError] = useState<unknown>();
  useEffect(() => () => (url ? URL.revokeObjectURL(url) : undefined), [url]);
  if (url) {
    return <audio controls src={url} aria-label={`Clip ${clip.clipId}`} data-testid="clip-audio" />;
  }
  return (
    <>
      <button
        type="button"
        className="btn btn-small"
        onClick={() =>
          apiBlob(`/v1/education/clips/${clip.clipId}/audio`).then(
            (b) => setUrl(URL.createObjectURL(b)),
            setError,
          )
        }
      >
        Listen
      </button>
      {error ? <ErrorNote error={error} /> : null}
    </>
  );
}

function ScriptDetail({
  scriptId,
  isAdmin,
  onChanged,
}: {
  scriptId: string;
  isAdmin: boolean;
  onChanged: () => void;
}) {
  const [script, setScript] = useState<Script>();
  const [voices, setVoices] = useState<Voice[]>([]);
  const [voice, setVoice] = useState(0);
  const [shown, setShown] = useState<number>();
  const [error, setError] = useState<unknown>();
  const [link, setLink] = useState<{ url: string; expiresAt: string }>();

  const load = useCallback(() => {
    api<Script>(`/v1/education/scripts/${encodeURIComponent(scriptId)}`).then((s) => {
      setScript(s);
      setShown((v) => v ?? s.versions[0]?.version);
    }, setError);
  }, [scriptId]);
  useEffect(load, [load]);
  useEffect(() => {
    api<{ items: Voice[] }>('/v1/education/voices').then((r) => setVoices(r.items), setError);
  }, []);
  // While a job runs, follow its progress.
  const running = script?.clips?.some((c) => c.state === 'queued' || c.state === 'rendering');
  useEffect(() => {
    if (!running) return;
    const t = setInterval(load, 500);
    return () => clearInterval(t);
  }, [running, load]);

  const act = async (path: string, confirmText?: string) => {
    if (confirmText && !window.confirm(confirmText)) return;
    setError(undefined);
    try {
      await api(path, { method: 'POST' });
      load();
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const render = async (version: number) => {
    const v = voices[voice];
    if (!v) return;
    setError(undefined);
    try {
      await api(
        `/v1/education/scripts/${encodeURIComponent(scriptId)}/versions/${version}/render`,
        {
          method: 'POST',
          json: { voice: { provider: v.provider, voiceId: v.voiceId, speed: 1 } },
        },
      );
      load();
    } catch (err) {
      setError(err);
    }
  };
  const sendLink = async (clipId: string) => {
    setError(undefined);
    try {
      const l = await api<{ url: string; path: string; expiresAt: string }>(
        `/v1/education/clips/${clipId}/patient-link`,
        { method: 'POST' },
      );
      setLink({
        url: l.url.startsWith('http') ? l.url : `${location.origin}${l.path}`,
        expiresAt: l.expiresAt,
      });
    } catch (err) {
      setError(err);
    }
  };

  if (!script) return error ? <ErrorNote error={error} /> : <Loading />;
  const version = script.versions.find((v) => v.version === shown) ?? script.versions[0];
  const clips = (script.clips ?? []).filter((c) => c.source.version === version?.version);
  return (
    <section className="card" aria-label={`Script ${script.title}`} data-testid="education-detail">
      <div className="card-head">
        <h2>{script.title}</h2>
        <StatusBadge status={script.status} />
        <span className="spacer" />
        {isAdmin && script.status !== 'retired' ? (
          <button
            type="button"
            className="btn btn-danger"
            onClick={() =>
              void act(
                `/v1/education/scripts/${encodeURIComponent(script.scriptId)}/retire`,
                `Retire "${script.title}"? None of its clips will play again.`,
              )
            }
          >
            Retire script
          </button>
        ) : null}
      </div>
      <div className="card-body stack">
        {error ? <ErrorNote error={error} /> : null}
        <div className="row">
          {script.versions.map((v) => (
            <button
              key={v.version}
              type="button"
              className={`btn btn-small${v.version === version?.version ? ' btn-primary' : ''}`}
              onClick={() => setShown(v.version)}
            >
              v{v.version} · {humanise(v.status)}
            </button>
          ))}
        </div>
        {version ? (
          <>
            <p className="muted small">
              v{version.version} for {version.profiles.join(', ')}. Written by {version.created.by},{' '}
              {formatDateTime(version.created.at)}
              {version.approved
                ? `; approved by ${version.approved.by}, ${formatDateTime(version.approved.at)}`
                : ''}
              .
            </p>
            <blockquote data-testid="script-text">{version.text}</blockquote>
            {isAdmin && version.status === 'pending' && script.status !== 'retired' ? (
              <div className="row">
                <button
                  type="button"
                  className="btn btn-primary"
                  onClick={() =>
                    void act(
                      `/v1/education/scripts/${encodeURIComponent(script.scriptId)}/versions/${version.version}/approve`,
                    )
                  }
                >
                  Approve v{version.version}
                </button>
              </div>
            ) : null}
            {script.status !== 'retired' ? (
              <div className="row">
                <label htmlFor="e-voice">Voice</label>
                <select
                  id="e-voice"
                  value={voice}
                  onChange={(e) => setVoice(Number(e.target.value))}
                >
                  {voices.map((v, i) => (
                    <option key={`${v.provider}:${v.voiceId}`} value={i}>
                      {v.label}
                    </option>
                  ))}
                </select>
                <button type="button" className="btn" onClick={() => void render(version.version)}>
                  Render v{version.version}
                </button>
              </div>
            ) : null}
            {clips.length === 0 ? (
              <Empty title="No clips yet">Render this version in a voice to hear it.</Empty>
            ) : (
              <table className="table" data-testid="clip-list">
                <thead>
                  <tr>
                    <th scope="col">Voice</th>
                    <th scope="col">State</th>
                    <th scope="col">Length</th>
                    <th scope="col">Listen</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {clips.map((c) => (
                    <tr key={c.clipId} data-testid={`clip-${c.state}`}>
                      <td>
                        {c.voice.provider} {c.voice.voiceId}
                      </td>
                      <td>
                        <StatusBadge
                          status={c.retired ? 'retired' : c.approved ? 'approved' : c.state}
                        />
                        {c.state === 'rendering' || c.state === 'queued' ? (
                          <progress value={c.progress} max={1} aria-label="Render progress" />
                        ) : null}
                        {c.error ? <span className="muted small"> {c.error.message}</span> : null}
                        {script.playingClipId === c.clipId ? (
                          <span className="muted small"> plays in calls</span>
                        ) : null}
                      </td>
                      <td className="num">{c.audio ? seconds(c.audio.durationMs) : ''}</td>
                      <td>{c.state === 'ready' ? <ClipPlayer clip={c} /> : null}</td>
                      <td className="row">
                        {isAdmin && c.state === 'ready' && !c.approved && !c.retired ? (
                          <button
                            type="button"
                            className="btn btn-small btn-primary"
                            onClick={() => void act(`/v1/education/clips/${c.clipId}/approve`)}
                          >
                            Approve clip
                          </button>
                        ) : null}
                        {c.playable ? (
                          <button
                            type="button"
                            className="btn btn-small"
                            onClick={() => void sendLink(c.clipId)}
                          >
                            Patient link
                          </button>
                        ) : null}
                        {isAdmin && c.approved && !c.retired ? (
                          <button
                            type="button"
                            className="btn btn-small btn-danger"
                            onClick={() =>
                              void act(
                                `/v1/education/clips/${c.clipId}/retire`,
                                'Retire this clip? No call or link will play it again.',
                              )
                            }
                          >
                            Retire
                          </button>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {link ? (
              <p className="note note-ok" role="status">
                Patient link (until {formatDateTime(link.expiresAt)}):{' '}
                <span
                  className="mono small"
                  style={{ wordBreak: 'break-all' }}
                  data-testid="patient-link"
                >
                  {link.url}
                </span>
              </p>
            ) : null}
          </>
        ) : null}
      </div>
    </section>
  );
}

export function EducationPage() {
  useDocumentTitle('Education audio');
  const user = useStaffUser();
  const isAdmin = user?.roles.includes('admin') ?? false;
  const [scripts, setScripts] = useState<Script[]>();
  const [error, setError] = useState<unknown>();
  const [open, setOpen] = useState<string>();

  const load = useCallback(() => {
    api<{ items: Script[] }>('/v1/education/scripts').then((r) => setScripts(r.items), setError);
  }, []);
  useEffect(load, [load]);

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Education audio</h1>
          <p className="sub">
            Short spoken lessons for patients. Calls and patient links play only an approved clip of
            an approved script.
          </p>
        </div>
      </div>
      <div className="grid grid-dash">
        <section className="card" aria-label="Scripts">
          {error ? <ErrorNote error={error} /> : null}
          {!scripts ? (
            <Loading />
          ) : scripts.length === 0 ? (
            <Empty title="No scripts yet">Write one to get started.</Empty>
          ) : (
            <div className="table-scroll">
              <table className="table" data-testid="education-list">
                <thead>
                  <tr>
                    <th scope="col">Script</th>
                    <th scope="col">Status</th>
                    <th scope="col">Versions</th>
                  </tr>
                </thead>
                <tbody>
                  {scripts.map((s) => (
                    <tr key={s.scriptId} className="clickable" onClick={() => setOpen(s.scriptId)}>
                      <td>
                        <button
                          type="button"
                          className="btn btn-quiet"
                          onClick={() => setOpen(s.scriptId)}
                        >
                          {s.title}
                        </button>
                      </td>
                      <td>
                        <StatusBadge status={s.status} />
                        {s.inUseVersion ? (
                          <span className="muted"> v{s.inUseVersion} in use</span>
                        ) : null}
                      </td>
                      <td className="num">{s.versions.length}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        <ScriptEditor
          scripts={scripts ?? []}
          onSaved={(id) => {
            load();
            setOpen(id);
          }}
        />
      </div>
      {open ? <ScriptDetail key={open} scriptId={open} isAdmin={isAdmin} onChanged={load} /> : null}
    </div>
  );
}
