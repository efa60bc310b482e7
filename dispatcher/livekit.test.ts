import { randomUUID } from 'node:crypto';
import { VirtualClock } from '../infra/testing/virtual-clock.ts';
import { describeAgentRoomsContract } from './livekit.contract.ts';
import { FakeAgentRooms } from './testing/fakes.ts';

describeAgentRoomsContract('in-memory', {
  async open() {
    return {
      rooms: new FakeAgentRooms({ clock: new VirtualClock() }),
      roomName: () => `room-${randomUUID().slice(0, 8)}`,
    };
  },
});
