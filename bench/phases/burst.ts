/**
 * A burst beyond pool capacity: `burst` requests published at once to a worker that takes
 * `burstCapacity` sessions at a time (AGENT_MAX_JOBS). Each session that reaches `active` holds
 * its room for `burstHoldMs`, then the room is closed, which ends the agent's job and frees its
 * slot. Outcomes are judged from the session records, not from the dispatcher's settlements
 * alone: a session counts as placed once it reached `active`, failed once it is `failed` with a
 * reason, lost if neither happened by the deadline, and duplicated if two agent jobs started a
 * conversation for it (or the dispatcher placed it twice).
 */
import type { BenchContext } from '../lib/context.ts';
import { openLane } from '../lib/lane.ts';
import { sleep, summarize, type Summary } from '../lib/stats.ts';
import type { BenchWorker } from '../lib/workers.ts';

export interface BurstResult {
  published: number;
  capacity: number;
  placed: number;
  /** Failed with a reason recorded on the session (e.g. dead-lettered after N attempts). */
  failed: number;
  /** Neither placed nor failed by the deadline. */
  lost: number;
  /** Sessions placed twice or whose conversation two jobs started. */
  duplicated: number;
  /** Placement attempts per session (1 = placed on the first try). */
  attempts: Summary;
  /** Placed sessions whose placing delivery settled as `duplicate`, not `placed`. */
  placedButSettledDuplicate: number;
  /** Jobs that found they were not the current placement and left without talking. */
  staleJobs: number;
  /** Publish → session `active` (Mongo timestamps; every placed session). */
  publishToActive: Summary;
  failureReasons: string[];
  outcomes: Record<string, number>;
  wallMs: number;
}

const OPEN = new Set(['requested', 'dispatching']);

export async function burstPhase(ctx: BenchContext, worker: BenchWorker): Promise<BurstResult> {
  const t0 = performance.now();
  const { burst, burstCapacity, burstHoldMs } = ctx.opts;
  const lane = await openLane(ctx, worker.agentName);
  const bodies = Array.from({ length: burst }, () => ctx.h.request());
  const ids = bodies.map((b) => b.sessionId);
  const publishedAt = new Map<string, number>();
  const holding = new Map<string, Promise<unknown>>();
  const stale0 = worker.tap.staleJobs;
  try {
    await Promise.all(
      bodies.map(async (b) => {
        publishedAt.set(b.sessionId, (await lane.publish(b)).publishedAtMs);
      }),
    );
    // Long enough for several join timeouts (15 s each) and their redeliveries.
    const deadline = performance.now() + 75_000;
    for (;;) {
      const sessions = await Promise.all(ids.map((id) => ctx.h.sessions.get(id)));
      for (const s of sessions) {
        if (s?.state === 'active' && s.room && !holding.has(s.sessionId)) {
          const room = s.room;
          // The session "runs" for the hold time, then its room closes and the slot frees.
          holding.set(
            s.sessionId,
            sleep(burstHoldMs).then(() => lane.rooms.deleteRoom(room).catch(() => undefined)),
          );
        }
      }
      const open = sessions.filter((s) => !s || OPEN.has(s.state)).length;
      if (open === 0 || performance.now() > deadline) break;
      await sleep(250);
    }
    await Promise.all(holding.values());
  } finally {
    await lane.close();
  }

  const sessions = await Promise.all(ids.map((id) => ctx.h.sessions.get(id)));
  const placedBy = new Map<string, number>();
  const outcomes: Record<string, number> = {};
  for (const s of lane.settled) {
    outcomes[s.outcome] = (outcomes[s.outcome] ?? 0) + 1;
    if (s.sessionId && s.outcome === 'placed')
      placedBy.set(s.sessionId, (placedBy.get(s.sessionId) ?? 0) + 1);
  }
  let placed = 0;
  let failed = 0;
  let settledDuplicate = 0;
  const toActive: number[] = [];
  const failureReasons: string[] = [];
  for (const s of sessions) {
    if (!s) continue;
    const activeAt = s.timestamps.active;
    if (activeAt) {
      placed++;
      const pub = publishedAt.get(s.sessionId);
      if (pub !== undefined) toActive.push(activeAt.getTime() - pub);
      if (!placedBy.has(s.sessionId)) settledDuplicate++;
    } else if (s.state === 'failed') {
      failed++;
      failureReasons.push(s.failureCode ?? 'no reason');
    }
  }
  const duplicated = ids.filter(
    (id) => (placedBy.get(id) ?? 0) > 1 || (worker.tap.sessionsStarted.get(id) ?? 0) > 1,
  ).length;
  return {
    published: burst,
    capacity: burstCapacity,
    placed,
    failed,
    lost: burst - placed - failed,
    duplicated,
    attempts: summarize(sessions.filter((s) => s?.timestamps.active).map((s) => s!.attempts)),
    placedButSettledDuplicate: settledDuplicate,
    staleJobs: worker.tap.staleJobs - stale0,
    publishToActive: summarize(toActive),
    failureReasons,
    outcomes,
    wallMs: performance.now() - t0,
  };
}
