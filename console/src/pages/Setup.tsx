/**
 * Agent setup. `/setup`: the profiles; `/setup/:profileId`: one profile. A published version is
 * shown read-only; "Edit as a new draft" copies it, with the next version number, into a draft
 * kept in this browser (localStorage, per profile) so nothing typed is lost on a reload. The YAML
 * is checked by the API as you type (line, column and field for each problem); the form edits
 * the fields clinicians touch most in the same YAML. Admins publish with a note; the history
 * lists every version, and Compare shows two side by side.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, Navigate, Route, Routes, useParams, useSearchParams } from 'react-router-dom';
import { api, ApiError, apiBlob } from '../api.ts';
import { canPublish } from '../staff/auth.ts';
import { readForm, setField, setPhrases, toDraftYaml } from '../staff/profile-yaml.ts';
import { useStaffUser } from '../staff/Shell.tsx';
import {
  YamlDiff,
  YamlEditor,
  type EditorIssue,
  type YamlEditorHandle,
} from '../staff/YamlEditor.tsx';
import { formatDateTime } from '../ui/format.ts';
import { useDocumentTitle } from '../ui/hooks.ts';
import { Empty, ErrorNote, Loading, plainError } from '../ui/Status.tsx';

interface VersionInfo {
  id: string;
  version: number;
  hash: string;
  author: string;
  note: string;
  publishedAt: string;
}

interface ProfileSummary {
  id: string;
  latest: number;
  versions: VersionInfo[];
}

interface Published extends VersionInfo {
  profile: Record<string, unknown>;
}

interface LatestWithVersions extends Published {
  versions: VersionInfo[];
}

interface Draft {
  yaml: string;
  baseVersion: number;
  savedAt: string;
}

const VALIDATE_DELAY_MS = 400;
const VOICE_PROVIDERS = ['elevenlabs', 'openai', 'local'];

const draftKey = (id: string) => `voicecare.draft.${id}`;

function loadDraft(id: string): Draft | null {
  try {
    const d = JSON.parse(localStorage.getItem(draftKey(id)) ?? 'null') as Draft | null;
    return d && typeof d.yaml === 'string' ? d : null;
  } catch {
    return null;
  }
}

function saveDraft(id: string, draft: Draft | null): void {
  if (draft) localStorage.setItem(draftKey(id), JSON.stringify(draft));
  else localStorage.removeItem(draftKey(id));
}

export function SetupPage() {
  return (
    <Routes>
      <Route index element={<SetupLayout />} />
      <Route path=":profileId" element={<SetupLayout />} />
    </Routes>
  );
}

function SetupLayout() {
  useDocumentTitle('Agent setup');
  const { profileId } = useParams();
  const [profiles, setProfiles] = useState<ProfileSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const reload = useCallback(() => {
    api<{ items: ProfileSummary[] }>('/v1/profiles').then((r) => {
      setProfiles(r.items.sort((a, b) => a.id.localeCompare(b.id)));
      setError(null);
    }, setError);
  }, []);
  useEffect(reload, [reload]);

  if (!profileId && profiles?.[0]) return <Navigate to={`/setup/${profiles[0].id}`} replace />;

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Agent setup</h1>
          <p className="sub">
            What the assistant says, how it sounds, and the safety rules it checks on every turn.
          </p>
        </div>
      </div>
      {error ? <ErrorNote error={error} title="The profiles could not be loaded." /> : null}
      <div className="grid grid-split">
        <nav className="card" aria-label="Profiles">
          <div className="card-head">
            <h2>Profiles</h2>
          </div>
          {!profiles && !error ? <Loading /> : null}
          {profiles && profiles.length === 0 ? (
            <Empty title="No profiles published yet">
              Publish one with <code>npm run prompts -- publish</code>.
            </Empty>
          ) : null}
          <ul className="list">
            {profiles?.map((p) => (
              <li key={p.id}>
                <Link
                  to={`/setup/${p.id}`}
                  className={p.id === profileId ? 'active' : undefined}
                  aria-current={p.id === profileId ? 'page' : undefined}
                >
                  {p.id}
                  {loadDraft(p.id) ? <span className="badge review plain">Draft</span> : null}
                  <span className="sub">v{p.latest}</span>
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        {profileId ? <ProfileView key={profileId} id={profileId} onPublished={reload} /> : null}
      </div>
    </div>
  );
}

type Tab = 'edit' | 'history' | 'compare';

function ProfileView({ id, onPublished }: { id: string; onPublished: () => void }) {
  const user = useStaffUser();
  const mayPublish = canPublish(user);
  const [params, setParams] = useSearchParams();
  const tab = (params.get('tab') as Tab | null) ?? 'edit';
  const viewVersion = params.get('version') ? Number(params.get('version')) : undefined;

  const [latest, setLatest] = useState<LatestWithVersions | null>(null);
  const [viewed, setViewed] = useState<Published | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [draft, setDraft] = useState<Draft | null>(() => loadDraft(id));
  const [notice, setNotice] = useState<string | null>(null);

  const loadLatest = useCallback(() => {
    api<LatestWithVersions>(`/v1/profiles/${id}`).then(setLatest, setError);
  }, [id]);
  useEffect(loadLatest, [loadLatest]);

  useEffect(() => {
    if (viewVersion === undefined) return setViewed(null);
    let cancelled = false;
    api<Published>(`/v1/profiles/${id}/versions/${viewVersion}`).then(
      (p) => !cancelled && setViewed(p),
      (err: unknown) => !cancelled && setError(err),
    );
    return () => {
      cancelled = true;
    };
  }, [id, viewVersion]);

  const setTab = (t: Tab, extra: Record<string, string | null> = {}) =>
    setParams(
      (p) => {
        p.set('tab', t);
        for (const [k, v] of Object.entries(extra)) {
          if (v === null) p.delete(k);
          else p.set(k, v);
        }
        return p;
      },
      { replace: true },
    );

  const startDraft = (from: Published) => {
    const base = latest?.version ?? from.version;
    const d: Draft = {
      yaml: toDraftYaml(from.profile, base + 1),
      baseVersion: from.version,
      savedAt: new Date().toISOString(),
    };
    saveDraft(id, d);
    setDraft(d);
    setNotice(null);
    setTab('edit', { version: null });
  };

  const discardDraft = () => {
    saveDraft(id, null);
    setDraft(null);
  };

  const updateDraft = (yaml: string) => {
    setDraft((d) => {
      const next = {
        baseVersion: d?.baseVersion ?? latest?.version ?? 0,
        yaml,
        savedAt: new Date().toISOString(),
      };
      saveDraft(id, next);
      return next;
    });
  };

  const published = (version: number) => {
    saveDraft(id, null);
    setDraft(null);
    setNotice(`Published version ${version}. New sessions use it from now on.`);
    loadLatest();
    onPublished();
  };

  if (error) return <ErrorNote error={error} title={`Profile ${id} could not be loaded.`} />;
  if (!latest) return <Loading label={`Loading ${id}…`} />;

  const shown = viewed ?? latest;
  const editing = draft !== null && viewVersion === undefined;

  return (
    <section className="card" aria-labelledby="profile-title">
      <div className="card-head">
        <h2 id="profile-title">{id}</h2>
        <span className="meta">
          latest version {latest.version} · {latest.versions.length} version
          {latest.versions.length === 1 ? '' : 's'}
        </span>
      </div>
      <div className="tabs" role="tablist" aria-label="Profile views">
        {(['edit', 'history', 'compare'] as const).map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            aria-selected={tab === t}
            onClick={() => setTab(t)}
            data-testid={`tab-${t}`}
          >
            {t === 'edit'
              ? editing
                ? 'Draft'
                : 'Profile'
              : t === 'history'
                ? 'Version history'
                : 'Compare'}
          </button>
        ))}
      </div>
      {notice ? (
        <div className="card-body" style={{ paddingBottom: 0 }}>
          <p className="note note-ok" role="status" data-testid="publish-success">
            {notice}
          </p>
        </div>
      ) : null}

      {tab === 'edit' ? (
        editing && draft ? (
          <DraftEditor
            id={id}
            draft={draft}
            latestVersion={latest.version}
            mayPublish={mayPublish}
            onChange={updateDraft}
            onDiscard={discardDraft}
            onPublished={published}
          />
        ) : (
          <PublishedView
            published={shown}
            isLatest={shown.version === latest.version}
            hasDraft={draft !== null}
            onEdit={() => startDraft(shown)}
            onOpenDraft={() => setTab('edit', { version: null })}
          />
        )
      ) : null}
      {tab === 'history' ? (
        <History
          versions={latest.versions}
          onView={(v) => setTab('edit', { version: String(v) })}
          onCompare={(a, b) => setTab('compare', { from: String(a), to: String(b) })}
        />
      ) : null}
      {tab === 'compare' ? <Compare id={id} versions={latest.versions} draft={draft} /> : null}
    </section>
  );
}

function PublishedView({
  published,
  isLatest,
  hasDraft,
  onEdit,
  onOpenDraft,
}: {
  published: Published;
  isLatest: boolean;
  hasDraft: boolean;
  onEdit: () => void;
  onOpenDraft: () => void;
}) {
  const text = useMemo(() => toDraftYaml(published.profile, published.version), [published]);
  return (
    <>
      <div className="banner" data-testid="published-banner">
        <span className="badge plain role-admin">Published</span>
        <span>
          Version {published.version}
          {isLatest ? ' (latest)' : ''} by {published.author},{' '}
          {formatDateTime(published.publishedAt)}. A published version can’t be changed.
        </span>
        <span className="spacer" />
        {hasDraft ? (
          <button type="button" className="btn" onClick={onOpenDraft}>
            Back to your draft
          </button>
        ) : (
          <button
            type="button"
            className="btn btn-primary"
            onClick={onEdit}
            data-testid="edit-draft"
          >
            Edit as a new draft
          </button>
        )}
      </div>
      <div className="card-body">
        <p className="hint" style={{ marginTop: 0, marginBottom: '0.6rem' }}>
          “{published.note}”
        </p>
        <YamlEditor
          value={text}
          readOnly
          label={`Profile ${published.id} version ${published.version} (read-only)`}
        />
      </div>
    </>
  );
}

interface ValidateResult {
  valid: boolean;
  issues: EditorIssue[];
}

function DraftEditor({
  id,
  draft,
  latestVersion,
  mayPublish,
  onChange,
  onDiscard,
  onPublished,
}: {
  id: string;
  draft: Draft;
  latestVersion: number;
  mayPublish: boolean;
  onChange: (yaml: string) => void;
  onDiscard: () => void;
  onPublished: (version: number) => void;
}) {
  const [issues, setIssues] = useState<EditorIssue[]>([]);
  const [checking, setChecking] = useState(true);
  const [checkError, setCheckError] = useState<unknown>(null);
  const [note, setNote] = useState('');
  const [publishing, setPublishing] = useState(false);
  const [publishError, setPublishError] = useState<{
    message: string;
    issues: EditorIssue[];
  } | null>(null);
  const editor = useRef<YamlEditorHandle>(null);
  const checkSeq = useRef(0);

  // Validate as you type: debounced, and only the newest answer counts.
  useEffect(() => {
    const seq = ++checkSeq.current;
    setChecking(true);
    const t = setTimeout(() => {
      if (!draft.yaml.trim()) {
        setIssues([{ line: 1, column: 1, field: '', message: 'the profile is empty' }]);
        setChecking(false);
        return;
      }
      api<ValidateResult>('/v1/profiles/validate', {
        method: 'POST',
        json: { yaml: draft.yaml },
      }).then(
        (r) => {
          if (seq !== checkSeq.current) return;
          setIssues(r.issues);
          setCheckError(null);
          setChecking(false);
        },
        (err: unknown) => {
          if (seq !== checkSeq.current) return;
          setCheckError(err);
          setChecking(false);
        },
      );
    }, VALIDATE_DELAY_MS);
    return () => clearTimeout(t);
  }, [draft.yaml]);

  const publish = async () => {
    setPublishError(null);
    setPublishing(true);
    try {
      const r = await api<{ version: number; created: boolean }>('/v1/profiles', {
        method: 'POST',
        json: { yaml: draft.yaml, note: note.trim() },
      });
      onPublished(r.version);
    } catch (err) {
      const found =
        err instanceof ApiError && Array.isArray(err.problem['issues'])
          ? (err.problem['issues'] as EditorIssue[])
          : [];
      if (found.length) setIssues(found);
      setPublishError({
        message:
          err instanceof ApiError && err.code === 'profile_invalid'
            ? `Not published: ${err.message}. Fix the lines marked in the editor, then publish again.`
            : `Not published: ${plainError(err)}`,
        issues: found,
      });
    } finally {
      setPublishing(false);
    }
  };

  return (
    <>
      <div className="banner draft">
        <span className="badge review plain">Draft</span>
        <span>
          Based on version {draft.baseVersion}. Kept in this browser only, saved as you type (last
          at {new Date(draft.savedAt).toLocaleTimeString()}).
        </span>
        <span className="spacer" />
        <button
          type="button"
          className="btn btn-danger btn-small"
          onClick={() => {
            if (window.confirm('Discard this draft? What you typed will be lost.')) onDiscard();
          }}
        >
          Discard draft
        </button>
      </div>
      <div
        className="card-body grid"
        style={{ gridTemplateColumns: 'minmax(300px, 380px) minmax(0, 1fr)' }}
      >
        <ProfileForm id={id} yaml={draft.yaml} onChange={onChange} />
        <div className="stack">
          <div className="row">
            <h3>YAML</h3>
            <span className="spacer" />
            <span
              className="muted"
              role="status"
              aria-live="polite"
              data-testid="validation-status"
            >
              {checking
                ? 'Checking…'
                : checkError
                  ? 'Could not check just now'
                  : issues.length
                    ? `${issues.length} problem${issues.length === 1 ? '' : 's'}`
                    : 'Valid'}
            </span>
          </div>
          <YamlEditor
            ref={editor}
            value={draft.yaml}
            onChange={onChange}
            issues={issues}
            label={`Draft of profile ${id} (YAML)`}
          />
          {checkError ? (
            <ErrorNote error={checkError} title="The draft could not be checked." />
          ) : null}
          {issues.length ? (
            <div>
              <h3 className="field-label">Problems to fix</h3>
              <ul className="issues" data-testid="issues">
                {issues.map((i, n) => (
                  <li key={`${i.line}:${i.column}:${n}`}>
                    <button
                      type="button"
                      data-testid="issue"
                      data-line={i.line}
                      onClick={() => editor.current?.goToLine(i.line, i.column)}
                    >
                      <span className="issue-line">Line {i.line}</span>
                      <span>
                        {i.message}
                        {i.field ? (
                          <>
                            {' '}
                            <span className="issue-field">{i.field}</span>
                          </>
                        ) : null}
                      </span>
                    </button>
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
        </div>
      </div>
      <div className="card-body" style={{ borderTop: '1px solid var(--line-2)' }}>
        {mayPublish ? (
          <div className="stack">
            <div className="field" style={{ margin: 0 }}>
              <label htmlFor="publish-note">What changed and why (kept with the version)</label>
              <input
                id="publish-note"
                type="text"
                maxLength={500}
                value={note}
                onChange={(e) => setNote(e.target.value)}
                placeholder="e.g. Shorter greeting after patient feedback"
                data-testid="publish-note"
              />
            </div>
            <div className="row">
              <button
                type="button"
                className="btn btn-primary"
                disabled={publishing || !note.trim()}
                onClick={() => void publish()}
                data-testid="publish-button"
              >
                {publishing
                  ? 'Publishing…'
                  : `Publish as version ${versionOf(draft.yaml) ?? latestVersion + 1}`}
              </button>
              {!note.trim() ? <span className="hint">Add a note to publish.</span> : null}
              {issues.length && note.trim() ? (
                <span className="hint">
                  The draft has problems; the API will refuse it until they are fixed.
                </span>
              ) : null}
            </div>
            {publishError ? (
              <p className="note note-error" role="alert" data-testid="publish-error">
                {publishError.message}
              </p>
            ) : null}
          </div>
        ) : (
          <p className="note" data-testid="publish-not-allowed">
            Only admins can publish a profile (clinical governance). Your draft stays in this
            browser; ask an admin to review and publish it.
          </p>
        )}
      </div>
    </>
  );
}

function versionOf(yaml: string): number | undefined {
  const m = /^version:\s*(\d+)\s*$/m.exec(yaml);
  return m ? Number(m[1]) : undefined;
}

function ProfileForm({
  id,
  yaml,
  onChange,
}: {
  id: string;
  yaml: string;
  onChange: (y: string) => void;
}) {
  const read = useMemo(() => readForm(yaml), [yaml]);
  const [rule, setRule] = useState(0);
  const [phrasesText, setPhrasesText] = useState<string | null>(null);
  const [preview, setPreview] = useState<
    { state: 'idle' | 'loading' | 'playing' } | { state: 'error'; message: string }
  >({
    state: 'idle',
  });
  const audio = useRef<HTMLAudioElement | null>(null);

  useEffect(
    () => () => {
      audio.current?.pause();
    },
    [],
  );

  if (!read.ok) {
    return (
      <div className="note note-warn" role="status" data-testid="form-unavailable">
        The form is paused: {read.reason}.
      </div>
    );
  }
  const f = read.fields;
  const selected = f.safety[Math.min(rule, Math.max(0, f.safety.length - 1))];
  const set = (path: (string | number)[], value: unknown) => onChange(setField(yaml, path, value));

  const play = async () => {
    audio.current?.pause();
    setPreview({ state: 'loading' });
    try {
      const wav = await apiBlob('/v1/profiles/preview', { method: 'POST', json: { yaml } });
      const url = URL.createObjectURL(wav);
      const a = new Audio(url);
      audio.current = a;
      a.onended = () => {
        URL.revokeObjectURL(url);
        setPreview({ state: 'idle' });
      };
      await a.play();
      setPreview({ state: 'playing' });
    } catch (err) {
      setPreview({
        state: 'error',
        message:
          err instanceof ApiError && err.code === 'profile_invalid'
            ? 'Fix the problems in the draft first; only a valid profile can be spoken.'
            : plainError(err),
      });
    }
  };

  return (
    <form
      className="stack"
      onSubmit={(e) => e.preventDefault()}
      aria-label={`Common fields of ${id}`}
    >
      <h3>Most-used fields</h3>
      <div className="field">
        <label htmlFor="f-first">First message</label>
        <textarea
          id="f-first"
          rows={4}
          value={f.firstMessage}
          onChange={(e) => set(['firstMessage'], e.target.value)}
          data-testid="field-first-message"
        />
        <p className="hint">
          Said when the patient joins. <code>{'{{patient.displayName or "there"}}'}</code> fills in
          their name.
        </p>
      </div>
      <div className="field">
        <label htmlFor="f-instructions">Instructions</label>
        <textarea
          id="f-instructions"
          rows={8}
          value={f.instructions}
          onChange={(e) => set(['instructions'], e.target.value)}
          data-testid="field-instructions"
        />
      </div>
      <fieldset className="field" style={{ border: 'none', padding: 0, margin: 0 }}>
        <legend className="field-label">Voice</legend>
        <div className="grid" style={{ gridTemplateColumns: '1fr 1fr', gap: '0.6rem' }}>
          <div>
            <label htmlFor="f-provider">Provider</label>
            <select
              id="f-provider"
              value={f.voice.provider}
              onChange={(e) => set(['voice', 'provider'], e.target.value)}
            >
              {[...new Set([...VOICE_PROVIDERS, f.voice.provider].filter(Boolean))].map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="f-voice">Voice</label>
            <input
              id="f-voice"
              type="text"
              value={f.voice.voiceId}
              onChange={(e) => set(['voice', 'voiceId'], e.target.value)}
            />
          </div>
        </div>
        <label htmlFor="f-speed" style={{ marginTop: '0.6rem' }}>
          Speed
        </label>
        <div className="speed-row">
          <input
            id="f-speed"
            type="range"
            min={0.7}
            max={1.2}
            step={0.05}
            value={f.voice.speed ?? 1}
            onChange={(e) => set(['voice', 'speed'], Number(e.target.value))}
          />
          <span className="tabular" style={{ width: '3.5em' }}>
            {(f.voice.speed ?? 1).toFixed(2)}×
          </span>
          <button
            type="button"
            className="btn btn-small"
            onClick={() => void play()}
            disabled={preview.state === 'loading'}
            data-testid="preview-play"
          >
            {preview.state === 'loading'
              ? 'Preparing…'
              : preview.state === 'playing'
                ? 'Playing…'
                : '▶ Play first message'}
          </button>
        </div>
        {preview.state === 'error' ? (
          <p className="note note-error" role="alert" style={{ marginTop: '0.5rem' }}>
            The preview could not be played: {preview.message}
          </p>
        ) : null}
      </fieldset>
      {f.safety.length ? (
        <div className="field">
          <label htmlFor="f-rule">Safety phrases</label>
          <select
            id="f-rule"
            value={rule}
            onChange={(e) => {
              setRule(Number(e.target.value));
              setPhrasesText(null);
            }}
          >
            {f.safety.map((r, i) => (
              <option key={`${r.id}-${i}`} value={i}>
                {r.id}
              </option>
            ))}
          </select>
          <textarea
            aria-label={`Phrases for the ${selected?.id ?? ''} rule, one per line`}
            rows={6}
            style={{ marginTop: '0.4rem' }}
            value={phrasesText ?? selected?.phrases.join('\n') ?? ''}
            onChange={(e) => setPhrasesText(e.target.value)}
            onBlur={() => {
              if (phrasesText === null) return;
              onChange(setPhrases(yaml, rule, phrasesText.split('\n')));
              setPhrasesText(null);
            }}
            data-testid="field-safety-phrases"
          />
          <p className="hint">
            One phrase per line; any case or punctuation matches. Saved when you leave the box.
          </p>
        </div>
      ) : null}
    </form>
  );
}

function History({
  versions,
  onView,
  onCompare,
}: {
  versions: VersionInfo[];
  onView: (v: number) => void;
  onCompare: (a: number, b: number) => void;
}) {
  const sorted = [...versions].sort((a, b) => b.version - a.version);
  return (
    <ul className="versions" data-testid="version-history">
      {sorted.map((v, i) => (
        <li key={v.version} data-testid="version-item" data-version={v.version}>
          <div className="row">
            <strong>Version {v.version}</strong>
            {i === 0 ? <span className="badge plain role-admin">Latest</span> : null}
            <span className="muted">
              {v.author} · {formatDateTime(v.publishedAt)}
            </span>
            <span className="spacer" />
            <button type="button" className="btn btn-small" onClick={() => onView(v.version)}>
              View
            </button>
            {sorted[i + 1] ? (
              <button
                type="button"
                className="btn btn-small"
                onClick={() => onCompare(sorted[i + 1]?.version ?? v.version, v.version)}
              >
                Compare with v{sorted[i + 1]?.version}
              </button>
            ) : null}
          </div>
          <p className="note-text">{v.note}</p>
        </li>
      ))}
    </ul>
  );
}

function Compare({
  id,
  versions,
  draft,
}: {
  id: string;
  versions: VersionInfo[];
  draft: Draft | null;
}) {
  const [params, setParams] = useSearchParams();
  const numbers = versions.map((v) => v.version).sort((a, b) => a - b);
  const last = numbers[numbers.length - 1] ?? 1;
  const from =
    params.get('from') ?? String(draft ? draft.baseVersion : (numbers[numbers.length - 2] ?? last));
  const to = params.get('to') ?? (draft ? 'draft' : String(last));
  const [texts, setTexts] = useState<{ before: string; after: string } | null>(null);
  const [changes, setChanges] = useState<{ kind: string; path: string }[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let cancelled = false;
    const textOf = async (which: string): Promise<string> => {
      if (which === 'draft') return draft?.yaml ?? '';
      const p = await api<Published>(`/v1/profiles/${id}/versions/${which}`);
      return toDraftYaml(p.profile, p.version);
    };
    setTexts(null);
    setChanges(null);
    Promise.all([textOf(from), textOf(to)]).then(
      ([before, after]) => !cancelled && setTexts({ before, after }),
      (err: unknown) => !cancelled && setError(err),
    );
    if (from !== 'draft' && to !== 'draft') {
      api<{ changes: { kind: string; path: string }[] }>(
        `/v1/profiles/${id}/diff?from=${from}&to=${to}`,
      ).then(
        (r) => !cancelled && setChanges(r.changes),
        () => undefined,
      );
    }
    return () => {
      cancelled = true;
    };
  }, [id, from, to, draft]);

  const choose = (key: 'from' | 'to', value: string) =>
    setParams(
      (p) => {
        p.set(key, value);
        return p;
      },
      { replace: true },
    );
  const options = [...numbers.map(String), ...(draft ? ['draft'] : [])];
  const label = (o: string) => (o === 'draft' ? 'Your draft' : `Version ${o}`);

  return (
    <div className="card-body stack">
      <div className="filters">
        <div className="field">
          <label htmlFor="c-from">Before</label>
          <select id="c-from" value={from} onChange={(e) => choose('from', e.target.value)}>
            {options.map((o) => (
              <option key={o} value={o}>
                {label(o)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="c-to">After</label>
          <select id="c-to" value={to} onChange={(e) => choose('to', e.target.value)}>
            {options.map((o) => (
              <option key={o} value={o}>
                {label(o)}
              </option>
            ))}
          </select>
        </div>
      </div>
      {changes ? (
        <p className="hint" data-testid="diff-fields">
          {changes.length === 0
            ? 'No fields changed.'
            : `Changed: ${changes
                .map((c) => c.path || '(whole profile)')
                .slice(0, 12)
                .join(', ')}${changes.length > 12 ? ` and ${changes.length - 12} more` : ''}`}
        </p>
      ) : null}
      {error ? <ErrorNote error={error} title="The versions could not be loaded." /> : null}
      {!texts && !error ? <Loading label="Loading both versions…" /> : null}
      {texts ? <YamlDiff before={texts.before} after={texts.after} /> : null}
    </div>
  );
}
