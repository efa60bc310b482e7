/**
 * Where knowledge documents and follow-up items live: MongoDB in production, an in-memory twin
 * for unit tests; both pass `store.contract.ts`.
 *
 * No transactions (FerretDB has none): a version number is claimed by a unique index on
 * (docId, version), and approval first marks the new version, then supersedes the older ones.
 * Readers therefore take only the newest approved version of each document and skip retired
 * documents themselves (`newestApproved`), so a reader between the two writes is still right.
 */
import { PermanentError } from '../infra/errors.ts';
import type {
  AuditStamp,
  DocumentFormat,
  DocumentVersion,
  FollowUp,
  KnowledgeDocument,
  Passage,
} from './schema.ts';

export interface NewVersion {
  docId: string;
  title: string;
  format: DocumentFormat;
  profiles: string[];
  sha256: string;
  bytes: number;
  uploaded: AuditStamp;
  /** Cut with the version number the store assigns. */
  passages: (version: number) => Passage[];
}

/** The passages a profile's calls may use: one entry per document, its newest approved version. */
export interface ApprovedSource {
  docId: string;
  version: number;
  title: string;
  passages: Passage[];
}

export type KnowledgeErrorCode =
  'document_not_found' | 'version_not_found' | 'document_retired' | 'version_not_pending';

/** A request the store refuses for good; `code` says why. */
export class KnowledgeStoreError extends PermanentError {
  declare readonly code: KnowledgeErrorCode;
  constructor(code: KnowledgeErrorCode, message: string) {
    super(code, message);
  }
}

export interface KnowledgeStore {
  /** Stores the next version of `docId` (version 1 for a new document) as `pending`. */
  addVersion(input: NewVersion): Promise<DocumentVersion>;
  getDocument(docId: string): Promise<KnowledgeDocument | null>;
  /** Documents, newest upload first; with `profileId`, those attached to it in any version. */
  listDocuments(filter?: { profileId?: string }): Promise<KnowledgeDocument[]>;
  /** pending → approved; an older approved version becomes `superseded`. */
  approve(docId: string, version: number, stamp: AuditStamp): Promise<DocumentVersion>;
  /** The document is never used again. Retiring twice keeps the first stamp. */
  retire(docId: string, stamp: AuditStamp): Promise<KnowledgeDocument>;
  /** What a call on `profileId` may read: approved, newest per document, never retired. */
  approvedSources(profileId: string): Promise<ApprovedSource[]>;
}

export interface FollowUpStore {
  /** Idempotent by `id`: the first recording wins. */
  addFollowUp(item: FollowUp): Promise<void>;
  /** The session's follow-ups, oldest first. */
  listFollowUps(sessionId: string): Promise<FollowUp[]>;
}

/** The newest approved version of each non-retired document, from any set of versions. */
/** The record of an uploaded version, numbered `version`: pending until someone approves it. */
export function pendingVersion(input: NewVersion, version: number): DocumentVersion {
  return {
    docId: input.docId,
    version,
    title: input.title,
    format: input.format,
    profiles: [...input.profiles],
    status: 'pending',
    passages: input.passages(version),
    sha256: input.sha256,
    bytes: input.bytes,
    uploaded: input.uploaded,
  };
}

export function newestApproved(
  versions: readonly DocumentVersion[],
  retired: ReadonlySet<string>,
  profileId: string,
): ApprovedSource[] {
  const best = new Map<string, DocumentVersion>();
  for (const v of versions) {
    if (v.status !== 'approved' || retired.has(v.docId)) continue;
    const seen = best.get(v.docId);
    if (!seen || seen.version < v.version) best.set(v.docId, v);
  }
  return [...best.values()]
    .filter((v) => v.profiles.includes(profileId))
    .sort((a, b) => (a.docId < b.docId ? -1 : a.docId > b.docId ? 1 : 0))
    .map((v) => ({ docId: v.docId, version: v.version, title: v.title, passages: v.passages }));
}

/** Versions into documents, each document's versions newest first, documents newest first. */
export function groupDocuments(
  versions: readonly DocumentVersion[],
  retired: ReadonlyMap<string, AuditStamp>,
): KnowledgeDocument[] {
  const byDoc = new Map<string, DocumentVersion[]>();
  for (const v of versions) byDoc.set(v.docId, [...(byDoc.get(v.docId) ?? []), v]);
  const docs = [...byDoc].map(([docId, list]): KnowledgeDocument => {
    const sorted = [...list].sort((a, b) => b.version - a.version);
    const stamp = retired.get(docId);
    return {
      docId,
      title: sorted[0]?.title ?? docId,
      ...(stamp ? { retired: stamp } : {}),
      versions: sorted,
    };
  });
  const latest = (d: KnowledgeDocument) => d.versions[0]?.uploaded.at.getTime() ?? 0;
  return docs.sort((a, b) => latest(b) - latest(a) || (a.docId < b.docId ? -1 : 1));
}
