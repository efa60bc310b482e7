/**
 * Knowledge: the care team's documents the agent may answer patients' questions from. Upload a
 * Markdown, text or PDF file (with progress) attached to profiles, see each document's status,
 * versions and profiles, preview the passages a version was cut into, approve a pending version
 * and retire a document. Approving and retiring are for admins (the API enforces it too).
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, staffToken } from '../api.ts';
import { useStaffUser } from '../staff/Shell.tsx';
import { formatDateTime, humanise } from '../ui/format.ts';
import { useDocumentTitle } from '../ui/hooks.ts';
import { Empty, ErrorNote, Loading } from '../ui/Status.tsx';

interface Stamp {
  by: string;
  at: string;
}
interface Passage {
  id: string;
  heading?: string;
  text: string;
}
interface Version {
  docId: string;
  version: number;
  title: string;
  format: string;
  profiles: string[];
  status: 'pending' | 'approved' | 'superseded';
  passageCount: number;
  bytes: number;
  uploaded: Stamp;
  approved?: Stamp;
  passages?: Passage[];
}
interface Doc {
  docId: string;
  title: string;
  status: 'pending' | 'approved' | 'retired';
  inUseVersion?: number;
  retired?: Stamp;
  versions: Version[];
}

const STATUS_CLASS: Record<string, string> = {
  approved: 'state-completed',
  pending: 'state-requested',
  retired: 'state-interrupted',
  superseded: 'state-interrupted',
};

function StatusBadge({ status }: { status: string }) {
  return <span className={`badge ${STATUS_CLASS[status] ?? ''}`}>{humanise(status)}</span>;
}

/** multipart upload through XMLHttpRequest: fetch cannot report upload progress. */
function uploadDocument(form: FormData, onProgress: (fraction: number) => void): Promise<Version> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/knowledge');
    const token = staffToken();
    if (token) xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: unknown = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // A non-JSON answer is reported by status alone.
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as Version);
      else reject(new ApiError({ ...(body as object), status: xhr.status }));
    };
    xhr.onerror = () =>
      reject(new ApiError({ status: 0, title: 'The upload did not reach the server' }));
    xhr.send(form);
  });
}

function UploadForm({ docs, onDone }: { docs: Doc[]; onDone: () => void }) {
  const [profiles, setProfiles] = useState<string[]>([]);
  const [progress, setProgress] = useState<number | undefined>();
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string | undefined>();

  useEffect(() => {
    api<{ items: { id: string }[] }>('/v1/profiles').then(
      (r) => setProfiles(r.items.map((p) => p.id)),
      () => undefined,
    );
  }, []);

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const el = e.currentTarget;
    const data = new FormData(el);
    const chosen = data.getAll('profile').map(String);
    const form = new FormData();
    form.set('title', String(data.get('title') ?? ''));
    form.set('profiles', chosen.join(','));
    const docId = String(data.get('docId') ?? '');
    if (docId) form.set('docId', docId);
    const file = data.get('file');
    if (file instanceof File) form.set('file', file, file.name);
    setError(undefined);
    setDone(undefined);
    setProgress(0);
    try {
      const v = await uploadDocument(form, setProgress);
      setDone(
        `${v.title} v${v.version} uploaded: ${v.passageCount} passages, waiting for approval.`,
      );
      el.reset();
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setProgress(undefined);
    }
  };

  return (
    <form className="card card-body stack" onSubmit={submit} aria-label="Upload a document">
      <h2>Upload a document</h2>
      <div className="field">
        <label htmlFor="k-title">Title</label>
        <input id="k-title" name="title" type="text" required maxLength={200} />
      </div>
      <div className="field">
        <label htmlFor="k-doc">New version of</label>
        <select id="k-doc" name="docId" defaultValue="">
          <option value="">A new document</option>
          {docs
            .filter((d) => d.status !== 'retired')
            .map((d) => (
              <option key={d.docId} value={d.docId}>
                {d.title}
              </option>
            ))}
        </select>
      </div>
      <fieldset className="field">
        <legend>Profiles that may use it</legend>
        {profiles.length === 0 ? <span className="muted">No published profiles</span> : null}
        {profiles.map((p) => (
          <label key={p} className="row">
            <input type="checkbox" name="profile" value={p} /> {p}
          </label>
        ))}
      </fieldset>
      <div className="field">
        <label htmlFor="k-file">File (.md, .txt or .pdf)</label>
        <input id="k-file" name="file" type="file" required accept=".md,.markdown,.txt,.pdf" />
      </div>
      {progress !== undefined ? (
        <progress value={progress} max={1} aria-label="Upload progress" />
      ) : null}
      {error ? <ErrorNote error={error} title="Not uploaded" /> : null}
      {done ? (
        <p className="note note-ok" role="status">
          {done}
        </p>
      ) : null}
      <div className="row">
        <button type="submit" className="btn btn-primary" disabled={progress !== undefined}>
          Upload
        </button>
      </div>
    </form>
  );
}

function DocumentDetail({
  docId,
  isAdmin,
  onChanged,
}: {
  docId: string;
  isAdmin: boolean;
  onChanged: () => void;
}) {
  const [doc, setDoc] = useState<Doc | undefined>();
  const [error, setError] = useState<unknown>();
  const [shown, setShown] = useState<number | undefined>();

  const load = useCallback(() => {
    api<Doc>(`/v1/knowledge/${encodeURIComponent(docId)}`).then((d) => {
      setDoc(d);
      setShown((s) => s ?? d.versions[0]?.version);
    }, setError);
  }, [docId]);
  useEffect(load, [load]);

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

  if (!doc) return error ? <ErrorNote error={error} /> : <Loading />;
  const version = doc.versions.find((v) => v.version === shown) ?? doc.versions[0];
  return (
    <section className="card" aria-label={`Document ${doc.title}`} data-testid="knowledge-detail">
      <div className="card-head">
        <h2>{doc.title}</h2>
        <StatusBadge status={doc.status} />
        {doc.retired ? (
          <span className="muted">
            Retired by {doc.retired.by}, {formatDateTime(doc.retired.at)}
          </span>
        ) : null}
        <span className="spacer" />
        {isAdmin && doc.status !== 'retired' ? (
          <button
            type="button"
            className="btn btn-danger"
            onClick={() =>
              void act(
                `/v1/knowledge/${encodeURIComponent(doc.docId)}/retire`,
                `Retire "${doc.title}"? No call will use it again.`,
              )
            }
          >
            Retire
          </button>
        ) : null}
      </div>
      <div className="card-body stack">
        {error ? <ErrorNote error={error} /> : null}
        <div className="row">
          {doc.versions.map((v) => (
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
              v{version.version}, {version.format}, {version.passageCount} passages, for{' '}
              {version.profiles.join(', ')}. Uploaded by {version.uploaded.by},{' '}
              {formatDateTime(version.uploaded.at)}
              {version.approved
                ? `; approved by ${version.approved.by}, ${formatDateTime(version.approved.at)}`
                : ''}
              .
            </p>
            {isAdmin && version.status === 'pending' && doc.status !== 'retired' ? (
              <div className="row">
                <button
                  type="button"
                  className="btn btn-primary"
                  onClick={() =>
                    void act(
                      `/v1/knowledge/${encodeURIComponent(doc.docId)}/versions/${version.version}/approve`,
                    )
                  }
                >
                  Approve v{version.version}
                </button>
                <span className="hint">
                  Once approved, calls on its profiles read these passages to patients.
                </span>
              </div>
            ) : null}
            {!isAdmin && version.status === 'pending' ? (
              <p className="note note-warn">Waiting for an admin to approve it.</p>
            ) : null}
            <ol className="stack" aria-label="Passages" data-testid="passages">
              {(version.passages ?? []).map((p) => (
                <li key={p.id}>
                  <div className="mono small muted">
                    {p.id}
                    {p.heading ? ` · ${p.heading}` : ''}
                  </div>
                  <div>{p.text}</div>
                </li>
              ))}
            </ol>
          </>
        ) : null}
      </div>
    </section>
  );
}

export function KnowledgePage() {
  useDocumentTitle('Knowledge');
  const user = useStaffUser();
  const isAdmin = user?.roles.includes('admin') ?? false;
  const [docs, setDocs] = useState<Doc[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [open, setOpen] = useState<string | undefined>();

  const load = useCallback(() => {
    api<{ items: Doc[] }>('/v1/knowledge').then((r) => setDocs(r.items), setError);
  }, []);
  useEffect(load, [load]);

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Knowledge</h1>
          <p className="sub">
            The care team&apos;s documents. The agent answers patients&apos; questions only from
            approved versions, and says it will ask the care team when nothing approved answers.
          </p>
        </div>
      </div>
      <div className="grid grid-dash">
        <section className="card" aria-label="Documents">
          {error ? <ErrorNote error={error} /> : null}
          {!docs ? (
            <Loading />
          ) : docs.length === 0 ? (
            <Empty title="No documents yet">Upload one to get started.</Empty>
          ) : (
            <div className="table-scroll">
              <table className="table" data-testid="knowledge-list">
                <thead>
                  <tr>
                    <th scope="col">Document</th>
                    <th scope="col">Status</th>
                    <th scope="col">Versions</th>
                    <th scope="col">Profiles</th>
                  </tr>
                </thead>
                <tbody>
                  {docs.map((d) => (
                    <tr
                      key={d.docId}
                      className="clickable"
                      onClick={() => setOpen(d.docId)}
                      aria-selected={open === d.docId}
                    >
                      <td>
                        <button
                          type="button"
                          className="btn btn-quiet"
                          onClick={() => setOpen(d.docId)}
                        >
                          {d.title}
                        </button>
                      </td>
                      <td>
                        <StatusBadge status={d.status} />
                        {d.inUseVersion ? (
                          <span className="muted"> v{d.inUseVersion} in use</span>
                        ) : null}
                      </td>
                      <td className="num">{d.versions.length}</td>
                      <td>{[...new Set(d.versions.flatMap((v) => v.profiles))].join(', ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        <UploadForm docs={docs ?? []} onDone={load} />
      </div>
      {open ? <DocumentDetail key={open} docId={open} isAdmin={isAdmin} onChanged={load} /> : null}
    </div>
  );
}
