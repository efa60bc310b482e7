/**
 * What becomes of a delivery that did not simply place its session. One rule:
 *  - input problems are recorded as Rejections, announced (`session.rejected`) and acked
 *    (retrying cannot fix them);
 *  - once our agent has joined its room nothing is undone: the call may be live;
 *  - an expired deadline fails the session and is acked;
 *  - a lost lease or a shutdown hands the message back (a lost lease undoes nothing: someone
 *    else may be placing the session in the same room now);
 *  - anything else cleans up what the attempt created and is nacked for redelivery, until the
 *    last delivery attempt, which fails the session, publishes `session.failed` and nacks so the
 *    subscription moves the message to the dead-letter topic (the original request is kept
 *    there for inspection and replay).
 */
import {
  DeadlineExpiredError,
  LeaseLostError,
  ShutdownError,
  VoiceCareError,
} from '../infra/errors.ts';
import type { Logger } from '../infra/logger.ts';
import { rejectionRecord, type RequestRejection } from '../sessions/intake.ts';
import { announce } from './announce.ts';
import type { Attempt, DispatchContext, Verdict } from './delivery.ts';
import { cleanup } from './placement.ts';
import type { InboundMessage } from './source.ts';

/** The verdict on a placement that threw `err`, after undoing what the failure calls for. */
export async function judgeFailure(
  ctx: DispatchContext,
  attempt: Attempt,
  err: unknown,
): Promise<Verdict> {
  const code = err instanceof VoiceCareError ? err.code : 'internal_error';
  const reason = err instanceof Error ? err.message : String(err);
  const { log } = attempt;
  const where = {
    room: attempt.room,
    dispatchId: attempt.dispatchId,
    attempts: attempt.attempts,
  };

  if (err instanceof LeaseLostError) {
    // Someone else may be placing it in the same room now: undo nothing.
    attempt.holdsLease = false;
    log.warn({ ...where, code }, 'placement lease lost');
    return { outcome: 'retried', action: 'nack', code };
  }
  if (err instanceof ShutdownError) {
    if (attempt.holdsLease && !attempt.settled && !attempt.agentJoined) {
      await cleanup(ctx, attempt);
    }
    return { outcome: 'requeued', action: 'nack', code };
  }
  if (attempt.settled) {
    // The session is placed (or finished); only its announcement is missing, and a
    // redelivery publishes it.
    log.warn({ ...where, err }, 'session settled but not announced');
    return {
      outcome: isLastAttempt(ctx, attempt) ? 'dead_lettered' : 'retried',
      action: 'nack',
      code,
    };
  }

  if (attempt.agentJoined) {
    // The agent is in its room and the call may be live (a MongoDB blip after the join, say):
    // tearing the room down would hang up on the patient. Leave room and dispatch as they
    // are; a redelivery reuses them and records `active`, and the agent records it too.
    log.warn({ ...where, code, err }, 'agent joined but the placement could not be recorded');
    return {
      outcome: isLastAttempt(ctx, attempt) ? 'dead_lettered' : 'retried',
      action: 'nack',
      code,
    };
  }
  if (attempt.holdsLease) await cleanup(ctx, attempt);
  const expired = err instanceof DeadlineExpiredError;
  const last = isLastAttempt(ctx, attempt);
  if (expired || last) {
    if (attempt.holdsLease) await failSession(ctx, attempt, code, reason);
    log.error({ ...where, code, err: expired ? undefined : err }, 'placement failed for good');
    return expired
      ? { outcome: 'failed', action: 'ack', code }
      : { outcome: 'dead_lettered', action: 'nack', code };
  }
  if (attempt.holdsLease) {
    // Keep the last reason on the session; re-entering dispatching is allowed for this.
    await ctx.store
      .transition(attempt.request.sessionId, 'dispatching', ctx.clock.now(), {
        failureCode: code,
        failureReason: reason,
      })
      .catch((e: unknown) => log.warn({ err: e }, 'could not record the failure reason'));
  }
  log.warn({ ...where, code, err }, 'placement failed; will retry');
  return { outcome: 'retried', action: 'nack', code };
}

/**
 * Records a request that cannot become a session and announces it with `session.rejected`, so
 * its sender stops waiting; acked only once both are done. A redelivery records nothing new
 * (the first record stands) and announces again: consumers de-duplicate on `messageId`.
 */
export async function recordRejection(
  ctx: DispatchContext,
  msg: InboundMessage,
  rejection: RequestRejection,
  receivedAt: Date,
  log: Logger,
): Promise<Verdict> {
  try {
    await ctx.store.recordRejection(rejectionRecord(msg.id, rejection, receivedAt));
    await ctx.events.publish({
      type: 'session.rejected',
      ...(rejection.sessionId ? { sessionId: rejection.sessionId } : {}),
      messageId: msg.id,
      at: ctx.clock.now().toISOString(),
      code: rejection.code,
      reason: rejection.reason,
    });
    return { outcome: 'rejected', action: 'ack', code: rejection.code };
  } catch (err) {
    // Not recorded or not announced means not acked: it comes back, or lands on the
    // dead-letter topic.
    log.warn({ err, code: rejection.code }, 'could not record or announce a rejection');
    const last = msg.deliveryAttempt >= ctx.maxDeliveryAttempts;
    return { outcome: last ? 'dead_lettered' : 'retried', action: 'nack', code: rejection.code };
  }
}

export async function releaseLease(ctx: DispatchContext, attempt: Attempt): Promise<void> {
  try {
    await ctx.leases.release(attempt.request.sessionId, attempt.owner);
  } catch (err) {
    // It lapses on its own.
    attempt.log.warn({ err }, 'could not release the placement lease');
  }
  attempt.holdsLease = false;
}

function isLastAttempt(ctx: DispatchContext, attempt: Attempt): boolean {
  const delivery = attempt.msg.deliveryAttempt;
  // Without a dead-letter policy Pub/Sub does not count deliveries; fall back on ours.
  const count = delivery > 0 ? delivery : (attempt.attempts ?? 0);
  return count >= ctx.maxDeliveryAttempts;
}

/** Marks the session failed and announces it; problems are logged, the message still moves. */
async function failSession(
  ctx: DispatchContext,
  attempt: Attempt,
  code: string,
  reason: string,
): Promise<void> {
  const id = attempt.request.sessionId;
  try {
    const failed = await ctx.store.transition(id, 'failed', ctx.clock.now(), {
      failureCode: code,
      failureReason: reason,
    });
    if (!failed) {
      attempt.log.warn('session moved on before it could be failed');
      return;
    }
    await announce(ctx, {
      type: 'session.failed',
      sessionId: id,
      at: ctx.clock.now().toISOString(),
      reason,
      code,
    });
  } catch (err) {
    attempt.log.error({ err, code }, 'could not record or announce the failed session');
  }
}
