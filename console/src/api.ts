/**
 * The console's one way to call the API: same origin, the staff token from sign-in as a bearer,
 * and RFC 9457 problems turned into an `ApiError` whose message a page can show as it is.
 */
const TOKEN_KEY = 'voicecare.staffToken';

/** Fired on window when the API refused the stored token: the shell sends the user to sign in. */
export const SIGNED_OUT_EVENT = 'voicecare:signed-out';

export function staffToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setStaffToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  [key: string]: unknown;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? `request failed (${problem.status})`);
    this.name = 'ApiError';
  }
  get status(): number {
    return this.problem.status;
  }
  get code(): string | undefined {
    return this.problem.code;
  }
}

export async function api<T>(
  path: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<T> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  // The stored token, when this call sends it (a caller may pass its own header instead).
  const token = headers.has('authorization') ? null : staffToken();
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (json !== undefined) headers.set('content-type', 'application/json');
  const res = await fetch(path, {
    ...rest,
    headers,
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  if (!res.ok) throw await problemOf(res, token);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

async function problemOf(res: Response, token: string | null): Promise<ApiError> {
  const body = (await res.json().catch(() => ({}))) as Partial<Problem>;
  if (res.status === 401 && token && staffToken() === token) {
    // The token expired or was revoked: forget it, and let the shell take the user to sign in.
    setStaffToken(null);
    window.dispatchEvent(new CustomEvent(SIGNED_OUT_EVENT, { detail: { reason: 'expired' } }));
  }
  return new ApiError({ ...body, status: res.status });
}

/** A binary response (the voice preview's WAV), with the same auth and errors as `api`. */
export async function apiBlob(path: string, init: RequestInit & { json?: unknown } = {}) {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  const token = staffToken();
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (json !== undefined) headers.set('content-type', 'application/json');
  const res = await fetch(path, {
    ...rest,
    headers,
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  if (!res.ok) throw await problemOf(res, token);
  return res.blob();
}

export interface StreamEvent {
  event: string;
  id: string | undefined;
  data: unknown;
}

/**
 * Reads a Server-Sent Events route with the bearer header (EventSource cannot send one) until
 * `signal` aborts or the server ends the stream. Resolves when the stream ends; rejects with an
 * ApiError when the route refuses, or with the network error when the connection drops.
 */
export async function apiStream(
  path: string,
  onEvent: (e: StreamEvent) => void,
  signal: AbortSignal,
  lastEventId?: string,
  onOpen?: () => void,
): Promise<void> {
  const headers = new Headers({ accept: 'text/event-stream' });
  const token = staffToken();
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (lastEventId !== undefined) headers.set('last-event-id', lastEventId);
  const res = await fetch(path, { headers, signal, cache: 'no-store' });
  if (!res.ok) throw await problemOf(res, token);
  onOpen?.();
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let at: number;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      let event = 'message';
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'id') id = value;
        else if (field === 'data') data.push(value);
      }
      if (!data.length) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.join('\n'));
      } catch {
        continue;
      }
      onEvent({ event, id, data: parsed });
    }
  }
}
