/**
 * The patient's page, opened from the join link on a phone: one Start button, then the call.
 * The link is single-use, so nothing is sent until Start is pressed, and not before the
 * microphone is ours (see call/use-call.ts).
 */
import { useCallback, useEffect } from 'react';
import { useParams } from 'react-router-dom';
import { CallView } from '../call/components.tsx';
import { openJoinLink } from '../call/join.ts';
import { EndedMessage, FailureMessage, SetupProgress } from '../call/messages.tsx';
import { useCall } from '../call/use-call.ts';
import { PatientShell } from '../ui/PatientShell.tsx';

export function PatientPage() {
  const { code = '' } = useParams();
  const grant = useCallback(
    (signal: AbortSignal, onWaiting: () => void) => openJoinLink(code, { signal, onWaiting }),
    [code],
  );
  const { state, start, hangUp } = useCall({ grant });
  useEffect(() => {
    document.title = 'Your call with your care team';
  }, []);
  // The link works once and leaving ends the call: ask before a reload or a closed tab does.
  const inCall = state.phase === 'in_call';
  useEffect(() => {
    if (!inCall) return;
    const ask = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener('beforeunload', ask);
    return () => window.removeEventListener('beforeunload', ask);
  }, [inCall]);

  return (
    <PatientShell>
      {state.phase === 'idle' ? (
        <>
          <h1>Talk with your care team’s assistant</h1>
          <p className="patient__lead">
            The assistant will ask you a few short questions before your visit. Just answer out
            loud, in your own words.
          </p>
          <div className="patient__mic-note">
            <h2>We need your microphone</h2>
            <p>
              When you press Start, your phone will ask if this page may use the microphone. Please
              choose <strong>Allow</strong>, so the assistant can hear you.
            </p>
          </div>
          <button
            type="button"
            className="call-button call-button--start"
            onClick={() => void start()}
            data-testid="start-call"
          >
            Start
          </button>
        </>
      ) : state.phase === 'in_call' ? (
        <>
          <h1 className="patient__in-call-title">You are on a call</h1>
          <CallView
            room={state.room}
            microphone={state.microphone}
            captions={state.captions}
            audience="patient"
            onHangUp={() => void hangUp()}
          />
        </>
      ) : state.phase === 'ended' ? (
        <>
          <h1>Call ended</h1>
          <EndedMessage ending={state.ending} />
        </>
      ) : state.phase === 'failed' ? (
        <>
          <h1>Your call</h1>
          <FailureMessage failure={state.failure} onRetry={() => void start()} />
        </>
      ) : (
        <>
          <h1>Starting your call</h1>
          <SetupProgress state={state} />
          <button
            type="button"
            className="call-button call-button--secondary"
            onClick={() => void hangUp()}
          >
            Cancel
          </button>
        </>
      )}
    </PatientShell>
  );
}
