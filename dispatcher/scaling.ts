/**
 * How many agent workers the pool needs right now: the signal the worker-pool autoscaler (CREMA,
 * on KEDA) reads from the dispatcher's `/metrics` as `voicecare_dispatcher_desired_workers`.
 *
 * LiveKit spreads jobs over the registered workers by their reported load, but it cannot add
 * workers: a pool sized on CPU alone is always one start-up late for a burst. Demand here is
 * every session that holds or will soon hold a worker slot (running in a room, being placed,
 * waiting in the subscription), divided by what one worker takes, plus spare workers so the
 * next request does not wait for a cold start.
 */
import { RoomServiceClient } from 'livekit-server-sdk';
import { Gauge, type Registry } from 'prom-client';
import { defaults } from './dispatcher.ts';
import { apiUrl } from './livekit.ts';

export interface PoolDemand {
  /** Requests waiting in the subscription (undelivered), as far as this process knows. */
  backlog: number;
  /** Requests this dispatcher is placing right now. */
  inFlight: number;
  /** Sessions running in rooms now (each holds a job on some worker). */
  activeSessions: number;
  /**
   * Workers with at least one session (the agents' `voicecare_agent_active_sessions > 0`).
   * LiveKit spreads jobs by load, so they can outnumber `activeSessions / sessionsPerWorker`;
   * never asking for fewer keeps scale-down to idle workers. The dispatcher does not know it;
   * the scaler adds it as its own trigger (it takes the largest).
   */
  busyWorkers?: number;
}

export interface ScalingPolicy {
  /** Sessions one worker takes before it reports itself full (the workers' AGENT_MAX_JOBS). */
  sessionsPerWorker: number;
  /** Idle workers kept beyond the demand. 0 lets the pool reach zero at night. */
  spareWorkers: number;
  /** @defaultValue 0 */
  minWorkers?: number;
  /** @defaultValue no cap */
  maxWorkers?: number;
}

/**
 * `max(ceil(demand / sessionsPerWorker) + spare, busyWorkers)`, clamped to [min, max]. Running
 * sessions and busy workers are part of it, so the count only falls once workers are idle:
 * scale-down never needs to take a worker that still has a call (and a worker told to stop
 * drains first, within AGENT_DRAIN_TIMEOUT_MS).
 */
export function desiredWorkers(demand: PoolDemand, policy: ScalingPolicy): number {
  if (!(Number.isInteger(policy.sessionsPerWorker) && policy.sessionsPerWorker > 0)) {
    throw new RangeError('sessionsPerWorker must be a positive integer');
  }
  const sessions =
    Math.max(0, demand.backlog) + Math.max(0, demand.inFlight) + Math.max(0, demand.activeSessions);
  const needed = Math.max(
    Math.ceil(sessions / policy.sessionsPerWorker) + Math.max(0, policy.spareWorkers),
    Math.max(0, demand.busyWorkers ?? 0),
  );
  const min = policy.minWorkers ?? 0;
  const max = policy.maxWorkers ?? Number.POSITIVE_INFINITY;
  return Math.min(max, Math.max(min, needed));
}

export interface ScalingGaugeOptions {
  registry: Registry;
  policy: ScalingPolicy;
  /** Read at every scrape; a failed read leaves the previous values (and is logged by the caller). */
  demand: () => Promise<PoolDemand>;
  onError?: (err: unknown) => void;
}

/** Registers the backlog, active-session and desired-worker gauges, computed on each scrape. */
export function registerScalingGauges(opts: ScalingGaugeOptions): void {
  const registers = [opts.registry];
  let last: PoolDemand = { backlog: 0, inFlight: 0, activeSessions: 0 };
  // The three gauges are collected side by side on one scrape: read the demand once for all.
  let reading: { at: number; done: Promise<PoolDemand> } | undefined;
  const read = (): Promise<PoolDemand> => {
    if (!reading || performance.now() - reading.at > 1000) {
      const done = opts.demand().then(
        (d) => (last = d),
        (err: unknown) => (opts.onError?.(err), last),
      );
      reading = { at: performance.now(), done };
    }
    return reading.done;
  };
  new Gauge({
    name: 'voicecare_dispatcher_backlog',
    help: 'Session requests waiting in the subscription, as this dispatcher sees it.',
    registers,
    async collect() {
      this.set((await read()).backlog);
    },
  });
  new Gauge({
    name: 'voicecare_dispatcher_active_sessions',
    help: 'Sessions running in LiveKit rooms now.',
    registers,
    async collect() {
      this.set((await read()).activeSessions);
    },
  });
  new Gauge({
    name: 'voicecare_dispatcher_desired_workers',
    help: 'Agent workers the pool needs now: ceil(demand / sessions per worker) + spare.',
    registers,
    async collect() {
      this.set(desiredWorkers(await read(), opts.policy));
    },
  });
}

/**
 * Sessions running now, as LiveKit sees them: rooms named like the dispatcher's (`session-…`)
 * with someone in them. One ListRooms call per scrape; a room outlives its call by the departure
 * timeout, so this errs on the side of capacity.
 */
export function liveKitActiveSessions(
  livekit: { url: string; apiKey: string; apiSecret: string },
  roomPrefix = defaults.roomPrefix,
): () => Promise<number> {
  const rooms = new RoomServiceClient(apiUrl(livekit.url), livekit.apiKey, livekit.apiSecret, {
    requestTimeout: 5,
  });
  return async () =>
    (await rooms.listRooms()).filter((r) => r.name.startsWith(roomPrefix) && r.numParticipants > 0)
      .length;
}
