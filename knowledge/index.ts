/**
 * Care-team knowledge: documents uploaded, chunked, versioned and approved (stores), retrieved
 * with BM25 for a call's profile (retrieval, session-knowledge), offered to the LLM as a tool
 * and to the dialogue engine through a question detector, and the follow-ups a call leaves.
 */
export { chunkDocument } from './chunk.ts';
export type { ChunkOptions } from './chunk.ts';
export { KnowledgeInputError, detectFormat, extractDocumentText } from './extract.ts';
export type { InputProblem } from './extract.ts';
export { ingestDocument } from './ingest.ts';
export type { Upload } from './ingest.ts';
export { MemoryFollowUpStore, MemoryKnowledgeStore } from './memory-store.ts';
export {
  KNOWLEDGE_COLLECTIONS,
  MongoFollowUpStore,
  MongoKnowledgeStore,
  ensureKnowledgeIndexes,
} from './mongo-store.ts';
export { isQuestion } from './question.ts';
export { REFUSAL_RULES } from './answerability.ts';
export type { Refusal, RefusalRule } from './answerability.ts';
export { KnowledgeIndex, answering, answers, refusedBy } from './retrieval.ts';
export type { Hit } from './retrieval.ts';
export {
  DOCUMENT_FORMATS,
  DocId,
  FollowUpSchema,
  ProfileIds,
  VERSION_STATUSES,
  passageId,
} from './schema.ts';
export type {
  AuditStamp,
  DocumentFormat,
  DocumentVersion,
  FollowUp,
  FollowUpReason,
  KnowledgeDocument,
  Passage,
  VersionStatus,
} from './schema.ts';
export { SessionKnowledge } from './session-knowledge.ts';
export type { Lookup, SessionKnowledgeOptions } from './session-knowledge.ts';
export { KnowledgeStoreError } from './store.ts';
export type {
  ApprovedSource,
  FollowUpStore,
  KnowledgeErrorCode,
  KnowledgeStore,
  NewVersion,
} from './store.ts';
export { DEFER_LINE, KNOWLEDGE_BRIEF, knowledgeTools } from './tool.ts';
export type { KnowledgeToolOptions } from './tool.ts';
