/**
 * LiveKitAgentRooms against the real livekit-server: the AgentRooms contract, and what only the
 * real one has (LiveKit's whole-second timeouts, an unreachable server). Agents actually joining
 * is covered end to end in tests/dispatcher.test.ts, with a real worker.
 */
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { TransientError } from '../infra/errors.ts';
import { testConfig, uniqueName } from '../tests/support/env.ts';
import { describeAgentRoomsContract } from './livekit.contract.ts';
import { apiUrl, LiveKitAgentRooms } from './livekit.ts';

const cfg = testConfig().livekit;
const rooms = new LiveKitAgentRooms(cfg);
const admin = new RoomServiceClient(apiUrl(cfg.url), cfg.apiKey, cfg.apiSecret);
const made: string[] = [];

function roomName(): string {
  const name = uniqueName('lk-rooms');
  made.push(name);
  return name;
}

describeAgentRoomsContract('livekit-server', {
  async open() {
    return { rooms, roomName };
  },
});

describe('LiveKitAgentRooms beyond the contract', () => {
  afterAll(async () => {
    await Promise.all(made.map((r) => admin.deleteRoom(r).catch(() => undefined)));
  });

  it('creates a room with the given timeouts, in whole seconds, and leaves an existing one alone', async () => {
    const room = roomName();
    await rooms.ensureRoom(room, { emptyTimeoutMs: 90_500, departureTimeoutMs: 12_000 });
    await rooms.ensureRoom(room, { emptyTimeoutMs: 5000, departureTimeoutMs: 5000 });
    expect(await rooms.roomExists(room)).toBe(true);
    expect(await rooms.roomExists(uniqueName('lk-never'))).toBe(false);
    const [info] = await admin.listRooms([room]);
    expect(info?.emptyTimeout).toBe(91);
    expect(info?.departureTimeout).toBe(12);
  });

  it('reports an unreachable server as a retryable livekit_unavailable error', async () => {
    const down = new LiveKitAgentRooms({ ...cfg, url: 'ws://127.0.0.1:1', requestTimeoutMs: 2000 });
    const err = await down
      .ensureRoom('x-room', { emptyTimeoutMs: 1000, departureTimeoutMs: 1000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).code).toBe('livekit_unavailable');
  });
});
