/**
 * The answers a session has captured so far, for the Patient Test page. The agent stores each
 * answer on the session document as it is given (agent/session.ts `saveAnswers`); the API has no
 * live answer stream, so the page reads the document once a second while the call runs. One
 * indexed read per second per open test call, for staff only.
 */
import { useEffect, useState } from 'react';
import { api } from '../api.ts';

export interface CapturedAnswerView {
  value: unknown;
  confidence?: number;
  confirmed?: boolean;
  needsReview?: boolean;
  reviewReason?: string;
}

export interface SessionView {
  sessionId: string;
  state: string;
  answers?: Record<string, CapturedAnswerView>;
  endReason?: string;
}

const TERMINAL = new Set(['completed', 'failed', 'interrupted']);

export function useSessionAnswers(sessionId: string | undefined, intervalMs = 1000) {
  const [session, setSession] = useState<SessionView | undefined>(undefined);
  useEffect(() => {
    setSession(undefined);
    if (!sessionId) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      try {
        const s = await api<SessionView>(`/v1/sessions/${encodeURIComponent(sessionId)}`, {
          signal: abort.signal,
        });
        if (abort.signal.aborted) return;
        setSession(s);
        if (TERMINAL.has(s.state)) return;
      } catch {
        if (abort.signal.aborted) return;
        // A missed read is shown by the next one.
      }
      timer = setTimeout(() => void read(), intervalMs);
    };
    void read();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [sessionId, intervalMs]);
  return session;
}

export function formatAnswer(value: unknown, unit?: string): string {
  if (value === true) return 'Yes';
  if (value === false) return 'No';
  if (typeof value === 'number') return unit ? `${value} ${unit}` : String(value);
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v) => formatAnswer(v)).join(', ');
  return JSON.stringify(value);
}
