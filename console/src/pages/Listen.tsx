/**
 * The page a patient opens from an education link, on a phone: the lesson's title, a large
 * player, the words to read along and until when the link works. No sign-in: the signed token
 * in the address is the whole grant, and nothing about the patient is on the page or sent.
 */
import { useCallback, useEffect, useState } from 'react';
import { useParams } from 'react-router-dom';
import { formatDateTime } from '../ui/format.ts';
import '../call/call.css';
import { PatientShell } from '../ui/PatientShell.tsx';

/** What GET /v1/education/listen/:token/about returns (api/education/routes.ts). */
interface Lesson {
  title: string;
  text: string;
  durationMs: number;
  expiresAt: string;
}

type Load =
  | { phase: 'loading' }
  | { phase: 'ready'; lesson: Lesson }
  /** The link cannot play: expired, altered or withdrawn. Only the care team can help. */
  | { phase: 'gone'; detail: string }
  /** The network or the server failed: trying again may work. */
  | { phase: 'failed' };

/** "12 seconds", "about 3 minutes": how long, in the words a patient would use. */
function spokenLength(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  return `about ${m} minute${m === 1 ? '' : 's'}`;
}

const GONE_DEFAULT = 'This link is not valid or has expired. Ask your care team for a new one.';

export function ListenPage() {
  const { token = '' } = useParams();
  const [load, setLoad] = useState<Load>({ phase: 'loading' });
  const [audioFailed, setAudioFailed] = useState(false);

  const fetchLesson = useCallback(
    async (signal?: AbortSignal) => {
      setLoad({ phase: 'loading' });
      try {
        const res = await fetch(`/v1/education/listen/${encodeURIComponent(token)}/about`, {
          ...(signal ? { signal } : {}),
        });
        if (res.ok) return setLoad({ phase: 'ready', lesson: (await res.json()) as Lesson });
        if (res.status === 410 || res.status === 400 || res.status === 404) {
          const body = (await res.json().catch(() => ({}))) as { detail?: string };
          return setLoad({ phase: 'gone', detail: body.detail ?? GONE_DEFAULT });
        }
        setLoad({ phase: 'failed' });
      } catch {
        if (!signal?.aborted) setLoad({ phase: 'failed' });
      }
    },
    [token],
  );

  useEffect(() => {
    const ctl = new AbortController();
    void fetchLesson(ctl.signal);
    return () => ctl.abort();
  }, [fetchLesson]);

  useEffect(() => {
    document.title =
      load.phase === 'ready' ? `${load.lesson.title}: from your care team` : 'From your care team';
  }, [load]);

  return (
    <PatientShell>
      {load.phase === 'loading' ? (
        <p role="status">Loading your recording…</p>
      ) : load.phase === 'gone' ? (
        <>
          <h1>This recording is not available</h1>
          <p className="patient__lead" data-testid="listen-gone">
            {load.detail}
          </p>
        </>
      ) : load.phase === 'failed' ? (
        <>
          <h1>We could not load your recording</h1>
          <p className="patient__lead">Check that you are online, then try again.</p>
          <button
            type="button"
            className="call-button call-button--start"
            onClick={() => void fetchLesson()}
          >
            Try again
          </button>
        </>
      ) : (
        <>
          <p className="patient__kicker">A recording from your care team</p>
          <h1>{load.lesson.title}</h1>
          <p className="patient__lead">
            Press play to listen. It lasts {spokenLength(load.lesson.durationMs)}, and you can
            listen as many times as you like.
          </p>
          <audio
            className="patient__player"
            controls
            preload="metadata"
            src={`/v1/education/listen/${encodeURIComponent(token)}`}
            onError={() => setAudioFailed(true)}
            data-testid="listen-audio"
          >
            Your browser cannot play this recording.
          </audio>
          {audioFailed ? (
            <p role="alert" className="patient__mic-note">
              The recording would not play. It may have been withdrawn or the link may have expired:
              reload this page to check.
            </p>
          ) : null}
          <details className="patient__mic-note" open>
            <summary>Read along</summary>
            <p data-testid="listen-text">{load.lesson.text}</p>
          </details>
          <p className="patient__fine">
            This link works until {formatDateTime(load.lesson.expiresAt)}. If you have questions
            about what you heard, call your care team.
          </p>
        </>
      )}
    </PatientShell>
  );
}
