/**
 * The console's one way to call the API: same origin, the staff token from sign-in as a bearer,
 * and RFC 9457 problems turned into an `ApiError` whose message a page can show as it is.
 */
const TOKEN_KEY = 'voicecare.staffToken';

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
  const token = staffToken();
  if (token && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
  if (json !== undefined) headers.set('content-type', 'application/json');
  const res = await fetch(path, {
    ...rest,
    headers,
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as Partial<Problem>;
    throw new ApiError({ ...body, status: res.status });
  }
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}
