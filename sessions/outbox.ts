/**
 * The escalation outbox: every escalation is stored here before it is published to
 * `session-events`, and stays "undelivered" until Pub/Sub has acknowledged it. The job that
 * raised it publishes it at once; relays sweep what a job could not deliver (Pub/Sub down past
 * the job's lifetime, a killed process). Entries are keyed by the escalation's idempotency key
 * (`Escalation.id`), so a retried or replayed write is a no-op, and several relays may publish the
 * same entry: consumers de-duplicate on the `escalationId` attribute.
 */
import { TransientError } from '../infra/errors.ts';
import { SessionEvent } from './schema.ts';

export type EscalationEvent = Extract<SessionEvent, { type: 'session.escalation' }>;

export interface OutboxEntry {
  /** The escalation's idempotency key (`Escalation.id`, `EscalationEvent.escalationId`). */
  id: string;
  sessionId: string;
  /** Exactly what is published. */
  event: EscalationEvent;
  createdAt: Date;
}

export interface DeliveryReceipt {
  id: string;
  deliveredAt: Date;
  /** Pub/Sub's message id: for audit only (the emulator restarts its ids at every start). */
  messageId?: string;
  /** Who published it: `job:<id>` or `relay:<instance>`. */
  by: string;
}

export interface OutboxDepth {
  /** Entries not yet known to be delivered. */
  undelivered: number;
  oldestCreatedAt: Date | undefined;
}

export interface EscalationOutbox {
  /** Stores an entry under its id. True if it was new; false if that id was already there. */
  add(entry: OutboxEntry): Promise<boolean>;
  /** Records the delivery; the entry leaves `pending`. Idempotent (the first receipt stands). */
  markDelivered(receipt: DeliveryReceipt): Promise<void>;
  isDelivered(id: string): Promise<boolean>;
  /**
   * Undelivered entries created at or before `createdBefore`, oldest first, at most `limit`.
   * An entry added again after its delivery is not pending.
   */
  pending(opts: { createdBefore: Date; limit: number }): Promise<OutboxEntry[]>;
  depth(): Promise<OutboxDepth>;
}

/** Validates an entry as it crosses into or out of a store. */
export function checkEntry(entry: OutboxEntry): OutboxEntry {
  const event = SessionEvent.parse(entry.event) as EscalationEvent;
  if (event.escalationId !== entry.id || event.sessionId !== entry.sessionId) {
    throw new TypeError('outbox entry id/sessionId disagree with its event');
  }
  return { id: entry.id, sessionId: entry.sessionId, event, createdAt: new Date(entry.createdAt) };
}

const byAge = (a: OutboxEntry, b: OutboxEntry): number =>
  a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The in-memory twin, for unit tests. `unavailable = true` makes every call fail retryably. */
export class MemoryEscalationOutbox implements EscalationOutbox {
  unavailable = false;
  readonly #entries = new Map<string, OutboxEntry>();
  readonly #deliveries = new Map<string, DeliveryReceipt>();

  async add(entry: OutboxEntry): Promise<boolean> {
    this.#check();
    const valid = checkEntry(entry);
    if (this.#entries.has(valid.id)) return false;
    this.#entries.set(valid.id, structuredClone(valid));
    return true;
  }

  async markDelivered(receipt: DeliveryReceipt): Promise<void> {
    this.#check();
    if (!this.#deliveries.has(receipt.id)) this.#deliveries.set(receipt.id, { ...receipt });
  }

  async isDelivered(id: string): Promise<boolean> {
    this.#check();
    return this.#deliveries.has(id);
  }

  async pending(opts: { createdBefore: Date; limit: number }): Promise<OutboxEntry[]> {
    this.#check();
    return [...this.#entries.values()]
      .filter((e) => !this.#deliveries.has(e.id) && e.createdAt <= opts.createdBefore)
      .sort(byAge)
      .slice(0, opts.limit)
      .map((e) => structuredClone(e));
  }

  async depth(): Promise<OutboxDepth> {
    this.#check();
    const open = [...this.#entries.values()].filter((e) => !this.#deliveries.has(e.id));
    open.sort(byAge);
    return { undelivered: open.length, oldestCreatedAt: open[0]?.createdAt };
  }

  #check(): void {
    if (this.unavailable) throw new TransientError('outbox_unavailable', 'outbox unavailable');
  }
}
