/**
 * In-memory fakes of the dispatcher's own boundaries (LiveKit rooms, the request source) for
 * unit tests. Each records what it was asked; `livekit.contract.ts` and `source.contract.ts` hold
 * them to the behaviour of the real services. The clock, fault injection and the event
 * publisher have theirs in infra/testing/ and sessions/testing/.
 */
import type { Clock } from '../../infra/time.ts';
import type { AgentPresence, AgentRooms, DispatchRef, RoomTimeouts } from '../livekit.ts';
import type { InboundMessage, RequestSource } from '../source.ts';

interface FakeRoom {
  timeouts: RoomTimeouts;
  dispatches: (DispatchRef & { metadata: string; createdAtMs: number })[];
  agents: (AgentPresence & { dispatchId: string; visibleAfterPolls: number })[];
}

export interface FakeAgentRoomsOptions {
  clock: Clock;
  /** Agent names that have a worker registered; dispatches to others are never served. */
  workers?: Iterable<string>;
  /** The agent shows up on this many-th `listAgents` call after its dispatch. @defaultValue 2 */
  joinAfterPolls?: number;
}

/**
 * A LiveKit stand-in: rooms, dispatches and agents that join after a few polls when a worker is
 * registered for their name. Deleting a dispatch leaves a joined agent in the room, as LiveKit
 * does; deleting the room removes everything.
 */
export class FakeAgentRooms implements AgentRooms {
  readonly rooms = new Map<string, FakeRoom>();
  readonly workers: Set<string>;
  /** Rooms whose agents never become visible (a job stuck before connecting). */
  readonly stuckRooms = new Set<string>();
  joinAfterPolls: number;
  /** Every dispatch ever created, deleted or not. */
  readonly created: (DispatchRef & { room: string; metadata: string })[] = [];
  readonly deletedDispatches: string[] = [];
  readonly deletedRooms: string[] = [];
  readonly #clock: Clock;
  #nextId = 1;

  constructor(opts: FakeAgentRoomsOptions) {
    this.#clock = opts.clock;
    this.workers = new Set(opts.workers ?? []);
    this.joinAfterPolls = opts.joinAfterPolls ?? 2;
  }

  #room(room: string): FakeRoom {
    const r = this.rooms.get(room);
    if (!r) throw new Error(`fake livekit: room ${room} does not exist`);
    return r;
  }

  async ensureRoom(room: string, timeouts: RoomTimeouts): Promise<void> {
    if (!this.rooms.has(room)) this.rooms.set(room, { timeouts, dispatches: [], agents: [] });
  }

  async roomExists(room: string): Promise<boolean> {
    return this.rooms.has(room);
  }

  async listDispatches(room: string, agentName: string): Promise<DispatchRef[]> {
    return this.#room(room)
      .dispatches.filter((d) => d.agentName === agentName)
      .map(({ id, agentName: name, createdAtMs }) => ({ id, agentName: name, createdAtMs }));
  }

  async createDispatch(room: string, agentName: string, metadata: string): Promise<DispatchRef> {
    const r = this.#room(room);
    const ref = { id: `AD_fake${this.#nextId++}`, agentName };
    r.dispatches.push({ ...ref, metadata, createdAtMs: this.#clock.now().getTime() });
    this.created.push({ ...ref, room, metadata });
    if (this.workers.has(agentName)) {
      r.agents.push({
        identity: `agent-${ref.id}`,
        joinedAtMs: undefined,
        dispatchId: ref.id,
        visibleAfterPolls: this.joinAfterPolls,
      });
    }
    return ref;
  }

  async deleteDispatch(room: string, dispatchId: string): Promise<void> {
    const r = this.#room(room);
    r.dispatches = r.dispatches.filter((d) => d.id !== dispatchId);
    // Agents that have not joined yet never will; joined ones stay, as in LiveKit.
    r.agents = r.agents.filter((a) => a.dispatchId !== dispatchId || a.joinedAtMs !== undefined);
    this.deletedDispatches.push(dispatchId);
  }

  async listAgents(room: string, agentName?: string): Promise<AgentPresence[]> {
    const r = this.rooms.get(room);
    if (!r || this.stuckRooms.has(room)) return [];
    const out: AgentPresence[] = [];
    for (const a of r.agents) {
      const d = this.created.find((c) => c.id === a.dispatchId);
      if (agentName !== undefined && d?.agentName !== agentName) continue;
      if (a.joinedAtMs === undefined) {
        a.visibleAfterPolls -= 1;
        if (a.visibleAfterPolls > 0) continue;
        a.joinedAtMs = this.#clock.now().getTime();
      }
      out.push({ identity: a.identity, joinedAtMs: a.joinedAtMs });
    }
    return out;
  }

  async deleteRoom(room: string): Promise<void> {
    if (this.rooms.delete(room)) this.deletedRooms.push(room);
  }

  /** Dispatches still live in the room. */
  liveDispatches(room: string): DispatchRef[] {
    return this.rooms.get(room)?.dispatches.map(({ id, agentName }) => ({ id, agentName })) ?? [];
  }
}

export interface FakeMessageOptions {
  id?: string;
  deliveryAttempt?: number;
  publishTime?: Date;
  /** Called after the message is nacked (a source redelivers it). */
  onNack?: (message: FakeMessage) => void;
}

let messageSeq = 0;

/** A delivery: remembers whether it was acked or nacked, and refuses to be settled twice. */
export class FakeMessage implements InboundMessage {
  readonly id: string;
  readonly data: Buffer;
  readonly deliveryAttempt: number;
  readonly publishTime: Date;
  settled: 'ack' | 'nack' | undefined;
  readonly #onNack: ((message: FakeMessage) => void) | undefined;

  constructor(body: unknown, opts: FakeMessageOptions = {}) {
    this.#onNack = opts.onNack;
    this.id = opts.id ?? `msg-${++messageSeq}`;
    this.data = Buffer.isBuffer(body)
      ? body
      : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    this.deliveryAttempt = opts.deliveryAttempt ?? 1;
    this.publishTime = opts.publishTime ?? new Date(Date.parse('2026-03-02T09:00:00.000Z'));
  }

  /** The same message delivered again. */
  redeliver(deliveryAttempt = this.deliveryAttempt + 1): FakeMessage {
    return new FakeMessage(this.data, {
      id: this.id,
      deliveryAttempt,
      publishTime: this.publishTime,
      ...(this.#onNack ? { onNack: this.#onNack } : {}),
    });
  }

  ack(): void {
    this.#settle('ack');
  }

  nack(): void {
    this.#settle('nack');
    this.#onNack?.(this);
  }

  #settle(how: 'ack' | 'nack'): void {
    if (this.settled) throw new Error(`message ${this.id} settled twice (${this.settled}, ${how})`);
    this.settled = how;
  }
}

/**
 * A source the test pushes messages into: `deliver` hands over a prepared message as is,
 * `publish` behaves like the subscription (a nacked message comes back, one attempt later).
 */
export class FakeRequestSource implements RequestSource {
  #onMessage: ((m: InboundMessage) => void) | undefined;
  #onError: ((err: Error) => void) | undefined;
  #open = false;
  closeCalls = 0;

  get isOpen(): boolean {
    return this.#open;
  }

  start(onMessage: (message: InboundMessage) => void, onError?: (err: Error) => void): void {
    this.#onMessage = onMessage;
    this.#onError = onError;
    this.#open = true;
  }

  /** Reports a stream error, as the client does for one it retries or gives up on. */
  emitError(err: Error): void {
    this.#onError?.(err);
  }

  deliver(message: InboundMessage): void {
    if (!this.#onMessage) throw new Error('source not started');
    this.#onMessage(message);
  }

  /** Publishes a body as the broker would deliver it; nothing arrives once closed. */
  publish(body: Buffer): void {
    const redeliver = (m: FakeMessage): void => {
      setImmediate(() => {
        if (this.#open) this.deliver(m.redeliver());
      });
    };
    const message = new FakeMessage(body, { publishTime: new Date(), onNack: redeliver });
    setImmediate(() => {
      if (this.#open) this.deliver(message);
    });
  }

  async close(): Promise<boolean> {
    this.closeCalls += 1;
    this.#open = false;
    return true;
  }
}
