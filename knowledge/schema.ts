/**
 * Care-team knowledge: the documents clinicians upload, the passages they are cut into, and the
 * follow-up items a call leaves when a patient asks something no approved passage answers.
 *
 * A document (`docId`) has numbered versions. Each upload is a new version, `pending` until a
 * member of staff approves it. The newest approved version of a document is the one used; a
 * retired document is never used again, whatever its versions say.
 */
import { z } from 'zod';
import { REFUSAL_RULES, type RefusalRule } from './answerability.ts';

export const DOCUMENT_FORMATS = ['markdown', 'text', 'pdf'] as const;
export type DocumentFormat = (typeof DOCUMENT_FORMATS)[number];

export const VERSION_STATUSES = ['pending', 'approved', 'superseded'] as const;
export type VersionStatus = (typeof VERSION_STATUSES)[number];

const PROFILE_ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
export const ProfileIds = z
  .array(z.string().regex(PROFILE_ID, 'a profile id is a lower-case slug such as "intake"'))
  .min(1, 'attach the document to at least one profile')
  .max(20);

export const DOC_ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
export const DocId = z
  .string()
  .regex(DOC_ID, 'a document id is a lower-case slug such as "knee-aftercare"');

/** `<docId>@v<version>#<n>`: stable for as long as the version exists (versions never change). */
export function passageId(docId: string, version: number, n: number): string {
  return `${docId}@v${version}#${n}`;
}

export interface Passage {
  id: string;
  /** The heading path the passage sits under ("After surgery › Showering"), if any. */
  heading?: string;
  text: string;
}

/** Who did something, and when (staff subject and display name from the JWT). */
export interface AuditStamp {
  by: string;
  at: Date;
}

export interface DocumentVersion {
  docId: string;
  version: number;
  title: string;
  format: DocumentFormat;
  /** Profiles whose calls may use it. */
  profiles: string[];
  status: VersionStatus;
  passages: Passage[];
  /** SHA-256 of the uploaded bytes, hex. */
  sha256: string;
  bytes: number;
  uploaded: AuditStamp;
  approved?: AuditStamp;
  /** Replaced by a newer approved version. */
  superseded?: AuditStamp;
}

/** A document as a whole: its versions, and whether it was retired. */
export interface KnowledgeDocument {
  docId: string;
  title: string;
  retired?: AuditStamp;
  versions: DocumentVersion[];
}

export const FOLLOW_UP_REASONS = ['no_approved_answer', 'knowledge_unavailable'] as const;
export type FollowUpReason = (typeof FOLLOW_UP_REASONS)[number];

/**
 * A question the agent could not answer from approved text: the care team answers it. The
 * question is stored (it is what the care team must read) but never logged.
 */
export interface FollowUp {
  /** `<sessionId>:<messageId>`: one per patient turn, however often it is retried. */
  id: string;
  sessionId: string;
  profileId: string;
  reason: FollowUpReason;
  question: string;
  /** The best normalised score seen (0-1), for the reviewer. */
  bestScore?: number;
  /** The best passage seen, below the threshold. */
  bestPassageId?: string;
  /** Why the best passage was not used (answerability.ts): rule names, not the words. */
  refusedBy?: RefusalRule[];
  /** How the question came: the dialogue engine's question detector, or the LLM's tool. */
  via: 'engine' | 'llm_tool';
  at: Date;
}

export const FollowUpSchema = z
  .object({
    id: z.string().min(1).max(300),
    sessionId: z.string().min(1).max(128),
    profileId: z.string().regex(PROFILE_ID),
    reason: z.enum(FOLLOW_UP_REASONS),
    question: z.string().min(1).max(1000),
    bestScore: z.number().min(0).max(1).optional(),
    bestPassageId: z.string().max(200).optional(),
    refusedBy: z.array(z.enum(REFUSAL_RULES)).max(REFUSAL_RULES.length).optional(),
    via: z.enum(['engine', 'llm_tool']),
    at: z.date(),
  })
  .strict();
