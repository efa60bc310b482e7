/**
 * The agent participant and the state it publishes as the attribute `lk.agent.state`
 * (@livekit/agents 1.9: initializing, listening, thinking, speaking).
 */
import { useCallback, useSyncExternalStore } from 'react';
import { RoomEvent, type RemoteParticipant, type Room } from 'livekit-client';

export const ATTRIBUTE_AGENT_STATE = 'lk.agent.state';

export type AgentState = 'connecting' | 'initializing' | 'listening' | 'thinking' | 'speaking';

const KNOWN: readonly string[] = ['initializing', 'listening', 'thinking', 'speaking'];

export function findAgent(room: Room): RemoteParticipant | undefined {
  for (const p of room.remoteParticipants.values()) if (p.isAgent) return p;
  return undefined;
}

export function agentState(room: Room): AgentState {
  const value = findAgent(room)?.attributes[ATTRIBUTE_AGENT_STATE];
  return value && KNOWN.includes(value) ? (value as AgentState) : 'connecting';
}

const EVENTS = [
  RoomEvent.ParticipantConnected,
  RoomEvent.ParticipantDisconnected,
  RoomEvent.ParticipantAttributesChanged,
] as const;

export function useAgentState(room: Room): AgentState {
  const subscribe = useCallback(
    (onChange: () => void) => {
      for (const e of EVENTS) room.on(e, onChange);
      return () => {
        for (const e of EVENTS) room.off(e, onChange);
      };
    },
    [room],
  );
  return useSyncExternalStore(subscribe, () => agentState(room));
}
