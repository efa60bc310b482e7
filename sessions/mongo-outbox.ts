/**
 * The escalation outbox on MongoDB (FerretDB locally). FerretDB v1 has no transactions and
 * applies updates as whole-document last-writer-wins, but arbitrates inserts against a unique
 * key atomically (see sessions/mongo-store.ts). So nothing here is ever updated:
 *
 * - `escalation_outbox`: one insert per escalation, `_id` = escalation id. A replayed write is a
 *   duplicate key, i.e. "already stored".
 * - `escalation_deliveries`: one insert per delivered escalation, `_id` = escalation id. This is
 *   the record of truth for "delivered"; several relays racing to mark one entry all succeed.
 *
 * After the receipt is stored the outbox entry is deleted, so sweeps only ever read undelivered
 * work (FerretDB scans collections; a growing outbox would slow every sweep). A crash between
 * the two leaves an entry whose receipt exists: `pending` filters it out and finishes the delete.
 * The receipt keeps the full event, so the delete loses nothing.
 */
import type { Collection, Db, Document } from 'mongodb';
import { isDuplicateKeyError } from '../infra/mongo.ts';
import { toStoreError } from './mongo-store.ts';
import {
  checkEntry,
  type DeliveryReceipt,
  type EscalationOutbox,
  type OutboxDepth,
  type OutboxEntry,
} from './outbox.ts';

export const OUTBOX_COLLECTIONS = {
  outbox: 'escalation_outbox',
  deliveries: 'escalation_deliveries',
} as const;

interface OutboxDocument extends Document {
  _id: string;
  sessionId: string;
  event: Document;
  createdAt: Date;
}

interface DeliveryDocument extends Document {
  _id: string;
  deliveredAt: Date;
  by: string;
  messageId?: string;
  sessionId?: string;
  event?: Document;
}

/** Idempotent; run at startup where the other indexes are ensured. */
export async function ensureOutboxIndexes(db: Db): Promise<void> {
  // `_id` is the unique key; sweeps read oldest first.
  await guarded('ensureOutboxIndexes', () =>
    db
      .collection(OUTBOX_COLLECTIONS.outbox)
      .createIndexes([{ key: { createdAt: 1 }, name: 'createdAt' }]),
  );
}

async function guarded<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toStoreError(err, operation);
  }
}

export class MongoEscalationOutbox implements EscalationOutbox {
  readonly #outbox: Collection<OutboxDocument>;
  readonly #deliveries: Collection<DeliveryDocument>;

  constructor(opts: { db: Db }) {
    this.#outbox = opts.db.collection<OutboxDocument>(OUTBOX_COLLECTIONS.outbox);
    this.#deliveries = opts.db.collection<DeliveryDocument>(OUTBOX_COLLECTIONS.deliveries);
  }

  async add(entry: OutboxEntry): Promise<boolean> {
    const valid = checkEntry(entry);
    return guarded('outbox.add', async () => {
      try {
        await this.#outbox.insertOne({
          _id: valid.id,
          sessionId: valid.sessionId,
          event: { ...valid.event },
          createdAt: valid.createdAt,
        });
        return true;
      } catch (err) {
        if (isDuplicateKeyError(err)) return false;
        throw err;
      }
    });
  }

  async markDelivered(receipt: DeliveryReceipt): Promise<void> {
    await guarded('outbox.markDelivered', async () => {
      const entry = await this.#outbox.findOne({ _id: receipt.id });
      try {
        await this.#deliveries.insertOne({
          _id: receipt.id,
          deliveredAt: receipt.deliveredAt,
          by: receipt.by,
          ...(receipt.messageId === undefined ? {} : { messageId: receipt.messageId }),
          ...(entry ? { sessionId: entry.sessionId, event: entry.event } : {}),
        });
      } catch (err) {
        // Another publisher of the same entry recorded it first: its receipt stands.
        if (!isDuplicateKeyError(err)) throw err;
      }
      await this.#outbox.deleteOne({ _id: receipt.id });
    });
  }

  async isDelivered(id: string): Promise<boolean> {
    return guarded('outbox.isDelivered', async () => {
      return (await this.#deliveries.findOne({ _id: id }, { projection: { _id: 1 } })) !== null;
    });
  }

  async pending(opts: { createdBefore: Date; limit: number }): Promise<OutboxEntry[]> {
    return guarded('outbox.pending', async () => {
      const docs = await this.#outbox
        .find({ createdAt: { $lte: opts.createdBefore } })
        .sort({ createdAt: 1, _id: 1 })
        .limit(opts.limit)
        .toArray();
      if (docs.length === 0) return [];
      const ids = docs.map((d) => d._id);
      const delivered = new Set(
        (
          await this.#deliveries.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray()
        ).map((d) => d._id),
      );
      // Delivered, but the delete after the receipt did not happen (crash, lost connection).
      if (delivered.size > 0) await this.#outbox.deleteMany({ _id: { $in: [...delivered] } });
      return docs
        .filter((d) => !delivered.has(d._id))
        .map((d) =>
          checkEntry({
            id: d._id,
            sessionId: d.sessionId,
            event: d.event as OutboxEntry['event'],
            createdAt: d.createdAt,
          }),
        );
    });
  }

  async depth(): Promise<OutboxDepth> {
    return guarded('outbox.depth', async () => {
      const [undelivered, oldest] = await Promise.all([
        this.#outbox.countDocuments({}),
        this.#outbox
          .find({}, { projection: { createdAt: 1 } })
          .sort({ createdAt: 1 })
          .limit(1)
          .next(),
      ]);
      return { undelivered, oldestCreatedAt: oldest?.createdAt };
    });
  }
}
