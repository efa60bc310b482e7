/** Small presentational pieces every staff page uses: state badges, loading, empty and errors. */
import type { ReactNode } from 'react';
import { ApiError } from '../api.ts';

const STATE_LABEL: Record<string, string> = {
  requested: 'Requested',
  dispatching: 'Connecting',
  active: 'In call',
  completed: 'Completed',
  failed: 'Failed',
  interrupted: 'Interrupted',
};

export function StateBadge({ state }: { state: string }) {
  return (
    <span className={`badge state-${state}`} data-state={state}>
      {STATE_LABEL[state] ?? state}
    </span>
  );
}

export function SeverityBadge({ severity }: { severity: string }) {
  return (
    <span className={`badge sev-${severity}`}>
      {severity === 'emergency' ? 'Emergency' : 'Urgent'}
    </span>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children ? <p className="empty-body">{children}</p> : null}
    </div>
  );
}

/** An error in plain words; an ApiError shows the API's own detail. */
export function plainError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 403) return 'Your role does not allow this.';
    if (err.status === 404) return err.message || 'Not found.';
    if (err.status >= 500) return `The server could not do this just now (${err.message}).`;
    return err.message;
  }
  if (err instanceof TypeError) return 'We could not reach the server. Check your connection.';
  return err instanceof Error ? err.message : String(err);
}

export function ErrorNote({ error, title }: { error: unknown; title?: string }) {
  return (
    <div className="note note-error" role="alert">
      {title ? <strong>{title} </strong> : null}
      {plainError(error)}
    </div>
  );
}
