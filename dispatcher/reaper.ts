/**
 * The reaper: no session stays open for ever.
 *
 * - An `active` session whose agent is gone (its room is missing, or no agent is in it),
 *   and has stayed gone for `agentGoneMs`, becomes `interrupted` with endReason `agent_lost`,
 *   `session.completed` is published, and the room is closed (a patient left alone in it is
 *   disconnected). This is what ends the call of a SIGKILLed worker, which writes nothing.
 *   A session a draining worker handed to a successor (`handoff` on the record) is given
 *   `handoffGraceMs` from the handoff for that successor to arrive: on a busy host a job takes
 *   longer to start than an agent is allowed to be gone.
 * - An `active` session whose room LiveKit still lists but whose participants it cannot give
 *   (multi-node: the node hosting the room died, and nobody has reconnected to move the room
 *   to a survivor), seen so in two sweeps and for `agentGoneMs`, becomes `interrupted` with
 *   endReason `node_lost`. LiveKit itself being unreachable judges nothing.
 * - A session still `requested` or `dispatching` past its request deadline, or `stuckMs` after
 *   it was claimed, with nobody holding its placement lease, becomes `failed`
 *   (`deadline_expired` or `placement_abandoned`) and `session.failed` is published. Retrying is
 *   Pub/Sub's job while the request's message lives; a session still open this late has lost
 *   it (dead-lettered without its failure recorded, or never published), and
 *   `voicecare sessions replay` re-runs it.
 *
 * Every dispatcher runs one, with no leader: each change is a compare-and-set transition in the
 * store (of two reapers, or a reaper and the agent finishing its call, exactly one moves the
 * session, and only that one announces), and a stuck session is failed under its placement
 * lease, so never while a delivery is placing it. "Gone" is remembered per process: a session
 * is interrupted only after this reaper has seen it gone for the whole grace, so an agent that
 * leaves its room moments before it records the ending, or a job LiveKit re-offers to another
 * worker, is not cut short.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Counter, type Registry } from 'prom-client';
import { VoiceCareError } from '../infra/errors.ts';
import type { Logger } from '../infra/logger.ts';
import { settlesWithin, systemClock, type Clock } from '../infra/time.ts';
import type { SessionEventPublisher } from '../sessions/events.ts';
import type { SessionRecord } from '../sessions/schema.ts';
import type { SessionStore } from '../sessions/store.ts';
import type { PlacementLeases } from './leases.ts';
import type { AgentRooms } from './livekit.ts';

/** Why the reaper ended a session: the record's `endReason` / `failureCode`. */
export const REAPER_CODES = {
  /** An active session's agent is gone (worker killed, job crashed, room closed under it). */
  agentLost: 'agent_lost',
  /** An active session's room is on a LiveKit node that no longer answers (node died). */
  nodeLost: 'node_lost',
  /** Open past its request deadline with nobody placing it. */
  deadlineExpired: 'deadline_expired',
  /** Open for `stuckMs` with nobody placing it: its request message is gone. */
  placementAbandoned: 'placement_abandoned',
} as const;

export interface ReaperOptions {
  store: SessionStore;
  leases: PlacementLeases;
  rooms: Pick<AgentRooms, 'roomExists' | 'listAgents' | 'deleteRoom'>;
  events: SessionEventPublisher;
  logger: Logger;
  /** @defaultValue {@link systemClock} */
  clock?: Clock;
  /** Names this reaper in lease owners and logs. @defaultValue `<hostname>-<pid>-<random>` */
  instanceId?: string;
  /** Between sweeps, for {@link Reaper.start}. @defaultValue 30_000 */
  intervalMs?: number;
  /** How long an agent must be seen gone before its session is interrupted. @defaultValue 20_000 */
  agentGoneMs?: number;
  /**
   * After a handoff, how long the successor may take to arrive before the agent counts as gone
   * (and then `agentGoneMs` more). @defaultValue 45_000
   */
  handoffGraceMs?: number;
  /** An unplaced session older than this (since its claim) is failed. @defaultValue 900_000 */
  stuckMs?: number;
  /** Sessions changed within this window are swept. @defaultValue 86_400_000 */
  lookbackMs?: number;
  /** Held while failing a stuck session. @defaultValue 30_000 */
  leaseMs?: number;
  /** Sessions looked at per sweep, least recently changed first. @defaultValue 500 */
  batchSize?: number;
  /** Sessions judged at once within a sweep. @defaultValue 8 */
  concurrency?: number;
  /** Where to count what the reaper did. */
  registry?: Registry;
}

export const reaperDefaults = {
  intervalMs: 30_000,
  agentGoneMs: 20_000,
  handoffGraceMs: 45_000,
  stuckMs: 15 * 60_000,
  lookbackMs: 24 * 3_600_000,
  leaseMs: 30_000,
  batchSize: 500,
  concurrency: 8,
} as const;

export interface SweepReport {
  /** Open sessions looked at. */
  checked: number;
  /** Active sessions this reaper moved to `interrupted`. */
  interrupted: string[];
  /** Unplaced sessions this reaper moved to `failed`. */
  failed: string[];
  /** Active sessions seen without their agent, not yet for the whole grace. */
  suspects: number;
  /** Sessions that could not be judged this time (LiveKit or the store unreachable). */
  errors: number;
}

const OPEN_STATES = ['requested', 'dispatching', 'active'] as const;

export class Reaper {
  readonly #o: Required<Omit<ReaperOptions, 'registry' | 'clock'>>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #reaped: Counter<'outcome'>;
  /** sessionId → when this reaper first saw its agent gone (clock ms). */
  readonly #goneSince = new Map<string, number>();
  /** sessionId → when this reaper first found its room's node unreachable, and how often. */
  readonly #unreachable = new Map<string, { sinceMs: number; sweeps: number }>();
  #running: Promise<SweepReport> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(opts: ReaperOptions) {
    const given = Object.fromEntries(
      Object.entries(opts).filter(([, v]) => v !== undefined),
    ) as ReaperOptions;
    const o = {
      ...reaperDefaults,
      instanceId: `${hostname()}-${process.pid}-${randomUUID().slice(0, 4)}`,
      ...given,
    };
    for (const name of ['stuckMs', 'lookbackMs', 'leaseMs', 'batchSize', 'concurrency'] as const) {
      if (!Number.isFinite(o[name]) || o[name] <= 0) {
        throw new Error(`ReaperOptions.${name} must be a positive number, got ${o[name]}`);
      }
    }
    for (const name of ['intervalMs', 'agentGoneMs', 'handoffGraceMs'] as const) {
      if (!Number.isFinite(o[name]) || o[name] < 0) {
        throw new Error(`ReaperOptions.${name} must not be negative, got ${o[name]}`);
      }
    }
    this.#o = o;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger.child({ component: 'reaper', instanceId: o.instanceId });
    this.#reaped = new Counter({
      name: 'voicecare_dispatcher_reaped_total',
      help: 'Open sessions the reaper ended, by what it found',
      labelNames: ['outcome'],
      registers: opts.registry ? [opts.registry] : [],
    });
  }

  /**
   * One pass over the open sessions. Never rejects: a session that cannot be judged now (a
   * LiveKit or store error) is counted in `errors` and looked at again next time. Concurrent
   * calls share the pass in progress.
   */
  sweep(): Promise<SweepReport> {
    this.#running ??= this.#sweep().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Sweeps every `intervalMs` until {@link stop}; one sweep at a time. 0 means never. */
  start(): void {
    if (this.#o.intervalMs === 0 || this.#timer || this.#stopped) return;
    const tick = (): void => {
      this.#timer = undefined;
      if (this.#stopped) return;
      void this.sweep().then(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, this.#o.intervalMs).unref();
      });
    };
    this.#timer = setTimeout(tick, this.#o.intervalMs).unref();
    this.#log.info({ intervalMs: this.#o.intervalMs }, 'reaper started');
  }

  /** Stops sweeping; waits up to `timeoutMs` for a sweep in progress. */
  async stop(timeoutMs = 3000): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#running) await settlesWithin(this.#running, timeoutMs, 'reaper sweep');
  }

  async #sweep(): Promise<SweepReport> {
    const report: SweepReport = { checked: 0, interrupted: [], failed: [], suspects: 0, errors: 0 };
    const now = this.#clock.now();
    let open: SessionRecord[];
    try {
      open = await this.#o.store.listInStates(OPEN_STATES, {
        changedSince: new Date(now.getTime() - this.#o.lookbackMs),
        limit: this.#o.batchSize,
      });
    } catch (err) {
      this.#log.warn({ err }, 'reaper could not list open sessions');
      report.errors += 1;
      return report;
    }
    const activeIds = new Set<string>();
    const judge = async (session: SessionRecord): Promise<void> => {
      report.checked += 1;
      try {
        if (session.state === 'active') {
          activeIds.add(session.sessionId);
          await this.#checkActive(session, report);
        } else {
          await this.#checkUnplaced(session, report);
        }
      } catch (err) {
        report.errors += 1;
        this.#log.warn(
          { err, sessionId: session.sessionId, code: codeOf(err) },
          'reaper could not judge a session',
        );
      }
    };
    // A few at a time: with a LiveKit node dead, each question about a room on it waits out the
    // request timeout, and one at a time a sweep of a few hundred sessions took minutes, so a
    // dead node's sessions waited that long for their second sighting (issue 18).
    let next = 0;
    const lanes = Array.from({ length: Math.min(this.#o.concurrency, open.length) }, async () => {
      while (next < open.length) await judge(open[next++]!);
    });
    await Promise.all(lanes);
    // Forget sessions that are no longer active (ended, or reaped by someone else).
    for (const id of this.#goneSince.keys()) if (!activeIds.has(id)) this.#goneSince.delete(id);
    for (const id of this.#unreachable.keys()) if (!activeIds.has(id)) this.#unreachable.delete(id);
    report.suspects = this.#goneSince.size + this.#unreachable.size;
    if (report.interrupted.length || report.failed.length || report.errors) {
      this.#log.info(
        {
          checked: report.checked,
          interrupted: report.interrupted.length,
          failed: report.failed.length,
          suspects: report.suspects,
          errors: report.errors,
        },
        'reaper sweep',
      );
    }
    return report;
  }

  async #checkActive(session: SessionRecord, report: SweepReport): Promise<void> {
    const { sessionId, room } = session;
    // Any agent counts, of whatever pool: a database may serve several agent names, and a
    // call with an agent in it must never be cut.
    let agents;
    try {
      agents = room ? await this.#o.rooms.listAgents(room) : [];
    } catch (err) {
      if (!room || !(await this.#roomListed(room))) throw err;
      // LiveKit answers, and lists the room, but not who is in it: its node is gone.
      report.errors += 1;
      if (this.#nodeLostFor(sessionId)) await this.#interrupt(session, report, true, true);
      return;
    }
    this.#unreachable.delete(sessionId);
    if (agents.length > 0) {
      this.#goneSince.delete(sessionId);
      return;
    }
    const nowMs = this.#clock.now().getTime();
    // Gone is counted from when a successor should have arrived, at the earliest.
    const handoffAt = session.handoff?.requestedAt.getTime();
    if (handoffAt !== undefined && nowMs < handoffAt + this.#o.handoffGraceMs) return;
    const since = this.#goneSince.get(sessionId) ?? nowMs;
    this.#goneSince.set(sessionId, since);
    if (nowMs - since < this.#o.agentGoneMs) return;

    const roomExists = room ? await this.#o.rooms.roomExists(room) : false;
    await this.#interrupt(session, report, roomExists, false);
  }

  /** Whether LiveKit answers and lists the room; false when it does not answer at all. */
  async #roomListed(room: string): Promise<boolean> {
    try {
      return await this.#o.rooms.roomExists(room);
    } catch {
      return false;
    }
  }

  /**
   * Counts one more sweep that found the session's room node unreachable; true once that has
   * held for two sweeps and `agentGoneMs`. The first sighting never acts: a single failed
   * question is as likely a blip of the node as its death.
   */
  #nodeLostFor(sessionId: string): boolean {
    const nowMs = this.#clock.now().getTime();
    const seen = this.#unreachable.get(sessionId) ?? { sinceMs: nowMs, sweeps: 0 };
    seen.sweeps += 1;
    this.#unreachable.set(sessionId, seen);
    return seen.sweeps >= 2 && nowMs - seen.sinceMs >= this.#o.agentGoneMs;
  }

  async #interrupt(
    session: SessionRecord,
    report: SweepReport,
    roomExists: boolean,
    nodeLost: boolean,
  ): Promise<void> {
    const { sessionId, room } = session;
    const code = nodeLost ? REAPER_CODES.nodeLost : REAPER_CODES.agentLost;
    const why = nodeLost
      ? 'the LiveKit node hosting its room does not answer'
      : roomExists
        ? 'no agent in the room'
        : 'the room is gone';
    const at = this.#clock.now();
    const moved = await this.#o.store.transition(sessionId, 'interrupted', at, {
      endReason: code,
      failureCode: code,
      failureReason: `the agent is gone: ${why}`,
    });
    this.#goneSince.delete(sessionId);
    this.#unreachable.delete(sessionId);
    // Refused: the agent recorded its ending, or another reaper got there first.
    if (!moved) return;
    report.interrupted.push(sessionId);
    this.#reaped.inc({ outcome: code });
    this.#log.warn(
      { sessionId, room, roomExists, code },
      'active session lost its agent; interrupted',
    );
    await this.#publish({
      type: 'session.completed',
      sessionId,
      at: at.toISOString(),
      state: 'interrupted',
      reason: code,
    });
    if (room && roomExists) {
      await this.#o.rooms
        .deleteRoom(room)
        .catch((err: unknown) => this.#log.warn({ err, room }, 'could not close the room'));
    }
  }

  async #checkUnplaced(session: SessionRecord, report: SweepReport): Promise<void> {
    const { sessionId } = session;
    const now = this.#clock.now();
    const deadlinePassed = session.deadline !== undefined && session.deadline <= now;
    const claimedAt = session.timestamps.requested ?? session.requestedAt;
    const abandoned = now.getTime() - claimedAt.getTime() >= this.#o.stuckMs;
    if (!deadlinePassed && !abandoned) return;

    // Under the placement lease, so never while a delivery is placing it. The owner carries no
    // message id: a copy of the request arriving meanwhile waits rather than being acked.
    const owner = `reaper:${this.#o.instanceId}:${randomUUID().slice(0, 8)}`;
    if (!(await this.#o.leases.acquire(sessionId, owner, now, this.#o.leaseMs))) return;
    try {
      const current = await this.#o.store.get(sessionId);
      if (current?.state !== 'requested' && current?.state !== 'dispatching') return;
      const code = deadlinePassed ? REAPER_CODES.deadlineExpired : REAPER_CODES.placementAbandoned;
      const reason = deadlinePassed
        ? 'the request deadline passed before the session was placed'
        : `not placed within ${Math.round(this.#o.stuckMs / 1000)} s of being requested`;
      const at = this.#clock.now();
      const moved = await this.#o.store.transition(sessionId, 'failed', at, {
        failureCode: code,
        failureReason: reason,
      });
      if (!moved) return;
      report.failed.push(sessionId);
      this.#reaped.inc({ outcome: code });
      this.#log.warn({ sessionId, code, state: current.state }, 'unplaced session failed');
      // As the dispatcher announces a failed placement: once, remembered in the lease store,
      // so a late delivery of the request finds it announced.
      if (!(await this.#o.leases.wasAnnounced(sessionId, 'session.failed'))) {
        const published = await this.#publish({
          type: 'session.failed',
          sessionId,
          at: at.toISOString(),
          reason,
          code,
        });
        if (published) await this.#o.leases.markAnnounced(sessionId, 'session.failed', at);
      }
      if (current.room) {
        await this.#o.rooms
          .deleteRoom(current.room)
          .catch((err: unknown) =>
            this.#log.warn({ err, room: current.room }, 'could not close the room'),
          );
      }
    } finally {
      await this.#o.leases
        .release(sessionId, owner)
        .catch((err: unknown) => this.#log.warn({ err, sessionId }, 'could not release the lease'));
    }
  }

  /** Publishes with a few bounded tries; false (logged) when the broker never took it. */
  async #publish(event: Parameters<SessionEventPublisher['publish']>[0]): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#o.events.publish(event);
        return true;
      } catch (err) {
        if (attempt >= 3) {
          this.#log.error(
            { err, sessionId: event.sessionId, event: event.type },
            'reaper could not announce',
          );
          return false;
        }
        await this.#clock.sleep(250 * attempt);
      }
    }
  }
}

function codeOf(err: unknown): string | undefined {
  return err instanceof VoiceCareError ? err.code : undefined;
}
