/**
 * The dispatcher: every session request delivered by Pub/Sub becomes exactly one agent in exactly
 * one room, under at-least-once delivery, duplicates, crashes, bursts and bad input.
 *
 * One delivery, in order: validate → profile exists → claim the session (unique sessionId) →
 * take the placement lease → create this attempt's room → dispatch the agent (or reuse the
 * dispatch a crashed predecessor left) → wait until it has joined → `active` with timings →
 * publish `session.ready` → ack. The lease (see leases.ts) is what makes concurrent duplicates,
 * here or in another dispatcher, produce one dispatch. What goes wrong is settled by one rule:
 *  - input problems are recorded as Rejections and acked (retrying cannot fix them);
 *  - an expired deadline fails the session and is acked;
 *  - anything else cleans up what the attempt created and is nacked for redelivery, until the
 *    last delivery attempt, which fails the session, publishes `session.failed` and nacks so the
 *    subscription moves the message to the dead-letter topic (the original request is kept
 *    there for inspection and replay).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../infra/config.ts';
import { PermanentError, TransientError, VoiceCareError } from '../infra/errors.ts';
import type { Logger } from '../infra/logger.ts';
import type { SessionEvent, SessionRecord, SessionRequest } from '../sessions/schema.ts';
import type { SessionStore } from '../sessions/store.ts';
import { systemClock, TIMED_OUT, withTimeout, type Clock } from './clock.ts';
import type { SessionEventPublisher } from '../sessions/events.ts';
import { readRequest, type RejectionReason } from './intake.ts';
import type { Announcement, PlacementLeases } from './leases.ts';
import type { AgentRooms, DispatchRef } from './livekit.ts';
import { DispatcherMetrics, type Outcome } from './metrics.ts';
import type { ProfileCatalog } from './profiles.ts';
import type { InboundMessage, RequestSource } from './source.ts';

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
  maxMessageBytes: 16 * 1024,
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
    joinTimeoutMs: cfg.dispatcher.joinTimeoutMs,
    shutdownTimeoutMs: cfg.dispatcher.shutdownTimeoutMs,
    leaseMs: cfg.dispatcher.leaseMs,
    roomEmptyTimeoutMs: cfg.dispatcher.roomEmptyTimeoutMs,
    roomDepartureTimeoutMs: cfg.dispatcher.roomDepartureTimeoutMs,
  } satisfies Partial<DispatcherOptions>;
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

/** The placement lease lapsed and may belong to another delivery now: touch nothing, hand back. */
class LeaseLostError extends TransientError {
  constructor(cause?: unknown) {
    super('lease_lost', 'the placement lease was lost', cause);
  }
}

class ShutdownError extends TransientError {
  constructor() {
    super('shutting_down', 'the dispatcher is shutting down');
  }
}

type Verdict = Omit<Settlement, 'messageId' | 'deliveryAttempt' | 'sessionId'>;

/** One delivery's progress: what it holds and created, so failure handling knows what to undo. */
interface Attempt {
  readonly msg: InboundMessage;
  readonly request: SessionRequest;
  readonly log: Logger;
  readonly receivedAt: Date;
  readonly owner: string;
  holdsLease: boolean;
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

const isOpen = (s: SessionRecord): boolean => s.state === 'requested' || s.state === 'dispatching';

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
  readonly #shutdown = new AbortController();
  readonly #inFlight = new Set<Promise<Settlement>>();
  #peakInFlight = 0;
  #handled = 0;
  #started = false;
  #stopping = false;
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
  }

  /**
   * The room for a session's n-th placement attempt. Each attempt gets a fresh room: an agent
   * whose job was still starting when a failed attempt closed its room can then never end up
   * next to the agent of a later attempt (LiveKit tokens name rooms, not room instances).
   */
  roomFor(sessionId: string, attempt: number): string {
    return `${this.#o.roomPrefix}${sessionId}-${attempt}`;
  }

  /** A room an earlier attempt recorded, if it still holds a dispatch for our agent. */
  async #leftBehind(
    attempt: Attempt,
    room: string,
  ): Promise<{ room: string; dispatch: DispatchRef } | undefined> {
    if (!(await this.#o.rooms.roomExists(room))) return undefined;
    const [dispatch, ...extra] = await this.#o.rooms.listDispatches(room, this.#o.agentName);
    if (!dispatch) {
      attempt.log.info({ room }, 'closing a room an earlier attempt left without a dispatch');
      await this.#o.rooms.deleteRoom(room);
      return undefined;
    }
    for (const d of extra) await this.#o.rooms.deleteDispatch(room, d.id);
    return { room, dispatch };
  }

  /** Starts pulling from the source. */
  start(): void {
    if (!this.#source) throw new Error('Dispatcher.start needs a source');
    if (this.#started) return;
    this.#started = true;
    this.#source.start(
      (msg) => void this.handle(msg),
      (err) => this.#log.error({ err }, 'request subscription error'),
    );
    this.#log.info({ agentName: this.#o.agentName }, 'dispatcher started');
  }

  /** Handles one delivery to the end: it is always acked or nacked, and this never rejects. */
  handle(msg: InboundMessage): Promise<Settlement> {
    const task = this.#run(msg);
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

  /** Liveness: the process is up and its event loop answers. */
  live(): boolean {
    return true;
  }

  async readiness(): Promise<Readiness> {
    const checks: Record<string, string> = {
      dispatcher: this.#stopping ? 'stopping' : 'ok',
    };
    if (this.#source) checks['subscription'] = this.#source.isOpen ? 'ok' : 'closed';
    await Promise.all(
      Object.entries(this.#checks).map(async ([name, check]) => {
        try {
          const r = await withTimeout(check(), 2000);
          checks[name] = r === TIMED_OUT ? 'timed out' : 'ok';
        } catch (err) {
          checks[name] = err instanceof VoiceCareError ? err.code : 'failed';
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
      await withTimeout(Promise.allSettled([...this.#inFlight]), left);
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
    const intake = readRequest(msg.data, this.#o.maxMessageBytes);
    if (!intake.ok) {
      return this.#settle(msg, await this.#reject(msg, intake.rejection, receivedAt, log), log);
    }
    const request = intake.request;
    const attempt: Attempt = {
      msg,
      request,
      log: log.child({ sessionId: request.sessionId }),
      receivedAt,
      owner: `${this.#o.instanceId}/${msg.id}/${randomUUID().slice(0, 8)}`,
      holdsLease: false,
      settled: false,
    };
    let verdict: Verdict;
    try {
      verdict = await this.#decide(attempt);
    } catch (err) {
      verdict = await this.#onFailure(attempt, err);
    }
    // Release before settling: a nacked message may be redelivered at once.
    if (attempt.holdsLease) await this.#release(attempt);
    return this.#settle(msg, verdict, attempt.log, request.sessionId);
  }

  async #decide(attempt: Attempt): Promise<Verdict> {
    const { request, msg, log } = attempt;
    if (!(await this.#o.profiles.exists(request.profile))) {
      const ref = `${request.profile.id}${request.profile.version ? `@${request.profile.version}` : ''}`;
      return this.#reject(
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
    if (!isOpen(session)) return this.#duplicate(attempt, session);

    const lease = await this.#acquire(attempt);
    if (lease.kind === 'settled') return this.#duplicate(attempt, lease.session);
    if (lease.kind === 'contended') {
      log.warn('another delivery kept the placement lease; handing this one back');
      return { outcome: 'contended', action: 'nack', code: 'lease_contended' };
    }
    return this.#place(attempt);
  }

  /**
   * Takes the placement lease. While another delivery holds it, waits (up to one lease length)
   * for that delivery to finish, then reports the session it settled, or gives up.
   */
  async #acquire(
    attempt: Attempt,
  ): Promise<
    { kind: 'acquired' } | { kind: 'settled'; session: SessionRecord } | { kind: 'contended' }
  > {
    const id = attempt.request.sessionId;
    const waitUntil =
      this.#clock.now().getTime() + this.#o.leaseMs + this.#o.contendedPollIntervalMs;
    for (;;) {
      if (await this.#o.leases.acquire(id, attempt.owner, this.#clock.now(), this.#o.leaseMs)) {
        attempt.holdsLease = true;
        return { kind: 'acquired' };
      }
      const session = await this.#o.store.get(id);
      if (session && !isOpen(session)) return { kind: 'settled', session };
      if (this.#clock.now().getTime() >= waitUntil) return { kind: 'contended' };
      attempt.log.debug('another delivery is placing this session; waiting');
      await this.#clock.sleep(this.#o.contendedPollIntervalMs, this.#shutdown.signal);
    }
  }

  async #place(attempt: Attempt): Promise<Verdict> {
    const { request, log } = attempt;
    const id = request.sessionId;
    const lost = new AbortController();
    const signal = AbortSignal.any([this.#shutdown.signal, lost.signal]);
    const heartbeat = this.#heartbeat(attempt, lost);
    try {
      const now = this.#clock.now();
      if (request.deadline !== undefined && Date.parse(request.deadline) <= now.getTime()) {
        throw new PermanentError(
          'deadline_expired',
          'the request deadline had passed before placement',
        );
      }
      const current = await this.#o.store.get(id);
      if (current && !isOpen(current)) return this.#duplicate(attempt, current);
      attempt.attempts = await this.#o.store.recordAttempt(id, now);

      // A delivery that crashed or lost its lease leaves its room and dispatch behind (ones
      // that failed cleaned up): pick its dispatch up rather than dispatching a second agent.
      const left = current?.room ? await this.#leftBehind(attempt, current.room) : undefined;
      const room = left?.room ?? this.roomFor(id, attempt.attempts);
      // Recorded before anything exists in LiveKit, so whoever comes next can find it.
      if (!(await this.#o.store.transition(id, 'dispatching', now, { room }))) {
        const session = await this.#o.store.get(id);
        if (session && !isOpen(session)) return this.#duplicate(attempt, session);
        throw new TransientError('session_unavailable', 'the session could not enter dispatching');
      }
      attempt.room = room;
      let dispatch = left?.dispatch;
      if (dispatch) {
        log.info({ room, dispatchId: dispatch.id }, 'reusing the dispatch an earlier attempt left');
      } else {
        await this.#o.rooms.ensureRoom(room, {
          emptyTimeoutMs: this.#o.roomEmptyTimeoutMs,
          departureTimeoutMs: this.#o.roomDepartureTimeoutMs,
        });
        signal.throwIfAborted();
        // Fence: only a delivery that still holds the lease may dispatch.
        if (!(await this.#o.leases.renew(id, attempt.owner, this.#clock.now(), this.#o.leaseMs))) {
          throw new LeaseLostError();
        }
        dispatch = await this.#o.rooms.createDispatch(
          room,
          this.#o.agentName,
          JSON.stringify(request),
        );
      }
      attempt.dispatchId = dispatch.id;
      const dispatchedAt = this.#clock.now();

      const joinedAtMs = await this.#waitForAgent(attempt, room, dispatchedAt, signal);
      const dispatchToJoinedMs = Math.max(0, joinedAtMs - dispatchedAt.getTime());
      const active = await this.#o.store.transition(id, 'active', this.#clock.now(), {
        room,
        dispatch: { dispatchId: dispatch.id, dispatchedAt, agentJoinedMs: dispatchToJoinedMs },
      });
      if (!active) return this.#movedOn(attempt);
      attempt.settled = true;

      await this.#announce(attempt, {
        type: 'session.ready',
        sessionId: id,
        at: this.#clock.now().toISOString(),
        room,
        livekitUrl: this.#o.livekitUrl,
      });
      await this.#closeEarlierRooms(attempt, room);
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
          placementMs: this.#clock.now().getTime() - attempt.receivedAt.getTime(),
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

  /**
   * Closes the rooms of this session's earlier attempts once it is placed. They were closed when
   * their attempt gave up, but an agent whose job was still starting then reopens its room on
   * joining (rooms are created on join) and would wait there for a patient who never comes.
   */
  async #closeEarlierRooms(attempt: Attempt, placedRoom: string): Promise<void> {
    const id = attempt.request.sessionId;
    const last = attempt.attempts ?? 0;
    for (let n = Math.max(1, last - 2 * this.#o.maxDeliveryAttempts); n < last; n++) {
      const room = this.roomFor(id, n);
      if (room === placedRoom) continue;
      await this.#o.rooms
        .deleteRoom(room)
        .catch((err: unknown) =>
          attempt.log.warn({ err, room }, 'could not close an earlier room'),
        );
    }
  }

  /** Polls LiveKit until our agent is in the room; returns when it joined (LiveKit's clock). */
  async #waitForAgent(
    attempt: Attempt,
    room: string,
    dispatchedAt: Date,
    signal: AbortSignal,
  ): Promise<number> {
    const joinBy = dispatchedAt.getTime() + this.#o.joinTimeoutMs;
    const deadline = attempt.request.deadline ? Date.parse(attempt.request.deadline) : Infinity;
    const until = Math.min(joinBy, deadline);
    for (;;) {
      const agents = await this.#o.rooms.listAgents(room, this.#o.agentName);
      const now = this.#clock.now().getTime();
      const first = agents[0];
      if (first) {
        if (agents.length > 1)
          attempt.log.warn({ agents: agents.length }, 'more than one agent joined');
        return first.joinedAtMs ?? now;
      }
      if (now >= until) {
        if (deadline <= joinBy) {
          throw new PermanentError(
            'deadline_expired',
            'the request deadline passed before an agent joined',
          );
        }
        throw new TransientError(
          'agent_join_timeout',
          `no ${this.#o.agentName} agent joined within ${this.#o.joinTimeoutMs} ms`,
        );
      }
      await this.#clock.sleep(Math.min(this.#o.agentPollIntervalMs, until - now), signal);
    }
  }

  /** Renews the lease every third of its length; a failed renewal aborts the placement. */
  #heartbeat(attempt: Attempt, lost: AbortController): { stop(): void } {
    const id = attempt.request.sessionId;
    const timer = setInterval(
      () => {
        this.#o.leases.renew(id, attempt.owner, this.#clock.now(), this.#o.leaseMs).then(
          (held) => {
            if (!held) lost.abort(new LeaseLostError());
          },
          (err: unknown) => lost.abort(new LeaseLostError(err)),
        );
      },
      Math.floor(this.#o.leaseMs / 3),
    );
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  /** The session left `dispatching` while we placed it (failed by someone else, say). */
  async #movedOn(attempt: Attempt): Promise<Verdict> {
    const session = await this.#o.store.get(attempt.request.sessionId);
    attempt.log.warn({ state: session?.state }, 'session moved on during placement');
    // Our dispatch stays only if the session is active in our very room.
    if (session?.state !== 'active') await this.#cleanup(attempt);
    return session ? this.#duplicate(attempt, session) : { outcome: 'duplicate', action: 'ack' };
  }

  /**
   * A delivery of a session that is already placed or finished: nothing to do, except finishing
   * an announcement an earlier delivery could not publish. That happens under the lease, so it
   * never races the placing delivery's own announcement: whoever holds the lease announces, or
   * hands its message back and a later delivery does.
   */
  async #duplicate(attempt: Attempt, session: SessionRecord): Promise<Verdict> {
    attempt.settled = true;
    const verdict: Verdict = {
      outcome: 'duplicate',
      action: 'ack',
      ...(session.room ? { room: session.room } : {}),
    };
    const event = this.#owedAnnouncement(session);
    if (!event || (await this.#o.leases.wasAnnounced(session.sessionId, event.type))) {
      return verdict;
    }
    if (!attempt.holdsLease) {
      const now = this.#clock.now();
      if (!(await this.#o.leases.acquire(session.sessionId, attempt.owner, now, this.#o.leaseMs))) {
        return verdict;
      }
      attempt.holdsLease = true;
      if (await this.#o.leases.wasAnnounced(session.sessionId, event.type)) return verdict;
    }
    attempt.log.info({ event: event.type }, 'announcing what an earlier delivery could not');
    await this.#announce(attempt, event);
    return verdict;
  }

  /** The dispatcher's event for a settled session, if it has one. */
  #owedAnnouncement(session: SessionRecord): (SessionEvent & { type: Announcement }) | undefined {
    const at = this.#clock.now().toISOString();
    if (session.state === 'active' && session.room) {
      return {
        type: 'session.ready',
        sessionId: session.sessionId,
        at,
        room: session.room,
        livekitUrl: this.#o.livekitUrl,
      };
    }
    // Failed before it ever became active: placement failed, which is ours to announce.
    if (session.state === 'failed' && session.timestamps.active === undefined) {
      return {
        type: 'session.failed',
        sessionId: session.sessionId,
        at,
        reason: session.failureReason ?? 'placement failed',
        code: 'placement_failed',
      };
    }
    return undefined;
  }

  async #onFailure(attempt: Attempt, err: unknown): Promise<Verdict> {
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
      if (attempt.holdsLease && !attempt.settled) await this.#cleanup(attempt);
      return { outcome: 'requeued', action: 'nack', code };
    }
    if (attempt.settled) {
      // The session is placed (or finished); only its announcement is missing, and a
      // redelivery publishes it.
      log.warn({ ...where, err }, 'session settled but not announced');
      return {
        outcome: this.#lastAttempt(attempt) ? 'dead_lettered' : 'retried',
        action: 'nack',
        code,
      };
    }

    if (attempt.holdsLease) await this.#cleanup(attempt);
    const expired = err instanceof PermanentError && code === 'deadline_expired';
    const last = this.#lastAttempt(attempt);
    if (expired || last) {
      if (attempt.holdsLease) await this.#fail(attempt, code, reason);
      log.error({ ...where, code, err: expired ? undefined : err }, 'placement failed for good');
      return expired
        ? { outcome: 'failed', action: 'ack', code }
        : { outcome: 'dead_lettered', action: 'nack', code };
    }
    if (attempt.holdsLease) {
      // Keep the last reason on the session; re-entering dispatching is allowed for this.
      await this.#o.store
        .transition(attempt.request.sessionId, 'dispatching', this.#clock.now(), {
          failureReason: `${code}: ${reason}`,
        })
        .catch((e: unknown) => log.warn({ err: e }, 'could not record the failure reason'));
    }
    log.warn({ ...where, code, err }, 'placement failed; will retry');
    return { outcome: 'retried', action: 'nack', code };
  }

  #lastAttempt(attempt: Attempt): boolean {
    const delivery = attempt.msg.deliveryAttempt;
    // Without a dead-letter policy Pub/Sub does not count deliveries; fall back on ours.
    const count = delivery > 0 ? delivery : (attempt.attempts ?? 0);
    return count >= this.#o.maxDeliveryAttempts;
  }

  /** Marks the session failed and announces it; problems are logged, the message still moves. */
  async #fail(attempt: Attempt, code: string, reason: string): Promise<void> {
    const id = attempt.request.sessionId;
    try {
      const failed = await this.#o.store.transition(id, 'failed', this.#clock.now(), {
        failureReason: `${code}: ${reason}`,
      });
      if (!failed) {
        attempt.log.warn('session moved on before it could be failed');
        return;
      }
      await this.#announce(attempt, {
        type: 'session.failed',
        sessionId: id,
        at: this.#clock.now().toISOString(),
        reason,
        code,
      });
    } catch (err) {
      attempt.log.error({ err, code }, 'could not record or announce the failed session');
    }
  }

  async #announce(attempt: Attempt, event: SessionEvent & { type: Announcement }): Promise<void> {
    await this.#o.events.publish(event);
    await this.#o.leases.markAnnounced(event.sessionId, event.type, this.#clock.now());
  }

  /** Removes what this attempt created in LiveKit. The room is ours: nobody else is in it yet. */
  async #cleanup(attempt: Attempt): Promise<void> {
    const { room, dispatchId, log } = attempt;
    if (!room) return;
    if (dispatchId) {
      await this.#o.rooms
        .deleteDispatch(room, dispatchId)
        .catch((err: unknown) =>
          log.warn({ err, room, dispatchId }, 'could not delete the dispatch'),
        );
    }
    // Deleting the dispatch does not remove an agent that already joined; closing the room does.
    await this.#o.rooms
      .deleteRoom(room)
      .catch((err: unknown) => log.warn({ err, room }, 'could not delete the room'));
  }

  async #release(attempt: Attempt): Promise<void> {
    try {
      await this.#o.leases.release(attempt.request.sessionId, attempt.owner);
    } catch (err) {
      // It lapses on its own.
      attempt.log.warn({ err }, 'could not release the placement lease');
    }
    attempt.holdsLease = false;
  }

  async #reject(
    msg: InboundMessage,
    rejection: RejectionReason,
    receivedAt: Date,
    log: Logger,
  ): Promise<Verdict> {
    try {
      await this.#o.store.recordRejection({
        messageId: msg.id,
        sessionId: rejection.sessionId,
        code: rejection.code,
        reason: rejection.reason,
        receivedAt,
        detail: rejection.detail,
      });
      return { outcome: 'rejected', action: 'ack', code: rejection.code };
    } catch (err) {
      // Not recorded means not acked: it comes back, or lands on the dead-letter topic.
      log.warn({ err, code: rejection.code }, 'could not record a rejection');
      const last = msg.deliveryAttempt >= this.#o.maxDeliveryAttempts;
      return { outcome: last ? 'dead_lettered' : 'retried', action: 'nack', code: rejection.code };
    }
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
