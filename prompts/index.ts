/**
 * Clinician profiles: the schema, loading with clinician-readable errors, patient templates,
 * and the versioned store. The CLI lives in cli.ts; the safety matcher in agent/safety/.
 */
export {
  CAPTURE_TYPES,
  SEVERITIES,
  VOICE_PROVIDERS,
  ProfileSchema,
  formatPath,
  safeParseProfile,
} from './schema.ts';
export type {
  Capture,
  CaptureType,
  Profile,
  ProtocolStep,
  SafetyRule,
  Severity,
  Voice,
  VoiceProvider,
} from './schema.ts';

export {
  ProfileLoadError,
  formatIssue,
  listProfileFiles,
  loadProfileFile,
  parseProfileSource,
  readProfile,
} from './loader.ts';
export type { LoadResult, ParseOptions, ProfileIssue } from './loader.ts';

export {
  TEMPLATE_VARIABLES,
  TemplateError,
  TemplateSyntaxError,
  renderProfile,
  renderTemplate,
  templateValuesFor,
} from './template.ts';
export type { MissingVariable, TemplateValues, TemplateVariable } from './template.ts';

export {
  ProfileIntegrityError,
  ProfileNotFoundError,
  PublishConflictError,
  canonicalJson,
  contentHash,
} from './store.ts';
export type {
  ProfileStore,
  ProfileVersionInfo,
  PublishMeta,
  PublishResult,
  PublishedProfile,
} from './store.ts';
export { MemoryProfileStore } from './memory-store.ts';
export type { MemoryProfileStoreOptions } from './memory-store.ts';
export { MongoProfileStore } from './mongo-store.ts';
export type { MongoProfileStoreOptions } from './mongo-store.ts';

export { diffProfiles, formatDiff } from './diff.ts';
export type { FieldChange } from './diff.ts';
