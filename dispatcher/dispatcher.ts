/**
 * The dispatcher: every session request delivered by Pub/Sub becomes exactly one agent in exactly
 * one room, under at-least-once delivery, duplicates, crashes, bursts and bad input.
 *
 * One delivery, in order: validate (sessions/intake.ts) → profile exists → claim the session (unique
 * sessionId) → placement.ts: take the placement lease → create this attempt's room → dispatch
 * the agent (or reuse the dispatch a crashed predecessor left) → wait until it has joined →
 * `active` with timings → announce.ts: publish `session.ready` → ack. What goes wrong is judged
 * by verdict.ts. This class owns the lifecycle around that path: options, start, the in-flight
 * set, readiness, shutdown with a deadline, and settling each delivery (ack or nack, metrics,
 * the settled log line).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../infra/config.ts';
import { ShutdownError, TimeoutError, VoiceCareError } from '../infra/errors.ts';
import type { Logger } from '../infra/logger.ts';
import { settlesWithin, systemClock, withTimeout, type Clock } from '../infra/time.ts';
import type { SessionEventPublisher } from '../sessions/events.ts';
import { MAX_REQUEST_BYTES, readRequest, staleRejection } from '../sessions/intake.ts';
import type { SessionStore } from '../sessions/store.ts';
import { settleDuplicate } from './announce.ts';
import {
  deliveryOwner,
  isOpen,
  roomFor,
  type Attempt,
  type DispatchContext,
  type Settlement,
  type Verdict,
} from './delivery.ts';
import type { PlacementLeases } from './leases.ts';
import type { AgentRooms } from './livekit.ts';
import { DispatcherMetrics } from './metrics.ts';
import { acquireLease, place } from './placement.ts';
import type { ProfileCatalog } from './profiles.ts';
import type { InboundMessage, RequestSource } from './source.ts';
import { dispatcherTracer, traceDelivery } from './tracing.ts';
import { judgeFailure, recordRejection, releaseLease } from './verdict.ts';

export type { PlacementTimings, Settlement } from './delivery.ts';

export interface DispatcherOptions {
  store: SessionStore;
  leases: PlacementLeases;
  rooms: AgentRooms;
  events: SessionEventPublisher;
  profiles: ProfileCatalog;
  /** Where requests come from. Only {@link Dispatcher.start} needs it. */
  source?: RequestSource;
  /** The worker pool's explicit-dispatch name. */
  agentName: string;
  /** The LiveKit URL clients connect to, announced in `session.ready`. */
  livekitUrl: string;
  logger: Logger;
  /** @defaultValue {@link systemClock} */
  clock?: Clock;
  /** @defaultValue a new DispatcherMetrics with its own registry */
  metrics?: DispatcherMetrics;
  /** Names this process in lease owners and logs. @defaultValue `<hostname>-<pid>-<random>` */
  instanceId?: string;
  /** The subscription's dead-letter `maxDeliveryAttempts`. @defaultValue 5 */
  maxDeliveryAttempts?: number;
  /** Larger payloads are rejected unread. @defaultValue 16 KiB */
  maxMessageBytes?: number;
  /** Requests whose `requestedAt` is older are rejected as `stale_request`. @defaultValue 900_000 */
  maxRequestAgeMs?: number;
  /** How long to wait for the agent to join after dispatching. @defaultValue 15_000 */
  joinTimeoutMs?: number;
  /** Finish or hand back in-flight requests within this on {@link Dispatcher.stop}. @defaultValue 8000 */
  shutdownTimeoutMs?: number;
  /** Extra time allowed for the source's own close, which can hang. @defaultValue 3000 */
  sourceCloseTimeoutMs?: number;
  /** Placement lease length; renewed every third of it while placing. @defaultValue 30_000 */
  leaseMs?: number;
  /** @defaultValue 300_000 */
  roomEmptyTimeoutMs?: number;
  /** @defaultValue 20_000 */
  roomDepartureTimeoutMs?: number;
  /** How often to ask LiveKit whether the agent has joined. @defaultValue 150 */
  agentPollIntervalMs?: number;
  /** How often a duplicate checks on the delivery holding the lease. @defaultValue 250 */
  contendedPollIntervalMs?: number;
  /** Room name = prefix + sessionId. @defaultValue 'session-' */
  roomPrefix?: string;
  /** Extra readiness checks (MongoDB ping, ...); each must resolve within 2 s. */
  readinessChecks?: Record<string, () => Promise<unknown>>;
  /** Called after every delivery is settled (tests, benchmarks). Must not throw. */
  onSettled?: (settlement: Settlement) => void;
}

export const defaults = {
  maxDeliveryAttempts: 5,
  maxMessageBytes: MAX_REQUEST_BYTES,
  maxRequestAgeMs: 15 * 60_000,
  joinTimeoutMs: 15_000,
  shutdownTimeoutMs: 8000,
  sourceCloseTimeoutMs: 3000,
  leaseMs: 30_000,
  roomEmptyTimeoutMs: 5 * 60_000,
  roomDepartureTimeoutMs: 20_000,
  agentPollIntervalMs: 150,
  contendedPollIntervalMs: 250,
  roomPrefix: 'session-',
} as const;

/** The configured values a Dispatcher takes from {@link Config}. */
export function dispatcherSettings(cfg: Config) {
  return {
    agentName: cfg.agent.name,
    livekitUrl: cfg.livekit.url,
    maxDeliveryAttempts: cfg.pubsub.maxDeliveryAttempts,
    maxMessageBytes: cfg.dispatcher.maxMessageBytes,
    maxRequestAgeMs: cfg.dispatcher.maxRequestAgeMs,
    joinTimeoutMs: cfg.dispatcher.joinTimeoutMs,
    shutdownTimeoutMs: cfg.dispatcher.shutdownTimeoutMs,
    leaseMs: cfg.dispatcher.leaseMs,
    roomEmptyTimeoutMs: cfg.dispatcher.roomEmptyTimeoutMs,
    roomDepartureTimeoutMs: cfg.dispatcher.roomDepartureTimeoutMs,
  } satisfies Partial<DispatcherOptions>;
}

export interface Readiness {
  ready: boolean;
  /** `ok`, or what is wrong, per check. */
  checks: Record<string, string>;
}

export interface StopReport {
  /** Every in-flight delivery finished (placed, or handed back) before the deadline. */
  drained: boolean;
  /** Deliveries still placing at the deadline, told to clean up and hand back. */
  aborted: number;
  /** The source closed within its own timeout. */
  sourceClosed: boolean;
  durationMs: number;
}

function requirePositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`DispatcherOptions.${name} must be a positive number, got ${value}`);
  }
}

export class Dispatcher {
  readonly #o: Required<
    Omit<DispatcherOptions, 'source' | 'onSettled' | 'readinessChecks' | 'metrics' | 'clock'>
  >;
  readonly #source: RequestSource | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #onSettled: ((s: Settlement) => void) | undefined;
  readonly #checks: Record<string, () => Promise<unknown>>;
  readonly #ctx: DispatchContext;
  readonly #shutdown = new AbortController();
  readonly #inFlight = new Set<Promise<Settlement>>();
  #peakInFlight = 0;
  #handled = 0;
  #started = false;
  #stopping = false;
  /** The last error the subscription reported, until a message arrives after it. */
  #subscriptionError: { code: string; at: number } | undefined;
  #stopped: Promise<StopReport> | undefined;
  readonly metrics: DispatcherMetrics;

  constructor(opts: DispatcherOptions) {
    // An option given as `undefined` means "use the default", not "unset it".
    const given = Object.fromEntries(
      Object.entries(opts).filter(([, v]) => v !== undefined),
    ) as DispatcherOptions;
    const o = {
      ...defaults,
      instanceId: `${hostname()}-${process.pid}-${randomUUID().slice(0, 4)}`,
      ...given,
    };
    if (!o.agentName) throw new Error('DispatcherOptions.agentName is required');
    if (!o.livekitUrl) throw new Error('DispatcherOptions.livekitUrl is required');
    for (const name of [
      'maxDeliveryAttempts',
      'maxMessageBytes',
      'maxRequestAgeMs',
      'joinTimeoutMs',
      'shutdownTimeoutMs',
      'sourceCloseTimeoutMs',
      'leaseMs',
      'agentPollIntervalMs',
      'contendedPollIntervalMs',
    ] as const) {
      requirePositive(name, o[name]);
    }
    if (o.leaseMs < 3 * 500) throw new Error('DispatcherOptions.leaseMs must be at least 1500');
    this.#o = o;
    this.#source = opts.source;
    this.#clock = opts.clock ?? systemClock;
    this.#onSettled = opts.onSettled;
    this.#checks = opts.readinessChecks ?? {};
    this.metrics = opts.metrics ?? new DispatcherMetrics();
    this.#log = opts.logger.child({ component: 'dispatcher', instanceId: o.instanceId });
    this.#ctx = { ...o, clock: this.#clock, shutdown: this.#shutdown.signal };
  }

  /** The room for a session's n-th placement attempt (see {@link roomFor}). */
  roomFor(sessionId: string, attempt: number): string {
    return roomFor(this.#ctx, sessionId, attempt);
  }

  /** Starts pulling from the source. */
  start(): void {
    if (!this.#source) throw new Error('Dispatcher.start needs a source');
    if (this.#started) return;
    this.#started = true;
    this.#source.start(
      (msg) => {
        // A message got through: whatever the stream reported before has passed.
        this.#subscriptionError = undefined;
        void this.handle(msg);
      },
      (err) => {
        const code = (err as { code?: unknown }).code;
        this.#subscriptionError = {
          code: typeof code === 'number' || typeof code === 'string' ? String(code) : err.name,
          at: Date.now(),
        };
        this.#log.error({ err }, 'request subscription error');
      },
    );
    this.#log.info({ agentName: this.#o.agentName }, 'dispatcher started');
  }

  /** Handles one delivery to the end: it is always acked or nacked, and this never rejects. */
  handle(msg: InboundMessage): Promise<Settlement> {
    const task = traceDelivery(msg, () => this.#run(msg));
    this.#inFlight.add(task);
    this.#peakInFlight = Math.max(this.#peakInFlight, this.#inFlight.size);
    void task.finally(() => this.#inFlight.delete(task));
    return task;
  }

  stats(): { inFlight: number; peakInFlight: number; handled: number } {
    return {
      inFlight: this.#inFlight.size,
      peakInFlight: this.#peakInFlight,
      handled: this.#handled,
    };
  }

  /**
   * Liveness: the process is up and its event loop answers, and, once started, its subscription
   * is still open. The client closes a subscription for good on a stream error it will not
   * retry; such a process would sit idle for ever, so it asks to be restarted.
   */
  live(): boolean {
    if (!this.#source || !this.#started || this.#stopping) return true;
    return this.#source.isOpen;
  }

  async readiness(): Promise<Readiness> {
    const checks: Record<string, string> = {
      dispatcher: this.#stopping ? 'stopping' : 'ok',
    };
    if (this.#source) {
      const error = this.#subscriptionError;
      checks['subscription'] = !this.#source.isOpen
        ? 'closed'
        : error
          ? `errored (${error.code})`
          : 'ok';
    }
    await Promise.all(
      Object.entries(this.#checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2000, `readiness check ${name}`);
          checks[name] = 'ok';
        } catch (err) {
          checks[name] =
            err instanceof TimeoutError
              ? 'timed out'
              : err instanceof VoiceCareError
                ? err.code
                : 'failed';
        }
      }),
    );
    return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
  }

  /**
   * Stops pulling, lets in-flight placements finish until shortly before `shutdownTimeoutMs`,
   * then tells the rest to clean up and hand their message back, and closes the source with its
   * own timeout. Safe to call more than once.
   */
  stop(): Promise<StopReport> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<StopReport> {
    const started = Date.now();
    this.#stopping = true;
    this.#log.info({ inFlight: this.#inFlight.size }, 'dispatcher stopping');
    const closing = this.#source
      ? this.#source.close(this.#o.shutdownTimeoutMs + this.#o.sourceCloseTimeoutMs)
      : Promise.resolve(true);
    // Keep a slice of the budget for aborted placements to clean up and nack.
    const graceMs = Math.min(3000, Math.max(250, Math.floor(this.#o.shutdownTimeoutMs / 4)));
    let drained = await this.#idle(this.#o.shutdownTimeoutMs - graceMs);
    let aborted = 0;
    if (!drained) {
      aborted = this.#inFlight.size;
      this.#shutdown.abort(new ShutdownError());
      drained = await this.#idle(graceMs);
    }
    const sourceClosed = await closing;
    const report = { drained, aborted, sourceClosed, durationMs: Date.now() - started };
    if (!sourceClosed) this.#log.warn(report, 'request source did not close in time');
    this.#log.info(report, 'dispatcher stopped');
    return report;
  }

  async #idle(withinMs: number): Promise<boolean> {
    const until = Date.now() + withinMs;
    // Deliveries that arrive while stopping are handed back at once, but do join the set.
    while (this.#inFlight.size > 0) {
      const left = until - Date.now();
      if (left <= 0) return false;
      await settlesWithin(Promise.allSettled([...this.#inFlight]), left, 'in-flight deliveries');
    }
    return true;
  }

  async #run(msg: InboundMessage): Promise<Settlement> {
    this.metrics.inFlight.inc();
    try {
      return await this.#process(msg);
    } catch (err) {
      // Only a bug gets here; the message must still be settled, and retried.
      this.#log.error({ err, messageId: msg.id }, 'unexpected error handling a request');
      return this.#settle(
        msg,
        { outcome: 'retried', action: 'nack', code: 'internal_error' },
        this.#log,
      );
    } finally {
      this.metrics.inFlight.dec();
    }
  }

  async #process(msg: InboundMessage): Promise<Settlement> {
    const log = this.#log.child({ messageId: msg.id, deliveryAttempt: msg.deliveryAttempt });
    if (this.#stopping) return this.#settle(msg, { outcome: 'requeued', action: 'nack' }, log);

    const receivedAt = this.#clock.now();
    const intake = readRequest(msg.data, { maxBytes: this.#o.maxMessageBytes });
    if (!intake.ok) {
      return this.#settle(
        msg,
        await recordRejection(this.#ctx, msg, intake.rejection, receivedAt, log),
        log,
      );
    }
    const request = intake.request;
    const stale = staleRejection(request, { now: receivedAt, maxAgeMs: this.#o.maxRequestAgeMs });
    if (stale) {
      return this.#settle(
        msg,
        await recordRejection(this.#ctx, msg, stale, receivedAt, log),
        log,
        request.sessionId,
      );
    }
    const attempt: Attempt = {
      msg,
      request,
      log: log.child({ sessionId: request.sessionId }),
      receivedAt,
      owner: deliveryOwner(this.#o.instanceId, msg.id, randomUUID().slice(0, 8)),
      holdsLease: false,
      settled: false,
    };
    let verdict: Verdict;
    try {
      verdict = await this.#decide(attempt);
    } catch (err) {
      verdict = await judgeFailure(this.#ctx, attempt, err);
    }
    // Release before settling: a nacked message may be redelivered at once.
    if (attempt.holdsLease) await releaseLease(this.#ctx, attempt);
    return this.#settle(msg, verdict, attempt.log, request.sessionId);
  }

  async #decide(attempt: Attempt): Promise<Verdict> {
    const { request, msg, log } = attempt;
    if (!(await this.#o.profiles.exists(request.profile))) {
      const ref = `${request.profile.id}${request.profile.version ? `@${request.profile.version}` : ''}`;
      return recordRejection(
        this.#ctx,
        msg,
        {
          code: 'unknown_profile',
          reason: `profile ${ref} is not published`,
          sessionId: request.sessionId,
        },
        attempt.receivedAt,
        log,
      );
    }
    const { session } = await this.#o.store.claim(request, attempt.receivedAt);
    if (!isOpen(session)) return settleDuplicate(this.#ctx, attempt, session);

    const lease = await dispatcherTracer.span('dispatcher.lease', () =>
      acquireLease(this.#ctx, attempt),
    );
    if (lease.kind === 'settled') return settleDuplicate(this.#ctx, attempt, lease.session);
    if (lease.kind === 'placed_elsewhere') {
      log.info('a copy of this request in another message is being placed; acking this one');
      return { outcome: 'duplicate', action: 'ack', code: 'placement_in_progress' };
    }
    if (lease.kind === 'contended') {
      log.warn('another delivery kept the placement lease; handing this one back');
      return { outcome: 'contended', action: 'nack', code: 'lease_contended' };
    }
    return dispatcherTracer.span('dispatcher.place', () => place(this.#ctx, attempt));
  }

  #settle(msg: InboundMessage, verdict: Verdict, log: Logger, sessionId?: string): Settlement {
    const settlement: Settlement = {
      messageId: msg.id,
      deliveryAttempt: msg.deliveryAttempt,
      ...(sessionId ? { sessionId } : {}),
      ...verdict,
    };
    if (verdict.action === 'ack') msg.ack();
    else msg.nack();
    this.#handled += 1;

    const m = this.metrics;
    m.requests.inc({ outcome: verdict.outcome });
    if (verdict.outcome === 'rejected' && verdict.code) m.rejections.inc({ code: verdict.code });
    if (verdict.outcome === 'dead_lettered') m.deadLettered.inc();
    if (verdict.timings) {
      m.placementSeconds.observe(verdict.timings.placementMs / 1000);
      m.publishToJoinedSeconds.observe(verdict.timings.publishToJoinedMs / 1000);
    }

    const fields = {
      outcome: verdict.outcome,
      action: verdict.action,
      code: verdict.code,
      room: verdict.room,
      dispatchId: verdict.dispatchId,
      ...verdict.timings,
    };
    if (verdict.outcome === 'failed' || verdict.outcome === 'dead_lettered') {
      log.error(fields, 'request settled');
    } else if (verdict.outcome === 'placed' || verdict.outcome === 'duplicate') {
      log.info(fields, 'request settled');
    } else {
      log.warn(fields, 'request settled');
    }
    try {
      this.#onSettled?.(settlement);
    } catch (err) {
      log.warn({ err }, 'onSettled hook threw');
    }
    return settlement;
  }
}
