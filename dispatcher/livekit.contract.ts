/**
 * The contract every AgentRooms must pass: FakeAgentRooms as a unit test (`livekit.test.ts`),
 * LiveKitAgentRooms against livekit-server (`livekit.int.test.ts`). Agents actually joining
 * needs a worker and is covered end to end in tests/dispatcher.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRooms } from './livekit.ts';

export interface RoomsFixture {
  rooms: AgentRooms;
  /** A room name nobody else uses; the fixture deletes what is left of it at the end. */
  roomName(): string;
}

export interface RoomsContractOptions {
  open(): Promise<RoomsFixture>;
  close?(): Promise<void>;
}

const TIMEOUTS = { emptyTimeoutMs: 60_000, departureTimeoutMs: 5000 };

export function describeAgentRoomsContract(name: string, opts: RoomsContractOptions): void {
  describe(`AgentRooms contract: ${name}`, () => {
    let f: RoomsFixture;

    beforeAll(async () => {
      f = await opts.open();
    });

    afterAll(async () => {
      await opts.close?.();
    });

    it('creates a room once and leaves an existing one alone', async () => {
      const room = f.roomName();
      expect(await f.rooms.roomExists(room)).toBe(false);
      await f.rooms.ensureRoom(room, TIMEOUTS);
      const d = await f.rooms.createDispatch(room, 'contract-agent', '{}');
      await f.rooms.ensureRoom(room, { emptyTimeoutMs: 5000, departureTimeoutMs: 5000 });
      expect(await f.rooms.roomExists(room)).toBe(true);
      expect(await f.rooms.listDispatches(room, 'contract-agent')).toEqual([
        { id: d.id, agentName: 'contract-agent', createdAtMs: expect.any(Number) },
      ]);
    });

    it('lists only the dispatches for the named agent, and deletes them idempotently', async () => {
      const room = f.roomName();
      await f.rooms.ensureRoom(room, TIMEOUTS);
      const d = await f.rooms.createDispatch(room, 'agent-a', '{"sessionId":"s-1"}');
      await f.rooms.createDispatch(room, 'agent-a-other', '{}');

      expect(await f.rooms.listDispatches(room, 'agent-a')).toEqual([
        { id: d.id, agentName: 'agent-a', createdAtMs: expect.any(Number) },
      ]);
      await f.rooms.deleteDispatch(room, d.id);
      expect(await f.rooms.listDispatches(room, 'agent-a')).toEqual([]);
      await expect(f.rooms.deleteDispatch(room, d.id)).resolves.toBeUndefined();
      expect(await f.rooms.listDispatches(room, 'agent-a-other')).toHaveLength(1);
    });

    it('sees no agents in an empty or missing room, and deletes a room twice without error', async () => {
      const room = f.roomName();
      await f.rooms.ensureRoom(room, TIMEOUTS);
      expect(await f.rooms.listAgents(room, 'nobody')).toEqual([]);
      await f.rooms.deleteRoom(room);
      await f.rooms.deleteRoom(room);
      expect(await f.rooms.roomExists(room)).toBe(false);
      expect(await f.rooms.listAgents(room, 'nobody')).toEqual([]);
    });
  });
}
