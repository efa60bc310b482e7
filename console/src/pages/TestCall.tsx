/**
 * Patient Test: a clinician picks a profile and version, presses one button, and talks to the
 * agent as a patient would. The page creates the session and its join link through the API (as
 * staff), opens the link and joins in-page with the same call pieces as the patient page, and
 * shows the captured answers as they are stored. The test patient is a throwaway reference;
 * nothing identifying is shown.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { Link } from 'react-router-dom';
import { api, ApiError, staffToken } from '../api.ts';
import { CallView } from '../call/components.tsx';
import { openJoinLink } from '../call/join.ts';
import { EndedMessage, FailureMessage, SetupProgress } from '../call/messages.tsx';
import { formatAnswer, useSessionAnswers } from '../call/session-answers.ts';
import { useCall } from '../call/use-call.ts';
import './TestCall.css';

interface ProfileSummary {
  id: string;
  latest: number;
  versions: { version: number; note?: string; publishedAt: string }[];
}

interface ProtocolStep {
  id: string;
  ask: string;
  capture: { field: string; type: string; unit?: string };
}

interface PublishedProfile {
  id: string;
  version: number;
  profile: { firstMessage?: string; protocol?: ProtocolStep[] };
}

const problemText = (err: unknown): string =>
  err instanceof ApiError ? err.message : 'The API could not be reached.';

/** Creates a session for a test patient, its join link, and opens the link. */
async function openTestCall(
  choice: { profileId: string; version: number | undefined },
  signal: AbortSignal,
  onWaiting: () => void,
  onSession: (sessionId: string) => void,
) {
  const created = await api<{ sessionId: string }>('/v1/sessions', {
    method: 'POST',
    signal,
    json: {
      profile: {
        id: choice.profileId,
        ...(choice.version !== undefined ? { version: choice.version } : {}),
      },
      // A throwaway reference: a test call is about no one.
      patient: { ref: `console-test-${crypto.randomUUID().slice(0, 8)}` },
    },
  });
  onSession(created.sessionId);
  const link = await api<{ code: string }>(
    `/v1/sessions/${encodeURIComponent(created.sessionId)}/join-link`,
    { method: 'POST', signal },
  );
  return openJoinLink(link.code, { signal, onWaiting });
}

export function TestCallPage() {
  const signedIn = staffToken() !== null;
  const [profiles, setProfiles] = useState<ProfileSummary[] | undefined>(undefined);
  const [profileId, setProfileId] = useState('');
  const [version, setVersion] = useState<number | undefined>(undefined);
  const [published, setPublished] = useState<PublishedProfile | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [sessionId, setSessionId] = useState<string | undefined>(undefined);
  const choice = useRef({ profileId, version });
  choice.current = { profileId, version };

  useEffect(() => {
    document.title = 'Patient test · VoiceCare';
    if (!signedIn) return;
    api<{ items: ProfileSummary[] }>('/v1/profiles')
      .then(({ items }) => {
        setProfiles(items);
        const first = items[0];
        if (first) {
          setProfileId(first.id);
          setVersion(first.latest);
        }
      })
      .catch((err: unknown) => setProblem(problemText(err)));
  }, [signedIn]);

  useEffect(() => {
    setPublished(undefined);
    if (!profileId || version === undefined) return;
    let stale = false;
    api<PublishedProfile>(`/v1/profiles/${encodeURIComponent(profileId)}/versions/${version}`)
      .then((p) => {
        if (!stale) setPublished(p);
      })
      .catch((err: unknown) => {
        if (!stale) setProblem(problemText(err));
      });
    return () => {
      stale = true;
    };
  }, [profileId, version]);

  const grant = useCallback(async (signal: AbortSignal, onWaiting: () => void) => {
    try {
      return await openTestCall(choice.current, signal, onWaiting, setSessionId);
    } catch (err) {
      if (err instanceof ApiError) setProblem(problemText(err));
      throw err;
    }
  }, []);
  const { state, start, hangUp, reset } = useCall({ grant });
  const session = useSessionAnswers(sessionId);

  const begin = () => {
    setProblem(undefined);
    setSessionId(undefined);
    reset();
    start().catch((err: unknown) => setProblem(problemText(err)));
  };
  const busy = state.phase !== 'idle' && state.phase !== 'ended' && state.phase !== 'failed';
  const current = profiles?.find((p) => p.id === profileId);

  if (!signedIn) {
    return (
      <section className="testcall testcall--narrow">
        <h1>Patient test</h1>
        <p>
          Sign in to run a test call. <Link to="/login">Sign in</Link>
        </p>
      </section>
    );
  }

  return (
    <section className="testcall">
      <h1>Patient test</h1>
      <p className="testcall__lead">
        Talk to the agent through your microphone, as a patient would. The call is a real session
        with a test patient; its transcript and answers appear in the conversation logs.
      </p>
      {problem ? (
        <p className="testcall__problem" role="alert">
          {problem}
        </p>
      ) : null}
      <div className="testcall__grid">
        <section className="testcall__panel" aria-labelledby="testcall-call">
          <h2 id="testcall-call">Call</h2>
          <div className="testcall__pickers">
            <label>
              Profile
              <select
                value={profileId}
                disabled={busy || !profiles}
                onChange={(e) => {
                  const p = profiles?.find((x) => x.id === e.target.value);
                  setProfileId(e.target.value);
                  setVersion(p?.latest);
                }}
                data-testid="profile-select"
              >
                {(profiles ?? []).map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.id}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Version
              <select
                value={version ?? ''}
                disabled={busy || !current}
                onChange={(e) => setVersion(Number(e.target.value))}
                data-testid="version-select"
              >
                {(current?.versions ?? [])
                  .slice()
                  .sort((a, b) => b.version - a.version)
                  .map((v) => (
                    <option key={v.version} value={v.version}>
                      v{v.version}
                      {v.version === current?.latest ? ' (latest)' : ''}
                      {v.note ? ` · ${v.note}` : ''}
                    </option>
                  ))}
              </select>
            </label>
          </div>
          {state.phase === 'idle' || state.phase === 'ended' || state.phase === 'failed' ? (
            <button
              type="button"
              className="call-button call-button--start testcall__start"
              disabled={!published}
              onClick={begin}
              data-testid="start-test-call"
            >
              {state.phase === 'idle' ? 'Start test call' : 'Start a new test call'}
            </button>
          ) : null}
          {state.phase === 'in_call' ? (
            <CallView
              room={state.room}
              microphone={state.microphone}
              captions={state.captions}
              audience="staff"
              onHangUp={() => void hangUp()}
            />
          ) : state.phase === 'ended' ? (
            <EndedMessage ending={state.ending} />
          ) : state.phase === 'failed' ? (
            <FailureMessage failure={state.failure} onRetry={() => void start()} />
          ) : state.phase !== 'idle' ? (
            <SetupProgress state={state} />
          ) : null}
        </section>

        <section className="testcall__panel" aria-labelledby="testcall-answers">
          <h2 id="testcall-answers">Captured answers</h2>
          {session ? (
            <p className="testcall__session" data-testid="session-state">
              Session <span className="testcall__mono">{session.sessionId}</span>: {session.state}
              {session.endReason ? ` (${session.endReason})` : ''} ·{' '}
              <Link to={`/logs/${encodeURIComponent(session.sessionId)}`}>open its log</Link>
            </p>
          ) : (
            <p className="testcall__session">Answers fill in here as the patient gives them.</p>
          )}
          <table className="testcall__answers" data-testid="answers">
            <thead>
              <tr>
                <th scope="col">Question</th>
                <th scope="col">Answer</th>
              </tr>
            </thead>
            <tbody>
              {(published?.profile.protocol ?? []).map((step) => {
                const a = session?.answers?.[step.capture.field];
                return (
                  <tr key={step.id} data-field={step.capture.field} data-answered={a !== undefined}>
                    <th scope="row">
                      <span className="testcall__field">{step.capture.field}</span>
                      <span className="testcall__ask">{step.ask}</span>
                    </th>
                    <td>
                      {a ? (
                        <>
                          <span className="testcall__value">
                            {formatAnswer(a.value, step.capture.unit)}
                          </span>
                          {a.needsReview ? (
                            <span className="testcall__badge testcall__badge--review">
                              needs review
                              {a.reviewReason ? `: ${a.reviewReason.replace(/_/g, ' ')}` : ''}
                            </span>
                          ) : null}
                          {a.confirmed ? <span className="testcall__badge">confirmed</span> : null}
                          {typeof a.confidence === 'number' ? (
                            <span className="testcall__confidence">
                              confidence {Math.round(a.confidence * 100)}%
                            </span>
                          ) : null}
                        </>
                      ) : (
                        <span className="testcall__pending">not yet</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
      </div>
    </section>
  );
}
