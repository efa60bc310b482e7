/**
 * The knowledge stores on MongoDB (FerretDB locally). Three collections: one document per
 * uploaded version (unique on docId + version: that is how a version number is claimed), one
 * per document for its retirement, and the follow-up items (unique on id).
 */
import type { Collection, Db, Document } from 'mongodb';
import { isDuplicateKeyError } from '../infra/mongo.ts';
import { guarded, toStoreError, withoutId } from '../sessions/mongo-store.ts';
import type { AuditStamp, DocumentVersion, FollowUp, KnowledgeDocument } from './schema.ts';
import {
  groupDocuments,
  KnowledgeStoreError,
  newestApproved,
  pendingVersion,
  type ApprovedSource,
  type FollowUpStore,
  type KnowledgeStore,
  type NewVersion,
} from './store.ts';

export const KNOWLEDGE_COLLECTIONS = Object.freeze({
  versions: 'knowledge_versions',
  documents: 'knowledge_documents',
  followUps: 'knowledge_follow_ups',
});

/** Concurrent uploads of one document race for a version number; this many tries at most. */
const MAX_VERSION_CLAIMS = 5;

export async function ensureKnowledgeIndexes(db: Db): Promise<void> {
  await db
    .collection(KNOWLEDGE_COLLECTIONS.versions)
    .createIndex({ docId: 1, version: 1 }, { unique: true });
  await db.collection(KNOWLEDGE_COLLECTIONS.versions).createIndex({ profiles: 1 });
  await db.collection(KNOWLEDGE_COLLECTIONS.documents).createIndex({ docId: 1 }, { unique: true });
  await db.collection(KNOWLEDGE_COLLECTIONS.followUps).createIndex({ sessionId: 1, at: 1 });
}

interface RetiredDoc {
  docId: string;
  retired?: AuditStamp;
}

export class MongoKnowledgeStore implements KnowledgeStore {
  readonly #versions: Collection;
  readonly #documents: Collection;

  constructor(opts: { db: Db }) {
    this.#versions = opts.db.collection(KNOWLEDGE_COLLECTIONS.versions);
    this.#documents = opts.db.collection(KNOWLEDGE_COLLECTIONS.documents);
  }

  async #retiredMap(docIds?: readonly string[]): Promise<Map<string, AuditStamp>> {
    const filter = docIds
      ? { docId: { $in: [...docIds] }, retired: { $exists: true } }
      : { retired: { $exists: true } };
    const docs = await guarded('retired', () => this.#documents.find(filter).toArray());
    return new Map(
      docs
        .map((d) => withoutId<RetiredDoc>(d))
        .flatMap((d) => (d.retired ? [[d.docId, d.retired]] : [])),
    );
  }

  async addVersion(input: NewVersion): Promise<DocumentVersion> {
    if ((await this.#retiredMap([input.docId])).has(input.docId)) {
      throw new KnowledgeStoreError('document_retired', `document ${input.docId} is retired`);
    }
    for (let attempt = 1; ; attempt++) {
      const last = await guarded('addVersion', () =>
        this.#versions
          .find({ docId: input.docId }, { projection: { version: 1 } })
          .sort({ version: -1 })
          .limit(1)
          .toArray(),
      );
      const version = ((last[0]?.['version'] as number | undefined) ?? 0) + 1;
      const doc = pendingVersion(input, version);
      try {
        await this.#versions.insertOne({ ...doc });
        await guarded('addVersion', () =>
          this.#documents.updateOne(
            { docId: input.docId },
            { $setOnInsert: { docId: input.docId } },
            { upsert: true },
          ),
        );
        return doc;
      } catch (err) {
        if (isDuplicateKeyError(err) && attempt < MAX_VERSION_CLAIMS) continue;
        throw toStoreError(err, 'addVersion');
      }
    }
  }

  async getDocument(docId: string): Promise<KnowledgeDocument | null> {
    const versions = await guarded('getDocument', () => this.#versions.find({ docId }).toArray());
    if (versions.length === 0) return null;
    const docs = groupDocuments(
      versions.map((v) => withoutId<DocumentVersion>(v)),
      await this.#retiredMap([docId]),
    );
    return docs[0] ?? null;
  }

  async listDocuments(filter: { profileId?: string } = {}): Promise<KnowledgeDocument[]> {
    const query = filter.profileId ? { profiles: filter.profileId } : {};
    const matching = await guarded('listDocuments', () => this.#versions.find(query).toArray());
    const docIds = [...new Set(matching.map((v) => v['docId'] as string))];
    // Every version of a matching document, attached to the profile or not.
    const versions = filter.profileId
      ? await guarded('listDocuments', () =>
          this.#versions.find({ docId: { $in: docIds } }).toArray(),
        )
      : matching;
    return groupDocuments(
      versions.map((v) => withoutId<DocumentVersion>(v)),
      await this.#retiredMap(docIds),
    );
  }

  async approve(docId: string, version: number, stamp: AuditStamp): Promise<DocumentVersion> {
    const found = await guarded('approve', () => this.#versions.findOne({ docId, version }));
    if (!found) {
      throw new KnowledgeStoreError('version_not_found', `${docId} has no version ${version}`);
    }
    if ((await this.#retiredMap([docId])).has(docId)) {
      throw new KnowledgeStoreError('document_retired', `document ${docId} is retired`);
    }
    const res = await guarded('approve', () =>
      this.#versions.findOneAndUpdate(
        { docId, version, status: 'pending' },
        { $set: { status: 'approved', approved: stamp } },
        { returnDocument: 'after' },
      ),
    );
    if (!res) {
      throw new KnowledgeStoreError(
        'version_not_pending',
        `${docId} v${version} is ${String(found['status'])}`,
      );
    }
    await guarded('approve', () =>
      this.#versions.updateMany(
        { docId, status: 'approved', version: { $lt: version } },
        { $set: { status: 'superseded', superseded: stamp } },
      ),
    );
    return withoutId<DocumentVersion>(res);
  }

  async retire(docId: string, stamp: AuditStamp): Promise<KnowledgeDocument> {
    const exists = await guarded('retire', () => this.#versions.findOne({ docId }));
    if (!exists) throw new KnowledgeStoreError('document_not_found', `no document ${docId}`);
    await guarded('retire', () =>
      this.#documents.updateOne(
        { docId, retired: { $exists: false } },
        { $set: { retired: stamp } },
      ),
    );
    return (await this.getDocument(docId)) as KnowledgeDocument;
  }

  async approvedSources(profileId: string): Promise<ApprovedSource[]> {
    const versions = await guarded('approvedSources', () =>
      this.#versions.find({ profiles: profileId, status: 'approved' }).toArray(),
    );
    const list = versions.map((v) => withoutId<DocumentVersion>(v));
    const retired = await this.#retiredMap([...new Set(list.map((v) => v.docId))]);
    return newestApproved(list, new Set(retired.keys()), profileId);
  }
}

export class MongoFollowUpStore implements FollowUpStore {
  readonly #items: Collection<Document>;

  constructor(opts: { db: Db }) {
    this.#items = opts.db.collection(KNOWLEDGE_COLLECTIONS.followUps);
  }

  async addFollowUp(item: FollowUp): Promise<void> {
    await guarded('addFollowUp', () =>
      this.#items.updateOne(
        { _id: item.id as unknown as Document['_id'] },
        { $setOnInsert: { ...item } },
        { upsert: true },
      ),
    );
  }

  async listFollowUps(sessionId: string): Promise<FollowUp[]> {
    const docs = await guarded('listFollowUps', () =>
      this.#items.find({ sessionId }).sort({ at: 1 }).toArray(),
    );
    return docs.map((d) => withoutId<FollowUp>(d));
  }
}
