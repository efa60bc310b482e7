/**
 * createDispatch → agent joined, for our worker and for the bare one, alternating, each time with
 * a warm idle process: the difference is what our job does before it connects to the room. Then
 * arrivals: `ARRIVALS` dispatches at the same moment to a quiet worker, more than it keeps warm,
 * so the later ones show what a fork and warm-up cost a patient (goal: all joined within 1.5 s).
 */
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { apiUrl } from '../../dispatcher/livekit.ts';
import { uniqueName } from '../../tests/support/env.ts';
import type { BenchContext } from '../lib/context.ts';
import { sleep, summarize, type Summary } from '../lib/stats.ts';
import type { BenchWorker } from '../lib/workers.ts';
import { waitQuiet } from './memory.ts';

export interface JoinResult {
  ours: Summary;
  bare: Summary;
  /** Each round of simultaneous arrivals: every dispatch's join time, sorted (ms; null: never). */
  arrivals: { count: number; ours: (number | null)[][]; bare: (number | null)[][] };
}

/** Requests arriving together, as the issue measured them. */
export const ARRIVALS = 4;
const ARRIVAL_ROUNDS = 2;

async function joinOnce(
  ctx: BenchContext,
  rooms: RoomServiceClient,
  dispatch: AgentDispatchClient,
  worker: BenchWorker,
): Promise<number | undefined> {
  const room = uniqueName('join');
  await rooms.createRoom({ name: room, emptyTimeout: 30 });
  let metadata = '{}';
  if (worker.kind === 'ours') {
    const request = ctx.h.request();
    await ctx.h.sessions.claim(request, new Date());
    metadata = JSON.stringify(request);
  }
  const t0 = Date.now();
  await dispatch.createDispatch(room, worker.agentName, { metadata });
  try {
    const until = performance.now() + 15_000;
    while (performance.now() < until) {
      const agent = (await rooms.listParticipants(room)).find(
        (p) =>
          p.attributes['lk.agent.name'] === worker.agentName || p.identity.startsWith('agent-'),
      );
      if (agent && agent.joinedAtMs > 0n) return Number(agent.joinedAtMs) - t0;
      await sleep(20);
    }
    return undefined;
  } finally {
    // Closing the room ends the job. Not at once: a room deleted while the agent is still
    // completing its connection leaves the job waiting ~15 s for a connect timeout.
    await sleep(1500);
    await rooms.deleteRoom(room).catch(() => undefined);
  }
}

export async function joinPhase(
  ctx: BenchContext,
  ours: BenchWorker,
  bare: BenchWorker,
  samples: number,
  idleProcesses: number,
): Promise<JoinResult> {
  const lk = ctx.h.cfg.livekit;
  const rooms = new RoomServiceClient(apiUrl(lk.url), lk.apiKey, lk.apiSecret);
  const dispatch = new AgentDispatchClient(apiUrl(lk.url), lk.apiKey, lk.apiSecret);
  const out = { ours: [] as number[], bare: [] as number[] };
  for (let i = 0; i < samples; i++) {
    for (const w of i % 2 === 0 ? [ours, bare] : [bare, ours]) {
      await waitQuiet(w, idleProcesses, 15_000);
      const ms = await joinOnce(ctx, rooms, dispatch, w);
      if (ms !== undefined) out[w.kind].push(ms);
    }
  }
  const arrivals = {
    count: ARRIVALS,
    ours: [] as (number | null)[][],
    bare: [] as (number | null)[][],
  };
  for (let i = 0; i < ARRIVAL_ROUNDS; i++) {
    for (const w of i % 2 === 0 ? [ours, bare] : [bare, ours]) {
      // A quiet worker with its warm pool refilled: the state a real burst meets.
      // The framework warms one process at a time, ~4 s each here: give the pool time to refill.
      await waitQuiet(w, idleProcesses, 30_000 + idleProcesses * 8000);
      const times = await Promise.all(
        Array.from({ length: ARRIVALS }, () => joinOnce(ctx, rooms, dispatch, w)),
      );
      arrivals[w.kind].push(
        times.map((t) => t ?? null).sort((a, b) => (a ?? Infinity) - (b ?? Infinity)),
      );
    }
  }
  return { ours: summarize(out.ours), bare: summarize(out.bare), arrivals };
}

/** The slowest join of the worst round (Infinity when one never joined). */
export function slowestArrival(rounds: readonly (number | null)[][]): number {
  let worst = 0;
  for (const round of rounds) for (const t of round) worst = Math.max(worst, t ?? Infinity);
  return worst;
}
