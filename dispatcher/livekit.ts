/**
 * The LiveKit operations placement needs: a room per session, an explicit agent dispatch into it,
 * and who of that agent has joined. The real implementation wraps livekit-server-sdk.
 */
import { AgentDispatchClient, RoomServiceClient, ServerError } from 'livekit-server-sdk';
import { TransientError } from '../infra/errors.ts';

export interface DispatchRef {
  id: string;
  agentName: string;
  /** When LiveKit created the dispatch, by its own clock; undefined if it did not say. */
  createdAtMs?: number;
}

export interface AgentPresence {
  identity: string;
  /** When LiveKit saw the participant join, by its own clock; undefined if it did not say. */
  joinedAtMs: number | undefined;
}

export interface RoomTimeouts {
  /** Close the room if nobody joins within this long. LiveKit counts whole seconds. */
  emptyTimeoutMs: number;
  /** Close the room this long after the last participant left. */
  departureTimeoutMs: number;
}

export interface AgentRooms {
  /** Creates the room, or leaves an existing one as it is. */
  ensureRoom(room: string, timeouts: RoomTimeouts): Promise<void>;
  roomExists(room: string): Promise<boolean>;
  /** Explicit dispatches for `agentName` in the room. The room must exist. */
  listDispatches(room: string, agentName: string): Promise<DispatchRef[]>;
  createDispatch(room: string, agentName: string, metadata: string): Promise<DispatchRef>;
  /** Removes the dispatch; one that is already gone is not an error. The room must exist. */
  deleteDispatch(room: string, dispatchId: string): Promise<void>;
  /**
   * Participants of kind AGENT that have joined the room: those registered under `agentName`,
   * or of any name when it is omitted.
   */
  listAgents(room: string, agentName?: string): Promise<AgentPresence[]>;
  /** Closes the room and disconnects everyone in it; a missing room is not an error. */
  deleteRoom(room: string): Promise<void>;
}

// ParticipantInfo.Kind.AGENT and ParticipantInfo.State JOINED/ACTIVE in the LiveKit protocol;
// the server SDK does not re-export these enums.
const KIND_AGENT = 4;
const JOINED_STATES: ReadonlySet<number> = new Set([1, 2]);
// The attribute the agents framework stamps on its participant.
const ATTRIBUTE_AGENT_NAME = 'lk.agent.name';

export interface LiveKitAgentRoomsOptions {
  /** ws(s):// or http(s):// URL of the LiveKit server. */
  url: string;
  apiKey: string;
  apiSecret: string;
  /** @defaultValue 5000 */
  requestTimeoutMs?: number;
}

/** The server API speaks HTTP; the configured URL is usually the clients' ws(s) URL. */
export function apiUrl(url: string): string {
  return url.replace(/^ws(s?):\/\//, 'http$1://');
}

function isNotFound(err: unknown): boolean {
  return err instanceof ServerError && (err.status === 404 || err.code === 'not_found');
}

function unavailable(operation: string, err: unknown): TransientError {
  return new TransientError('livekit_unavailable', `livekit ${operation} failed`, err);
}

export class LiveKitAgentRooms implements AgentRooms {
  readonly #rooms: RoomServiceClient;
  readonly #dispatches: AgentDispatchClient;

  constructor(opts: LiveKitAgentRoomsOptions) {
    const host = apiUrl(opts.url);
    const clientOptions = { requestTimeout: Math.ceil((opts.requestTimeoutMs ?? 5000) / 1000) };
    this.#rooms = new RoomServiceClient(host, opts.apiKey, opts.apiSecret, clientOptions);
    this.#dispatches = new AgentDispatchClient(host, opts.apiKey, opts.apiSecret, clientOptions);
  }

  async ensureRoom(room: string, timeouts: RoomTimeouts): Promise<void> {
    try {
      await this.#rooms.createRoom({
        name: room,
        emptyTimeout: Math.ceil(timeouts.emptyTimeoutMs / 1000),
        departureTimeout: Math.ceil(timeouts.departureTimeoutMs / 1000),
      });
    } catch (err) {
      throw unavailable('createRoom', err);
    }
  }

  async roomExists(room: string): Promise<boolean> {
    try {
      return (await this.#rooms.listRooms([room])).length > 0;
    } catch (err) {
      throw unavailable('listRooms', err);
    }
  }

  async listDispatches(room: string, agentName: string): Promise<DispatchRef[]> {
    try {
      const all = await this.#dispatches.listDispatch(room);
      return all
        .filter((d) => d.agentName === agentName)
        .map((d) => {
          // AgentDispatchState.created_at is in nanoseconds.
          const createdAtNs = d.state?.createdAt ?? 0n;
          return {
            id: d.id,
            agentName: d.agentName,
            ...(createdAtNs > 0n ? { createdAtMs: Number(createdAtNs / 1_000_000n) } : {}),
          };
        });
    } catch (err) {
      throw unavailable('listDispatch', err);
    }
  }

  async createDispatch(room: string, agentName: string, metadata: string): Promise<DispatchRef> {
    try {
      const d = await this.#dispatches.createDispatch(room, agentName, { metadata });
      return { id: d.id, agentName: d.agentName };
    } catch (err) {
      throw unavailable('createDispatch', err);
    }
  }

  async deleteDispatch(room: string, dispatchId: string): Promise<void> {
    try {
      await this.#dispatches.deleteDispatch(dispatchId, room);
    } catch (err) {
      if (isNotFound(err)) return;
      throw unavailable('deleteDispatch', err);
    }
  }

  async listAgents(room: string, agentName?: string): Promise<AgentPresence[]> {
    try {
      const participants = await this.#rooms.listParticipants(room);
      return participants
        .filter(
          (p) =>
            p.kind === KIND_AGENT &&
            JOINED_STATES.has(p.state) &&
            (agentName === undefined || p.attributes[ATTRIBUTE_AGENT_NAME] === agentName),
        )
        .map((p) => ({
          identity: p.identity,
          joinedAtMs: p.joinedAtMs > 0n ? Number(p.joinedAtMs) : undefined,
        }));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw unavailable('listParticipants', err);
    }
  }

  async deleteRoom(room: string): Promise<void> {
    try {
      await this.#rooms.deleteRoom(room);
    } catch (err) {
      if (isNotFound(err)) return;
      throw unavailable('deleteRoom', err);
    }
  }
}
