/**
 * One call, as a small state machine the pages render one view per state of:
 *
 *   idle → microphone → opening (the link; the API may say "being set up" for a while)
 *        → connecting (LiveKit) → in_call → ended | failed
 *
 * The microphone comes first, so a refusal never spends the single-use link. The grant (URL and
 * token) is kept while it is valid, so "Try again" after a dropped connection reconnects with it
 * instead of opening the link a second time, which the API would refuse.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import {
  DisconnectReason,
  Room,
  RoomEvent,
  Track,
  type LocalAudioTrack,
  type RemoteParticipant,
} from 'livekit-client';
import { findAgent } from './agent-state.ts';
import { CaptionStore } from './captions.ts';
import { CallFailure, type CallEnding } from './failures.ts';
import type { JoinGrant } from './join.ts';
import { acquireMicrophone } from './microphone.ts';

export type CallState =
  | { phase: 'idle' }
  | { phase: 'microphone' }
  | { phase: 'opening'; waiting: boolean }
  | { phase: 'connecting' }
  | { phase: 'in_call'; room: Room; microphone: LocalAudioTrack; captions: CaptionStore }
  | { phase: 'ended'; ending: CallEnding; captions: CaptionStore | undefined }
  | { phase: 'failed'; failure: CallFailure; captions: CaptionStore | undefined };

interface Call {
  abort: AbortController;
  room?: Room;
  /** The person pressed End call. */
  hangingUp: boolean;
  /** We are closing the room after a failure we already reported. */
  closing: boolean;
}

export interface UseCallOptions {
  /** Opens the link (or creates the session first). `onWaiting` while the call is set up. */
  grant: (signal: AbortSignal, onWaiting: () => void) => Promise<JoinGrant>;
  /** How long to wait for the agent once in the room. @defaultValue 30000 */
  agentJoinTimeoutMs?: number;
}

/** A grant is not reused this close to its expiry. */
const GRANT_MARGIN_MS = 30_000;
/**
 * When the agent leaves, how long to wait for the room to close before taking it for the end of
 * the conversation: a clinic's cancel deletes the room, and its disconnect arrives just after.
 */
const AGENT_LEFT_GRACE_MS = 1500;

export function useCall(opts: UseCallOptions) {
  const [state, setState] = useState<CallState>({ phase: 'idle' });
  const grantRef = useRef<JoinGrant | undefined>(undefined);
  const callRef = useRef<Call | undefined>(undefined);
  const optsRef = useRef(opts);
  optsRef.current = opts;

  const start = useCallback(async () => {
    callRef.current?.abort.abort();
    const call: Call = { abort: new AbortController(), hangingUp: false, closing: false };
    callRef.current = call;
    const { signal } = call.abort;
    const live = () => callRef.current === call && !signal.aborted;
    let captions: CaptionStore | undefined;
    let microphone: LocalAudioTrack | undefined;
    const fail = (err: unknown) => {
      microphone?.stop();
      if (!live()) return;
      const failure = err instanceof CallFailure ? err : new CallFailure('network', { cause: err });
      setState({ phase: 'failed', failure, captions });
    };

    try {
      setState({ phase: 'microphone' });
      microphone = await acquireMicrophone();
      if (!live()) return microphone.stop();

      setState({ phase: 'opening', waiting: false });
      let grant = grantRef.current;
      if (!grant || Date.parse(grant.expiresAt) - Date.now() < GRANT_MARGIN_MS) {
        grant = await optsRef.current.grant(signal, () => {
          if (live()) setState({ phase: 'opening', waiting: true });
        });
        grantRef.current = grant;
      }
      if (!live()) return microphone.stop();

      setState({ phase: 'connecting' });
      const room = new Room({ adaptiveStream: false, dynacast: false });
      call.room = room;
      captions = new CaptionStore();
      const detachCaptions = captions.attach(room);
      const ended = (ending: CallEnding) => {
        detachCaptions();
        microphone?.stop();
        if (live()) setState({ phase: 'ended', ending, captions });
      };
      let agentLeftTimer: ReturnType<typeof setTimeout> | undefined;
      room.on(RoomEvent.Disconnected, (reason?: DisconnectReason) => {
        clearTimeout(agentLeftTimer);
        if (call.closing) return;
        if (call.hangingUp) return ended('you_hung_up');
        if (reason === DisconnectReason.ROOM_DELETED) return ended('clinic_ended');
        if (agentLeftTimer !== undefined) return ended('assistant_finished');
        detachCaptions();
        fail(new CallFailure('connection_lost'));
      });
      room.on(RoomEvent.ParticipantDisconnected, (p: RemoteParticipant) => {
        if (!p.isAgent) return;
        agentLeftTimer = setTimeout(() => {
          ended('assistant_finished');
          void room.disconnect();
        }, AGENT_LEFT_GRACE_MS);
      });

      try {
        await room.connect(grant.livekitUrl, grant.token, { autoSubscribe: true });
      } catch (err) {
        detachCaptions();
        throw new CallFailure('network', { cause: err });
      }
      if (!live()) {
        await room.disconnect();
        return;
      }
      // The call view (and its audio) from now on: the agent starts speaking as soon as we
      // subscribe to it, which the connection has just done.
      setState({ phase: 'in_call', room, microphone, captions });
      await room.localParticipant.publishTrack(microphone, { source: Track.Source.Microphone });
      // The click that started the call allows audio; this covers browsers that want it asked.
      await room.startAudio().catch(() => undefined);
      await waitForAgent(room, optsRef.current.agentJoinTimeoutMs ?? 30_000, signal);
    } catch (err) {
      call.closing = true;
      if (call.room) await call.room.disconnect().catch(() => undefined);
      fail(err);
    }
  }, []);

  const hangUp = useCallback(async () => {
    const call = callRef.current;
    if (!call) return;
    call.hangingUp = true;
    if (call.room) await call.room.disconnect();
    else {
      call.abort.abort();
      setState({ phase: 'ended', ending: 'you_hung_up', captions: undefined });
    }
  }, []);

  // Leaving the page ends the call.
  useEffect(
    () => () => {
      const call = callRef.current;
      call?.abort.abort();
      void call?.room?.disconnect();
    },
    [],
  );

  /** Back to idle with nothing kept, for a new call (the Patient Test page's next session). */
  const reset = useCallback(() => {
    callRef.current?.abort.abort();
    void callRef.current?.room?.disconnect();
    callRef.current = undefined;
    grantRef.current = undefined;
    setState({ phase: 'idle' });
  }, []);

  return { state, start, hangUp, reset };
}

function waitForAgent(room: Room, timeoutMs: number, signal: AbortSignal): Promise<void> {
  if (findAgent(room)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new CallFailure('agent_absent')), timeoutMs);
    const onJoin = () => {
      if (findAgent(room)) finish();
    };
    const onAbort = () => finish(new DOMException('aborted', 'AbortError'));
    function finish(err?: unknown) {
      clearTimeout(timer);
      room.off(RoomEvent.ParticipantConnected, onJoin);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    }
    room.on(RoomEvent.ParticipantConnected, onJoin);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
