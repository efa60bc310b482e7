/**
 * Live streams from the API as React hooks: the session events (GET /v1/events) and one
 * session's transcript tail. Both reconnect after a dropped connection, with a capped backoff,
 * for as long as the page shows them, and stop when it no longer does.
 */
import { useEffect, useRef, useState } from 'react';
import { ApiError, apiStream, type StreamEvent } from '../api.ts';

export type StreamStatus = 'connecting' | 'open' | 'reconnecting' | 'refused';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

interface RunOptions {
  path: () => string;
  onEvent: (e: StreamEvent) => void;
  onStatus: (s: StreamStatus) => void;
  /** True when the server ending the stream means "done" (the transcript's `end`). */
  finished?: () => boolean;
  lastEventId?: () => string | undefined;
}

async function run(opts: RunOptions, signal: AbortSignal): Promise<void> {
  let delayMs = 500;
  while (!signal.aborted) {
    try {
      await apiStream(
        opts.path(),
        (e) => {
          delayMs = 500;
          opts.onEvent(e);
        },
        signal,
        opts.lastEventId?.(),
        () => opts.onStatus('open'),
      );
      if (opts.finished?.()) return;
    } catch (err) {
      if (signal.aborted) return;
      // A refusal (signed out, no such session) will not get better by retrying.
      if (err instanceof ApiError && err.status < 500 && err.status !== 429) {
        opts.onStatus('refused');
        return;
      }
    }
    if (signal.aborted) return;
    opts.onStatus('reconnecting');
    await sleep(delayMs, signal);
    delayMs = Math.min(delayMs * 2, 10_000);
  }
}

/** Session events as they happen; `onEvent` sees each, `onReconnect` after a gap. */
export function useSessionEvents(
  onEvent: (e: StreamEvent) => void,
  onReconnect: () => void,
): StreamStatus {
  const [status, setStatus] = useState<StreamStatus>('connecting');
  const handlers = useRef({ onEvent, onReconnect });
  handlers.current = { onEvent, onReconnect };
  useEffect(() => {
    const abort = new AbortController();
    let wasDown = false;
    void run(
      {
        path: () => '/v1/events',
        onEvent: (e) => handlers.current.onEvent(e),
        onStatus: (s) => {
          if (s === 'open' && wasDown) handlers.current.onReconnect();
          wasDown = s === 'reconnecting';
          setStatus(s);
        },
      },
      abort.signal,
    );
    return () => abort.abort();
  }, []);
  return status;
}

export interface LiveUtterance {
  seq: number;
  role: 'patient' | 'agent';
  text: string;
  startedAt: string;
  endedAt: string;
  interrupted: boolean;
  confidence?: number;
}

/** One session's utterances as they are stored, and whether the call has ended. */
export function useTranscriptTail(sessionId: string | undefined): {
  utterances: LiveUtterance[];
  ended: string | undefined;
  status: StreamStatus;
} {
  const [utterances, setUtterances] = useState<LiveUtterance[]>([]);
  const [ended, setEnded] = useState<string | undefined>();
  const [status, setStatus] = useState<StreamStatus>('connecting');
  useEffect(() => {
    setUtterances([]);
    setEnded(undefined);
    setStatus('connecting');
    if (!sessionId) return;
    const abort = new AbortController();
    let last = -1;
    let done = false;
    void run(
      {
        path: () => `/v1/sessions/${encodeURIComponent(sessionId)}/transcript/stream`,
        lastEventId: () => (last >= 0 ? String(last) : undefined),
        finished: () => done,
        onStatus: setStatus,
        onEvent: (e) => {
          if (e.event === 'utterance') {
            const u = e.data as LiveUtterance;
            if (u.seq <= last) return;
            last = u.seq;
            setUtterances((list) => [...list, u]);
          } else if (e.event === 'end') {
            done = true;
            setEnded(String((e.data as { state?: string }).state ?? 'ended'));
            setStatus('open');
          }
        },
      },
      abort.signal,
    );
    return () => abort.abort();
  }, [sessionId]);
  return { utterances, ended, status };
}
