/**
 * Education audio: scripts a clinician writes (or drafts from approved knowledge documents with
 * an LLM), the clips each script version is rendered into, and which of them a patient may hear.
 *
 * A script (`scriptId`) has numbered versions, each `pending` until an admin approves it; the
 * newest approved version is the one in use, and a retired script is never played again. A clip
 * is one rendering of one script version in one voice: a job (`queued → rendering → ready |
 * failed`) whose audio, once ready, is kept in MongoDB GridFS. A clip plays to patients only when
 * it is approved, its script version is the one in use, and neither it nor its script is retired.
 */
import { z } from 'zod';
import type { AuditStamp } from '../knowledge/schema.ts';
import { Voice } from '../prompts/schema.ts';

export type { AuditStamp } from '../knowledge/schema.ts';

export const SCRIPT_STATUSES = ['pending', 'approved', 'superseded'] as const;
export type ScriptStatus = (typeof SCRIPT_STATUSES)[number];

export const CLIP_STATES = ['queued', 'rendering', 'ready', 'failed'] as const;
export type ClipState = (typeof CLIP_STATES)[number];

export const SCRIPT_ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
export const ScriptId = z
  .string()
  .regex(SCRIPT_ID, 'a script id is a lower-case slug such as "knee-exercises"');

export const CLIP_ID = /^clip_[a-z0-9]{12,32}$/;
export const ClipId = z.string().regex(CLIP_ID, 'a clip id looks like clip_… (from the clip list)');

/** Longest script, in characters: about ten minutes of speech at a normal pace. */
export const MAX_SCRIPT_CHARS = 8000;

/** espeak-ng and the cloud voices would read some control characters aloud, or choke on them. */
// eslint-disable-next-line no-control-regex
const UNSPEAKABLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\u202A-\u202E\u2066-\u2069]/;

export const ScriptText = z
  .string()
  .trim()
  .min(1, 'write the script text')
  .max(MAX_SCRIPT_CHARS, `a script is at most ${MAX_SCRIPT_CHARS} characters`)
  .refine((t) => !UNSPEAKABLE.test(t), {
    message: 'the text holds control or direction-override characters',
  });

/** The voice a clip is rendered in: the profile's voice schema (provider, voice id, speed). */
export const ClipVoice = Voice;
export type ClipVoice = z.infer<typeof Voice>;

/** Where a drafted script's words came from: the knowledge document versions it was given. */
export interface DraftSource {
  docId: string;
  version: number;
}

export interface ScriptVersion {
  scriptId: string;
  version: number;
  title: string;
  text: string;
  /** Profiles whose calls may play it. */
  profiles: string[];
  status: ScriptStatus;
  /** Set when an LLM drafted the words from approved documents (then a person edited them). */
  draftedFrom?: DraftSource[];
  created: AuditStamp;
  approved?: AuditStamp;
  superseded?: AuditStamp;
}

export interface EducationScript {
  scriptId: string;
  /** The newest version's title. */
  title: string;
  retired?: AuditStamp;
  /** Newest first. */
  versions: ScriptVersion[];
}

/** The rendered audio, once the job is done. */
export interface ClipAudio {
  /** GridFS file id (hex), or the memory store's key. */
  fileId: string;
  format: 'wav';
  mimeType: 'audio/wav';
  sampleRate: number;
  channels: 1;
  durationMs: number;
  bytes: number;
  sha256: string;
}

export interface Clip {
  clipId: string;
  /** The source: one script version. */
  scriptId: string;
  scriptVersion: number;
  voice: ClipVoice;
  state: ClipState;
  /** 0–1 while rendering (sentences done / sentences). */
  progress: number;
  /** Why it failed, in words for staff (never the script text). */
  error?: { code: string; message: string };
  audio?: ClipAudio;
  requested: AuditStamp;
  renderedAt?: Date;
  approved?: AuditStamp;
  retired?: AuditStamp;
}
