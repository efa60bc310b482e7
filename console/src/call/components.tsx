/**
 * The pieces of a call both pages show: who is talking, whether we hear you, the captions, the
 * agent's audio and the End call button. Presentational; the room and its state come from
 * use-call.ts, the media state from @livekit/components-react.
 */
import { useEffect, useId, useRef, useState, useSyncExternalStore } from 'react';
import {
  RoomAudioRenderer,
  RoomContext,
  useAudioPlayback,
  useTrackVolume,
} from '@livekit/components-react';
import type { LocalAudioTrack, Room } from 'livekit-client';
import { useAgentState, type AgentState } from './agent-state.ts';
import type { CaptionStore } from './captions.ts';
import './call.css';

export type Audience = 'patient' | 'staff';

const STATE_TEXT: Record<Audience, Record<AgentState, string>> = {
  patient: {
    connecting: 'Connecting to the assistant…',
    initializing: 'The assistant is getting ready…',
    listening: 'The assistant is listening to you',
    thinking: 'The assistant is thinking…',
    speaking: 'The assistant is speaking',
  },
  staff: {
    connecting: 'Agent: connecting',
    initializing: 'Agent: initializing',
    listening: 'Agent: listening',
    thinking: 'Agent: thinking',
    speaking: 'Agent: speaking',
  },
};

export function AgentStatus({ room, audience }: { room: Room; audience: Audience }) {
  const state = useAgentState(room);
  return (
    <p
      className={`call-status call-status--${state}`}
      role="status"
      data-testid="agent-state"
      data-state={state}
    >
      <span className="call-status__dot" aria-hidden="true" />
      {STATE_TEXT[audience][state]}
    </p>
  );
}

/** RMS-like level from the analyser (0–1) above which we say we hear the person. */
const HEARD_LEVEL = 0.04;
/** How long "we can hear you" stays after the last loud moment. */
const HEARD_HOLD_MS = 1500;

export function MicrophoneMeter({ track }: { track: LocalAudioTrack }) {
  const level = useTrackVolume(track);
  const labelId = useId();
  const [heardAt, setHeardAt] = useState(0);
  const [, tick] = useState(0);
  useEffect(() => {
    if (level > HEARD_LEVEL) setHeardAt(Date.now());
  }, [level]);
  const heard = Date.now() - heardAt < HEARD_HOLD_MS;
  useEffect(() => {
    if (!heard) return;
    const t = setTimeout(() => tick((n) => n + 1), HEARD_HOLD_MS);
    return () => clearTimeout(t);
  }, [heard, heardAt]);
  const percent = Math.min(100, Math.round(Math.sqrt(Math.min(1, level * 4)) * 100));
  return (
    <div className="call-meter" data-testid="mic-meter" data-heard={heard}>
      <p className="call-meter__label" id={labelId}>
        Your microphone
      </p>
      <div
        className="call-meter__track"
        role="meter"
        aria-labelledby={labelId}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
      >
        <div className="call-meter__bar" style={{ width: `${percent}%` }} />
      </div>
      <p className="call-meter__text">
        {heard ? 'We can hear you' : 'When you talk, this bar moves'}
      </p>
    </div>
  );
}

export function CaptionList({
  store,
  label = 'Captions',
}: {
  store: CaptionStore;
  label?: string;
}) {
  const captions = useSyncExternalStore(store.subscribe, store.snapshot);
  const end = useRef<HTMLLIElement>(null);
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'nearest' });
  }, [captions]);
  return (
    <section className="call-captions" aria-label={label}>
      <h2 className="call-captions__title">{label}</h2>
      {captions.length === 0 ? (
        <p className="call-captions__empty">What you and the assistant say will appear here.</p>
      ) : null}
      <div className="call-captions__scroll" role="log" aria-live="polite" data-testid="captions">
        <ol className="call-captions__list">
          {captions.map((c) => (
            <li
              key={c.id}
              className={`call-caption call-caption--${c.speaker}${c.final ? '' : ' call-caption--interim'}`}
              data-speaker={c.speaker}
            >
              <span className="call-caption__who">{c.speaker === 'you' ? 'You' : 'Assistant'}</span>
              <span className="call-caption__text">{c.text}</span>
            </li>
          ))}
          <li ref={end} aria-hidden="true" className="call-captions__end" />
        </ol>
      </div>
    </section>
  );
}

/** Plays the agent's voice; shows a button when the browser wants a tap before sound plays. */
function CallAudio({ room }: { room: Room }) {
  const { canPlayAudio, startAudio } = useAudioPlayback(room);
  return (
    <>
      <RoomAudioRenderer />
      {canPlayAudio ? null : (
        <button
          type="button"
          className="call-button call-button--secondary"
          onClick={() => void startAudio()}
        >
          Tap to hear the assistant
        </button>
      )}
    </>
  );
}

export function EndCallButton({ onHangUp }: { onHangUp: () => void }) {
  return (
    <button
      type="button"
      className="call-button call-button--end"
      onClick={onHangUp}
      data-testid="end-call"
    >
      End call
    </button>
  );
}

export interface CallViewProps {
  room: Room;
  microphone: LocalAudioTrack;
  captions: CaptionStore;
  audience: Audience;
  onHangUp: () => void;
}

/** The call in progress: status, meter, captions, audio and End call. */
export function CallView({ room, microphone, captions, audience, onHangUp }: CallViewProps) {
  return (
    <RoomContext.Provider value={room}>
      <div className={`call-view call-view--${audience}`} data-testid="call-view">
        <AgentStatus room={room} audience={audience} />
        <MicrophoneMeter track={microphone} />
        <CallAudio room={room} />
        <CaptionList store={captions} />
        <EndCallButton onHangUp={onHangUp} />
      </div>
    </RoomContext.Provider>
  );
}
