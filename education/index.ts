/**
 * Education audio: scripts, their clips (render jobs and the audio in GridFS), and which clip a
 * patient may hear. See schema.ts for the model and store.ts for the rules both stores keep.
 */
export {
  CLIP_ID,
  CLIP_STATES,
  ClipId,
  ClipVoice,
  MAX_SCRIPT_CHARS,
  SCRIPT_ID,
  SCRIPT_STATUSES,
  ScriptId,
  ScriptText,
} from './schema.ts';
export type {
  AuditStamp,
  Clip,
  ClipAudio,
  ClipState,
  DraftSource,
  EducationScript,
  ScriptStatus,
  ScriptVersion,
} from './schema.ts';
export { EducationStoreError, inUseVersion } from './store.ts';
export type {
  ByteRange,
  ClipProgress,
  EducationErrorCode,
  EducationStore,
  NewClip,
  NewScriptVersion,
} from './store.ts';
export { MemoryEducationStore } from './memory-store.ts';
export {
  EDUCATION_COLLECTIONS,
  ensureEducationIndexes,
  MongoEducationStore,
} from './mongo-store.ts';
