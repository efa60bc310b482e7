/**
 * Live calls survive a worker shutting down (SIGTERM: a scale-in, a deploy). Cloud Run gives a
 * worker ~10 s after SIGTERM; a call lasts minutes. Holding the call until the drain timeout only
 * delays its end (`interrupted`, the patient alone in the room). Instead:
 *
 * 1. The worker's main process, on SIGTERM, dispatches each of its live calls again, to the same
 *    room, with a `handoff` note in the job metadata (`sessions/intake.ts`). The draining worker
 *    reports itself full and refuses new jobs, so LiveKit offers it to another worker.
 * 2. The new job joins and asks the old agent, by RPC, to step aside. The old job stops speaking,
 *    writes what it holds (transcript, answers), answers the RPC and leaves without ending the
 *    session.
 * 3. The new job resumes the call as any resumed job does (`resume.ts`): the transcript's `seq`
 *    continues, the protocol picks up from the captured answers, and the patient hears the
 *    resume line.
 *
 * The session notes the handoff (`SessionRecord.handoff`). When the drain runs out before the
 * successor has asked, the old job flushes what it holds and leaves the call `active` for it:
 * on a busy host a new job can take longer to start than the platform's grace period. If no
 * successor ever comes, the reaper ends the call (`agent_lost`) once no agent has been in the
 * room for its grace. Without a note (the note failed), the old job ends the call `interrupted`
 * as before, and a late successor finds it ended and leaves.
 */
import type { Logger } from '../infra/logger.ts';
import { withTimeout } from '../infra/time.ts';
import { handoffMetadata, readJobMetadata } from '../sessions/intake.ts';
import type { SessionStore } from '../sessions/store.ts';

/** The RPC the successor calls on the old agent. */
export const HANDOVER_RPC = 'voicecare.handover';

/** The participant identity the framework gives a job's agent (`JobRequest.accept`). */
export function agentIdentity(jobId: string): string {
  return `agent-${jobId}`;
}

export interface HandoverRequest {
  sessionId: string;
}

export interface HandoverReply {
  ok: boolean;
  /** Why the old agent did not step aside. */
  reason?: 'wrong_session' | 'not_an_agent' | 'ending' | 'bad_request';
  /** The first seq the successor may write (everything before it is stored or spooled). */
  nextSeq?: number;
}

/** Reads a handover RPC payload; never throws. */
export function readHandoverRequest(payload: string): HandoverRequest | undefined {
  try {
    const v = JSON.parse(payload) as unknown;
    if (typeof v !== 'object' || v === null) return undefined;
    const sessionId = (v as Record<string, unknown>)['sessionId'];
    return typeof sessionId === 'string' && sessionId ? { sessionId } : undefined;
  } catch {
    return undefined;
  }
}

export function readHandoverReply(payload: string): HandoverReply {
  try {
    const v = JSON.parse(payload) as Partial<HandoverReply>;
    return {
      ok: v.ok === true,
      ...(typeof v.reason === 'string' ? { reason: v.reason } : {}),
      ...(Number.isInteger(v.nextSeq) ? { nextSeq: v.nextSeq! } : {}),
    };
  } catch {
    return { ok: false, reason: 'bad_request' };
  }
}

export interface LedgerEntry {
  jobId: string;
  room: string;
  /** The job metadata as dispatched (the session request, with its trace). */
  metadata: string;
  acceptedAtMs: number;
}

export interface JobLedgerOptions {
  /** Entries older than this are forgotten (no call outlives the maximum session length). */
  maxAgeMs: number;
  now?: () => number;
}

/**
 * The jobs this worker has taken, for the main process (the framework keeps its own list in
 * the server it does not expose). Bounded by age: a call cannot outlive the maximum session.
 */
export class JobLedger {
  readonly #jobs = new Map<string, LedgerEntry>();
  readonly #maxAgeMs: number;
  readonly #now: () => number;

  constructor(opts: JobLedgerOptions) {
    if (!(opts.maxAgeMs > 0)) throw new Error('JobLedger: maxAgeMs must be positive');
    this.#maxAgeMs = opts.maxAgeMs;
    this.#now = opts.now ?? Date.now;
  }

  note(job: Omit<LedgerEntry, 'acceptedAtMs'>): void {
    this.prune();
    this.#jobs.set(job.jobId, { ...job, acceptedAtMs: this.#now() });
  }

  /** Jobs taken within the maximum age, oldest first. */
  recent(): LedgerEntry[] {
    this.prune();
    return [...this.#jobs.values()];
  }

  private prune(): void {
    const cutoff = this.#now() - this.#maxAgeMs;
    for (const [id, e] of this.#jobs) if (e.acceptedAtMs < cutoff) this.#jobs.delete(id);
  }
}

/** The one LiveKit operation a handoff needs. */
export interface HandoffDispatcher {
  createDispatch(room: string, agentName: string, metadata: string): Promise<unknown>;
}

export interface HandOverDeps {
  dispatcher: HandoffDispatcher;
  sessions: Pick<SessionStore, 'get' | 'noteHandoff'>;
  agentName: string;
  log: Logger;
  now?: () => Date;
  /** Each read and dispatch; the whole handoff must fit the platform's grace period. */
  stepTimeoutMs?: number;
}

export interface HandOverReport {
  /** Calls dispatched to a successor. */
  dispatched: number;
  /** Of those, calls whose session records the handoff, so the old job leaves them open. */
  noted: number;
  /** Jobs whose session is no longer live in their room (ended, or moved on). */
  skipped: number;
  failed: number;
}

/**
 * Dispatches every live call among `jobs` to a successor. A job's call is live when its session
 * is `active` in the job's room; the store says so, not this process's memory.
 */
export async function handOverLiveCalls(
  jobs: readonly LedgerEntry[],
  deps: HandOverDeps,
): Promise<HandOverReport> {
  const now = deps.now ?? (() => new Date());
  const stepMs = deps.stepTimeoutMs ?? 2000;
  const report: HandOverReport = { dispatched: 0, noted: 0, skipped: 0, failed: 0 };
  await Promise.all(
    jobs.map(async (job) => {
      const intake = readJobMetadata(job.metadata);
      if (!intake.ok) {
        report.skipped += 1;
        return;
      }
      const { sessionId } = intake.request;
      try {
        const record = await withTimeout(deps.sessions.get(sessionId), stepMs, 'session read');
        if (record?.state !== 'active' || (record.room && record.room !== job.room)) {
          report.skipped += 1;
          return;
        }
        const requestedAt = now();
        const metadata = handoffMetadata(job.metadata, {
          fromJob: job.jobId,
          requestedAt: requestedAt.toISOString(),
        });
        await withTimeout(
          deps.dispatcher.createDispatch(job.room, deps.agentName, metadata),
          stepMs,
          'handoff dispatch',
        );
        report.dispatched += 1;
        deps.log.info({ sessionId, jobId: job.jobId }, 'live call dispatched to a successor');
        // Noted after the dispatch, never before: a note with no successor coming would keep
        // the old job from ending the call when its drain runs out.
        const noted = await withTimeout(
          deps.sessions.noteHandoff(sessionId, { fromJob: job.jobId, requestedAt }, now()),
          stepMs,
          'handoff note',
        ).catch((err: unknown) => {
          deps.log.warn(
            { err, sessionId },
            'could not note the handoff; the old job will end the call',
          );
          return false;
        });
        if (noted) report.noted += 1;
      } catch (err) {
        report.failed += 1;
        deps.log.warn({ err, sessionId, jobId: job.jobId }, 'could not hand the call over');
      }
    }),
  );
  return report;
}
