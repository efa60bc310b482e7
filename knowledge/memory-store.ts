/** The in-memory twin of the MongoDB knowledge stores, for unit tests (see store.contract.ts). */
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

const copy = <T>(v: T): T => structuredClone(v);

export class MemoryKnowledgeStore implements KnowledgeStore {
  readonly #versions: DocumentVersion[] = [];
  readonly #retired = new Map<string, AuditStamp>();

  async addVersion(input: NewVersion): Promise<DocumentVersion> {
    if (this.#retired.has(input.docId)) {
      throw new KnowledgeStoreError('document_retired', `document ${input.docId} is retired`);
    }
    const version =
      Math.max(0, ...this.#versions.filter((v) => v.docId === input.docId).map((v) => v.version)) +
      1;
    const doc = pendingVersion(input, version);
    this.#versions.push(doc);
    return copy(doc);
  }

  async getDocument(docId: string): Promise<KnowledgeDocument | null> {
    const found = groupDocuments(
      this.#versions.filter((v) => v.docId === docId),
      this.#retired,
    );
    return found[0] ? copy(found[0]) : null;
  }

  async listDocuments(filter: { profileId?: string } = {}): Promise<KnowledgeDocument[]> {
    const docs = groupDocuments(this.#versions, this.#retired);
    const { profileId } = filter;
    return copy(
      profileId ? docs.filter((d) => d.versions.some((v) => v.profiles.includes(profileId))) : docs,
    );
  }

  async approve(docId: string, version: number, stamp: AuditStamp): Promise<DocumentVersion> {
    const target = this.#versions.find((v) => v.docId === docId && v.version === version);
    if (!target) {
      throw new KnowledgeStoreError('version_not_found', `${docId} has no version ${version}`);
    }
    if (this.#retired.has(docId)) {
      throw new KnowledgeStoreError('document_retired', `document ${docId} is retired`);
    }
    if (target.status !== 'pending') {
      throw new KnowledgeStoreError(
        'version_not_pending',
        `${docId} v${version} is ${target.status}`,
      );
    }
    target.status = 'approved';
    target.approved = stamp;
    for (const v of this.#versions) {
      if (v.docId === docId && v.status === 'approved' && v.version < version) {
        v.status = 'superseded';
        v.superseded = stamp;
      }
    }
    return copy(target);
  }

  async retire(docId: string, stamp: AuditStamp): Promise<KnowledgeDocument> {
    if (!this.#versions.some((v) => v.docId === docId)) {
      throw new KnowledgeStoreError('document_not_found', `no document ${docId}`);
    }
    if (!this.#retired.has(docId)) this.#retired.set(docId, stamp);
    return (await this.getDocument(docId)) as KnowledgeDocument;
  }

  async approvedSources(profileId: string): Promise<ApprovedSource[]> {
    return copy(newestApproved(this.#versions, new Set(this.#retired.keys()), profileId));
  }
}

export class MemoryFollowUpStore implements FollowUpStore {
  readonly #items = new Map<string, FollowUp>();

  async addFollowUp(item: FollowUp): Promise<void> {
    if (!this.#items.has(item.id)) this.#items.set(item.id, copy(item));
  }

  async listFollowUps(sessionId: string): Promise<FollowUp[]> {
    return copy(
      [...this.#items.values()]
        .filter((f) => f.sessionId === sessionId)
        .sort((a, b) => a.at.getTime() - b.at.getTime()),
    );
  }
}
