/** The words shown while a call is being set up, when it ends and when it fails. */
import { ENDING_TEXT, FAILURE_TEXT, type CallEnding, type CallFailure } from './failures.ts';
import type { CallState } from './use-call.ts';

const SETUP_TEXT: Partial<Record<CallState['phase'], string>> = {
  microphone: 'Your browser is asking to use the microphone. Please choose Allow.',
  opening: 'Opening your call…',
  connecting: 'Connecting…',
};

export function SetupProgress({ state }: { state: CallState }) {
  const text =
    state.phase === 'opening' && state.waiting
      ? 'Your call is being set up. This can take a minute.'
      : SETUP_TEXT[state.phase];
  return (
    <p className="call-progress" role="status" data-testid="call-progress">
      <span className="call-progress__spinner" aria-hidden="true" />
      {text}
    </p>
  );
}

export function FailureMessage({
  failure,
  onRetry,
}: {
  failure: CallFailure;
  onRetry: () => void;
}) {
  const text = FAILURE_TEXT[failure.kind];
  return (
    <div
      className="call-message call-message--problem"
      role="alert"
      data-testid="call-failure"
      data-kind={failure.kind}
    >
      <h2>{text.title}</h2>
      <p>{text.help}</p>
      {text.retry ? (
        <button
          type="button"
          className="call-button call-button--start call-message__retry"
          onClick={onRetry}
        >
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function EndedMessage({ ending }: { ending: CallEnding }) {
  const text = ENDING_TEXT[ending];
  return (
    <div className="call-message" role="status" data-testid="call-ended" data-ending={ending}>
      <h2>{text.title}</h2>
      <p>{text.help}</p>
    </div>
  );
}
