/**
 * The dispatcher's announcements: `session.ready` when a session is placed, `session.failed`
 * when placement failed for good. Each is published at most once per session, under the
 * placement lease, and marked in the lease store once the broker has it; a later delivery of
 * the same request finishes an announcement an earlier one could not publish.
 */
import type { SessionEvent, SessionRecord } from '../sessions/schema.ts';
import type { Attempt, DispatchContext, Verdict } from './delivery.ts';
import type { Announcement } from './leases.ts';

export type AnnouncementEvent = SessionEvent & { type: Announcement };

/** Publishes the event, then remembers that it went out. */
export async function announce(ctx: DispatchContext, event: AnnouncementEvent): Promise<void> {
  await ctx.events.publish(event);
  await ctx.leases.markAnnounced(event.sessionId, event.type, ctx.clock.now());
}

/** The dispatcher's event for a settled session, if it has one. */
export function owedAnnouncement(
  ctx: DispatchContext,
  session: SessionRecord,
): AnnouncementEvent | undefined {
  const at = ctx.clock.now().toISOString();
  if (session.state === 'active' && session.room) {
    return {
      type: 'session.ready',
      sessionId: session.sessionId,
      at,
      room: session.room,
      livekitUrl: ctx.livekitUrl,
    };
  }
  // Failed before it ever became active: placement failed, which is ours to announce.
  if (session.state === 'failed' && session.timestamps.active === undefined) {
    return {
      type: 'session.failed',
      sessionId: session.sessionId,
      at,
      reason: session.failureReason ?? 'placement failed',
      code: session.failureCode ?? 'placement_failed',
    };
  }
  return undefined;
}

/**
 * A delivery of a session that is already placed or finished: nothing to do, except finishing
 * an announcement an earlier delivery could not publish. That happens under the lease, so it
 * never races the placing delivery's own announcement: whoever holds the lease announces, or
 * hands its message back and a later delivery does.
 */
export async function settleDuplicate(
  ctx: DispatchContext,
  attempt: Attempt,
  session: SessionRecord,
): Promise<Verdict> {
  attempt.settled = true;
  const verdict: Verdict = {
    outcome: 'duplicate',
    action: 'ack',
    ...(session.room ? { room: session.room } : {}),
  };
  const event = owedAnnouncement(ctx, session);
  if (!event || (await ctx.leases.wasAnnounced(session.sessionId, event.type))) {
    return verdict;
  }
  if (!attempt.holdsLease) {
    const now = ctx.clock.now();
    if (!(await ctx.leases.acquire(session.sessionId, attempt.owner, now, ctx.leaseMs))) {
      return verdict;
    }
    attempt.holdsLease = true;
    if (await ctx.leases.wasAnnounced(session.sessionId, event.type)) return verdict;
  }
  attempt.log.info({ event: event.type }, 'announcing what an earlier delivery could not');
  await announce(ctx, event);
  return verdict;
}
