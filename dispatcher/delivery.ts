/**
 * The state one delivery carries through the dispatcher's data path, and the context every step
 * of that path reads. placement.ts, announce.ts and verdict.ts are functions over these two
 * values; dispatcher.ts builds them and owns the lifecycle around them.
 */
import type { Logger } from '../infra/logger.ts';
import type { SessionEventPublisher } from '../sessions/events.ts';
import type { SessionRecord, SessionRequest } from '../sessions/schema.ts';
import type { SessionStore } from '../sessions/store.ts';
import type { Clock } from '../infra/time.ts';
import type { PlacementLeases } from './leases.ts';
import type { AgentRooms } from './livekit.ts';
import type { Outcome } from './metrics.ts';
import type { InboundMessage } from './source.ts';

/** What the steps of one delivery need from the dispatcher: its boundaries and settings. */
export interface DispatchContext {
  readonly store: SessionStore;
  readonly leases: PlacementLeases;
  readonly rooms: AgentRooms;
  readonly events: SessionEventPublisher;
  readonly clock: Clock;
  /** Aborts when the dispatcher stops waiting for in-flight deliveries. */
  readonly shutdown: AbortSignal;
  readonly agentName: string;
  readonly livekitUrl: string;
  readonly maxDeliveryAttempts: number;
  readonly joinTimeoutMs: number;
  readonly leaseMs: number;
  readonly roomEmptyTimeoutMs: number;
  readonly roomDepartureTimeoutMs: number;
  readonly agentPollIntervalMs: number;
  readonly contendedPollIntervalMs: number;
  readonly roomPrefix: string;
}

/**
 * The lease owner of one delivery: `<instanceId>/<messageId>/<nonce>`. The message id in it
 * tells a copy of the request in another message (which may be acked as a duplicate: that
 * message's holder settles the request) from a redelivery of the very message being placed.
 */
export function deliveryOwner(instanceId: string, messageId: string, nonce: string): string {
  return `${instanceId}/${messageId}/${nonce}`;
}

/** The message id in a {@link deliveryOwner}; undefined for any other owner (the reaper). */
export function messageOfOwner(owner: string): string | undefined {
  const last = owner.lastIndexOf('/');
  const before = owner.lastIndexOf('/', last - 1);
  if (last <= 0 || before < 0) return undefined;
  const id = owner.slice(before + 1, last);
  return id === '' ? undefined : id;
}

export interface PlacementTimings {
  /** The request's Pub/Sub publish time → the agent joined the room. */
  publishToJoinedMs: number;
  /** Publish time → handed to this dispatcher (includes waiting behind the in-flight cap). */
  queuedMs: number;
  /** `createDispatch` returned → the agent joined the room. */
  dispatchToJoinedMs: number;
  /** Received by this dispatcher → `session.ready` published. */
  placementMs: number;
}

export interface Settlement {
  messageId: string;
  sessionId?: string;
  outcome: Outcome;
  action: 'ack' | 'nack';
  /** The rejection or failure code, when there is one. */
  code?: string;
  deliveryAttempt: number;
  room?: string;
  dispatchId?: string;
  timings?: PlacementTimings;
}

/** A settlement before it is tied to its message. */
export type Verdict = Omit<Settlement, 'messageId' | 'deliveryAttempt' | 'sessionId'>;

/** One delivery's progress: what it holds and created, so failure handling knows what to undo. */
export interface Attempt {
  readonly msg: InboundMessage;
  readonly request: SessionRequest;
  readonly log: Logger;
  readonly receivedAt: Date;
  readonly owner: string;
  holdsLease: boolean;
  /**
   * Our agent has joined its room: the call may be live, so no failure of this delivery may
   * close the room or fail the session any more (a redelivery finds and reuses the room).
   */
  agentJoined?: boolean;
  /**
   * The session is past placement (active, or finished): from here on nothing may be undone,
   * and no failure of this delivery may fail the session.
   */
  settled: boolean;
  /** The store's attempt count, once this delivery has counted itself. */
  attempts?: number;
  room?: string;
  dispatchId?: string;
}

/** Still to be placed: nobody has made it active or finished it. */
export const isOpen = (s: SessionRecord): boolean =>
  s.state === 'requested' || s.state === 'dispatching';

/**
 * The room for a session's n-th placement attempt. Each attempt gets a fresh room: an agent
 * whose job was still starting when a failed attempt closed its room can then never end up
 * next to the agent of a later attempt (LiveKit tokens name rooms, not room instances).
 */
export function roomFor(
  ctx: Pick<DispatchContext, 'roomPrefix'>,
  sessionId: string,
  attempt: number,
): string {
  return `${ctx.roomPrefix}${sessionId}-${attempt}`;
}
