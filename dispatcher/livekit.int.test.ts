/**
 * LiveKitAgentRooms against the real livekit-server. Agents actually joining is covered end to
 * end in tests/dispatcher.test.ts, with a real worker.
 */
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { TransientError } from '../infra/errors.ts';
import { testConfig, uniqueName } from '../tests/support/env.ts';
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

describe('LiveKitAgentRooms', () => {
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

  it('lists only the dispatches for the named agent, and deletes them idempotently', async () => {
    const room = roomName();
    const agentName = uniqueName('lk-agent');
    await rooms.ensureRoom(room, { emptyTimeoutMs: 60_000, departureTimeoutMs: 5000 });
    const d = await rooms.createDispatch(room, agentName, '{"sessionId":"s-1"}');
    await rooms.createDispatch(room, `${agentName}-other`, '{}');

    expect(await rooms.listDispatches(room, agentName)).toEqual([{ id: d.id, agentName }]);
    await rooms.deleteDispatch(room, d.id);
    expect(await rooms.listDispatches(room, agentName)).toEqual([]);
    await expect(rooms.deleteDispatch(room, d.id)).resolves.toBeUndefined();
  });

  it('sees no agents in an empty or missing room, and deletes a room twice without error', async () => {
    const room = roomName();
    await rooms.ensureRoom(room, { emptyTimeoutMs: 60_000, departureTimeoutMs: 5000 });
    expect(await rooms.listAgents(room, 'nobody')).toEqual([]);
    await rooms.deleteRoom(room);
    await rooms.deleteRoom(room);
    expect(await rooms.listAgents(room, 'nobody')).toEqual([]);
    expect(await admin.listRooms([room])).toEqual([]);
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
