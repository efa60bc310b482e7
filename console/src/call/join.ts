/**
 * Opening a join link: POST /v1/join/:code, the one call that uses the link up. The API answers
 * 409 `session_not_ready` (with Retry-After) while the call is set up, so this waits and asks
 * again, within a deadline; the link is consumed only by the answer that returns a token.
 */
import { CallFailure } from './failures.ts';

/** What the API returns for an opened link (api/join/routes.ts). */
export interface JoinGrant {
  livekitUrl: string;
  token: string;
  room: string;
  identity: string;
  expiresAt: string;
}

export interface OpenJoinLinkOptions {
  signal?: AbortSignal;
  /** How long the call may take to be set up before we say the assistant did not come. @defaultValue 120000 */
  setupDeadlineMs?: number;
  /** Network errors in a row before giving up. @defaultValue 3 */
  maxNetworkErrors?: number;
  /** Called while the API says the call is still being set up. */
  onWaiting?: () => void;
}

const DEFAULT_RETRY_MS = 2000;

export async function openJoinLink(
  code: string,
  opts: OpenJoinLinkOptions = {},
): Promise<JoinGrant> {
  const deadline = Date.now() + (opts.setupDeadlineMs ?? 120_000);
  const maxNetworkErrors = opts.maxNetworkErrors ?? 3;
  let networkErrors = 0;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(`/v1/join/${encodeURIComponent(code)}`, {
        method: 'POST',
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      networkErrors += 1;
      if (networkErrors >= maxNetworkErrors) throw new CallFailure('network', { cause: err });
      await wait(DEFAULT_RETRY_MS, opts.signal);
      continue;
    }
    networkErrors = 0;
    if (res.ok) return (await res.json()) as JoinGrant;
    const problem = (await res.json().catch(() => ({}))) as { code?: string };
    switch (problem.code) {
      case 'join_link_gone':
        throw new CallFailure('link_gone');
      case 'session_ended':
        throw new CallFailure('call_over');
      case 'not_found':
        throw new CallFailure('link_unknown');
      case 'session_not_ready':
      case 'rate_limited': {
        if (problem.code === 'session_not_ready') opts.onWaiting?.();
        const retryMs = retryAfterMs(res.headers.get('retry-after'));
        if (Date.now() + retryMs > deadline) throw new CallFailure('agent_absent');
        await wait(retryMs, opts.signal);
        continue;
      }
      default:
        if (res.status === 404) throw new CallFailure('link_unknown');
        if (res.status === 410) throw new CallFailure('link_gone');
        throw new CallFailure('network');
    }
  }
}

function retryAfterMs(header: string | null): number {
  const s = Number(header);
  return Number.isFinite(s) && s > 0 ? Math.min(s * 1000, 10_000) : DEFAULT_RETRY_MS;
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal?.reason ?? new DOMException('aborted', 'AbortError'));
    }
    if (signal?.aborted) abort();
    else signal?.addEventListener('abort', abort, { once: true });
  });
}
