/**
 * Placement: from a claimed session to an agent in its room. Take the placement lease (waiting
 * behind another delivery that holds it), pick the attempt's room, create it and dispatch the
 * agent (or reuse the dispatch a crashed predecessor left), wait until the agent has joined,
 * record `active` and announce `session.ready`.
 *
 * The lease is what makes concurrent duplicates produce one dispatch: it is renewed every third
 * of its length while placing, a failed renewal aborts the placement with LeaseLostError, and a
 * renewal right before `createDispatch` fences off a delivery whose lease lapsed unnoticed.
 */
import { DeadlineExpiredError, LeaseLostError, TransientError } from '../infra/errors.ts';
import { traceCarrier } from '../infra/tracing.ts';
import { jobMetadata } from '../sessions/intake.ts';
import type { SessionRecord } from '../sessions/schema.ts';
import { announce, settleDuplicate } from './announce.ts';
import {
  isOpen,
  messageOfOwner,
  roomFor,
  type Attempt,
  type DispatchContext,
  type Verdict,
} from './delivery.ts';
import type { DispatchRef } from './livekit.ts';
import { dispatcherTracer } from './tracing.ts';

export type LeaseOutcome =
  | { kind: 'acquired' }
  | { kind: 'settled'; session: SessionRecord }
  | { kind: 'contended' }
  | { kind: 'placed_elsewhere' };

/**
 * Takes the placement lease. A copy of the request in another message, while that message's
 * delivery holds the lease, is a duplicate: it is settled at once rather than holding one of
 * the few in-flight slots while it waits (the holder's own message is settled by the holder,
 * or redelivered if the holder dies, so nothing rests on the copy). Otherwise, while someone
 * holds it (a redelivery of the message being placed, the reaper), waits up to one lease length
 * for that holder to finish, then reports the session it settled, or gives up.
 */
export async function acquireLease(ctx: DispatchContext, attempt: Attempt): Promise<LeaseOutcome> {
  const id = attempt.request.sessionId;
  const waitUntil = ctx.clock.now().getTime() + ctx.leaseMs + ctx.contendedPollIntervalMs;
  for (;;) {
    if (await ctx.leases.acquire(id, attempt.owner, ctx.clock.now(), ctx.leaseMs)) {
      attempt.holdsLease = true;
      return { kind: 'acquired' };
    }
    const session = await ctx.store.get(id);
    if (session && !isOpen(session)) return { kind: 'settled', session };
    const holder = await ctx.leases.holder(id, ctx.clock.now());
    const holderMessage = holder === null ? undefined : messageOfOwner(holder);
    if (holderMessage !== undefined && holderMessage !== attempt.msg.id) {
      return { kind: 'placed_elsewhere' };
    }
    if (ctx.clock.now().getTime() >= waitUntil) return { kind: 'contended' };
    attempt.log.debug('another delivery is placing this session; waiting');
    await ctx.clock.sleep(ctx.contendedPollIntervalMs, ctx.shutdown);
  }
}

/** Places a session whose lease this attempt holds. Throws what went wrong; verdict.ts judges. */
export async function place(ctx: DispatchContext, attempt: Attempt): Promise<Verdict> {
  const { request, log } = attempt;
  const id = request.sessionId;
  const lost = new AbortController();
  const signal = AbortSignal.any([ctx.shutdown, lost.signal]);
  const heartbeat = startHeartbeat(ctx, attempt, lost);
  try {
    const now = ctx.clock.now();
    if (request.deadline !== undefined && Date.parse(request.deadline) <= now.getTime()) {
      throw new DeadlineExpiredError('the request deadline had passed before placement');
    }
    const current = await ctx.store.get(id);
    if (current && !isOpen(current)) return settleDuplicate(ctx, attempt, current);
    attempt.attempts = await ctx.store.recordAttempt(id, now);

    // A delivery that crashed or lost its lease leaves its room and dispatch behind (ones
    // that failed cleaned up): pick its dispatch up rather than dispatching a second agent.
    const left = current?.room ? await leftBehind(ctx, attempt, current.room) : undefined;
    const room = left?.room ?? roomFor(ctx, id, attempt.attempts);
    // Recorded before anything exists in LiveKit, so whoever comes next can find it.
    if (!(await ctx.store.transition(id, 'dispatching', now, { room }))) {
      const session = await ctx.store.get(id);
      if (session && !isOpen(session)) return settleDuplicate(ctx, attempt, session);
      throw new TransientError('session_unavailable', 'the session could not enter dispatching');
    }
    attempt.room = room;
    let dispatch = left?.dispatch;
    if (dispatch) {
      log.info({ room, dispatchId: dispatch.id }, 'reusing the dispatch an earlier attempt left');
    } else {
      await dispatcherTracer.span('dispatcher.room', () =>
        ctx.rooms.ensureRoom(room, {
          emptyTimeoutMs: ctx.roomEmptyTimeoutMs,
          departureTimeoutMs: ctx.roomDepartureTimeoutMs,
        }),
      );
      signal.throwIfAborted();
      // Fence: only a delivery that still holds the lease may dispatch.
      if (!(await ctx.leases.renew(id, attempt.owner, ctx.clock.now(), ctx.leaseMs))) {
        throw new LeaseLostError();
      }
      // The job continues the trace of the dispatch span (the metadata is built inside it).
      dispatch = await dispatcherTracer.span('dispatcher.dispatch', () =>
        ctx.rooms.createDispatch(room, ctx.agentName, jobMetadata(request, traceCarrier())),
      );
    }
    attempt.dispatchId = dispatch.id;
    // A dispatch picked up from an earlier attempt keeps its own join deadline.
    const dispatchedAt =
      left?.dispatch.createdAtMs !== undefined
        ? new Date(Math.min(left.dispatch.createdAtMs, ctx.clock.now().getTime()))
        : ctx.clock.now();

    const joinedAtMs = await dispatcherTracer.span('dispatcher.wait_for_agent', () =>
      waitForAgent(ctx, attempt, room, dispatchedAt, signal),
    );
    attempt.agentJoined = true;
    const dispatchToJoinedMs = Math.max(0, joinedAtMs - dispatchedAt.getTime());
    const active = await ctx.store.transition(id, 'active', ctx.clock.now(), {
      room,
      dispatch: { dispatchId: dispatch.id, dispatchedAt, agentJoinedMs: dispatchToJoinedMs },
    });
    if (!active) {
      // The agent marks the session active itself as it starts; on a slow machine that can land
      // before we see it join. Active in our very room is our placement all the same (only the
      // dispatch details are missing from the record); anything else moved on without us.
      const current = await ctx.store.get(id);
      if (current?.state !== 'active' || current.room !== room) {
        return movedOn(ctx, attempt, current);
      }
    }
    attempt.settled = true;

    await announce(ctx, {
      type: 'session.ready',
      sessionId: id,
      at: ctx.clock.now().toISOString(),
      room,
      livekitUrl: ctx.livekitUrl,
    });
    await closeEarlierRooms(ctx, attempt, room);
    const publishedAtMs = attempt.msg.publishTime.getTime();
    return {
      outcome: 'placed',
      action: 'ack',
      room,
      dispatchId: dispatch.id,
      timings: {
        publishToJoinedMs: Math.max(0, joinedAtMs - publishedAtMs),
        queuedMs: Math.max(0, attempt.receivedAt.getTime() - publishedAtMs),
        dispatchToJoinedMs,
        placementMs: ctx.clock.now().getTime() - attempt.receivedAt.getTime(),
      },
    };
  } catch (err) {
    // A lost lease surfaces as whatever the aborted wait threw; report it as what it is.
    if (lost.signal.aborted && !(err instanceof LeaseLostError)) throw lost.signal.reason;
    throw err;
  } finally {
    heartbeat.stop();
  }
}

/** Removes what this attempt created in LiveKit. The room is ours: nobody else is in it yet. */
export async function cleanup(ctx: DispatchContext, attempt: Attempt): Promise<void> {
  const { room, dispatchId, log } = attempt;
  if (!room) return;
  if (dispatchId) {
    await ctx.rooms
      .deleteDispatch(room, dispatchId)
      .catch((err: unknown) =>
        log.warn({ err, room, dispatchId }, 'could not delete the dispatch'),
      );
  }
  // Deleting the dispatch does not remove an agent that already joined; closing the room does.
  await ctx.rooms
    .deleteRoom(room)
    .catch((err: unknown) => log.warn({ err, room }, 'could not delete the room'));
}

/** A room an earlier attempt recorded, if it still holds a dispatch for our agent. */
async function leftBehind(
  ctx: DispatchContext,
  attempt: Attempt,
  room: string,
): Promise<{ room: string; dispatch: DispatchRef } | undefined> {
  if (!(await ctx.rooms.roomExists(room))) return undefined;
  const [dispatch, ...extra] = await ctx.rooms.listDispatches(room, ctx.agentName);
  if (!dispatch) {
    attempt.log.info({ room }, 'closing a room an earlier attempt left without a dispatch');
    await ctx.rooms.deleteRoom(room);
    return undefined;
  }
  for (const d of extra) await ctx.rooms.deleteDispatch(room, d.id);
  // A dispatch past its join deadline with no agent of ours in the room is spent: its agent
  // came and went (its job ended, or crashed) or never came, and LiveKit sends no other for
  // it. Waiting on it again only runs out a second join timeout (issue 18: a dispatcher killed
  // after dispatching, its agents joined and left before the survivor picked the request up).
  const ageMs =
    dispatch.createdAtMs === undefined ? 0 : ctx.clock.now().getTime() - dispatch.createdAtMs;
  if (
    ageMs >= ctx.joinTimeoutMs &&
    (await ctx.rooms.listAgents(room, ctx.agentName)).length === 0
  ) {
    attempt.log.info(
      { room, dispatchId: dispatch.id, ageMs },
      'closing a room whose dispatch is spent',
    );
    await ctx.rooms.deleteRoom(room);
    return undefined;
  }
  return { room, dispatch };
}

/**
 * Closes the rooms of this session's earlier attempts once it is placed. They were closed when
 * their attempt gave up, but an agent whose job was still starting then reopens its room on
 * joining (rooms are created on join) and would wait there for a patient who never comes.
 */
async function closeEarlierRooms(
  ctx: DispatchContext,
  attempt: Attempt,
  placedRoom: string,
): Promise<void> {
  const id = attempt.request.sessionId;
  const last = attempt.attempts ?? 0;
  for (let n = Math.max(1, last - 2 * ctx.maxDeliveryAttempts); n < last; n++) {
    const room = roomFor(ctx, id, n);
    if (room === placedRoom) continue;
    await ctx.rooms
      .deleteRoom(room)
      .catch((err: unknown) => attempt.log.warn({ err, room }, 'could not close an earlier room'));
  }
}

/** Polls LiveKit until our agent is in the room; returns when it joined (LiveKit's clock). */
async function waitForAgent(
  ctx: DispatchContext,
  attempt: Attempt,
  room: string,
  dispatchedAt: Date,
  signal: AbortSignal,
): Promise<number> {
  const joinBy = dispatchedAt.getTime() + ctx.joinTimeoutMs;
  const deadline = attempt.request.deadline ? Date.parse(attempt.request.deadline) : Infinity;
  const until = Math.min(joinBy, deadline);
  for (;;) {
    const agents = await ctx.rooms.listAgents(room, ctx.agentName);
    const now = ctx.clock.now().getTime();
    const first = agents[0];
    if (first) {
      if (agents.length > 1)
        attempt.log.warn({ agents: agents.length }, 'more than one agent joined');
      return first.joinedAtMs ?? now;
    }
    if (now >= until) {
      if (deadline <= joinBy) {
        throw new DeadlineExpiredError('the request deadline passed before an agent joined');
      }
      throw new TransientError(
        'agent_join_timeout',
        `no ${ctx.agentName} agent joined within ${ctx.joinTimeoutMs} ms`,
      );
    }
    await ctx.clock.sleep(Math.min(ctx.agentPollIntervalMs, until - now), signal);
  }
}

/** Renews the lease every third of its length; a failed renewal aborts the placement. */
function startHeartbeat(
  ctx: DispatchContext,
  attempt: Attempt,
  lost: AbortController,
): { stop(): void } {
  const id = attempt.request.sessionId;
  const timer = setInterval(
    () => {
      ctx.leases.renew(id, attempt.owner, ctx.clock.now(), ctx.leaseMs).then(
        (held) => {
          if (!held) lost.abort(new LeaseLostError());
        },
        (err: unknown) => lost.abort(new LeaseLostError(err)),
      );
    },
    Math.floor(ctx.leaseMs / 3),
  );
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** The session left `dispatching` while we placed it (failed by someone else, say). */
async function movedOn(
  ctx: DispatchContext,
  attempt: Attempt,
  session: SessionRecord | null,
): Promise<Verdict> {
  attempt.log.warn({ state: session?.state }, 'session moved on during placement');
  // Our dispatch stays only if the session is active in our very room.
  if (session?.state !== 'active') await cleanup(ctx, attempt);
  return session ? settleDuplicate(ctx, attempt, session) : { outcome: 'duplicate', action: 'ack' };
}
