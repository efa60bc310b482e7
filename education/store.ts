/**
 * Where education scripts, clips and their audio live: MongoDB (GridFS for the audio) in
 * production, an in-memory twin for unit tests; both pass `store.contract.ts`.
 *
 * No transactions (FerretDB has none): a script version number is claimed by a unique index on
 * (scriptId, version); approval marks the new version, then supersedes the older ones, so readers
 * take the newest approved version themselves (`inUseVersion`). A clip's audio is written to
 * GridFS first and the clip points at it after, so a crash between the two leaves an orphan file,
 * never a clip with no audio.
 */
import { PermanentError } from '../infra/errors.ts';
import type {
  AuditStamp,
  Clip,
  ClipAudio,
  ClipState,
  ClipVoice,
  DraftSource,
  EducationScript,
  ScriptVersion,
} from './schema.ts';

export interface NewScriptVersion {
  scriptId: string;
  title: string;
  text: string;
  profiles: string[];
  draftedFrom?: DraftSource[];
  created: AuditStamp;
}

export interface NewClip {
  clipId: string;
  scriptId: string;
  scriptVersion: number;
  voice: ClipVoice;
  requested: AuditStamp;
}

/** What a render job reports as it goes. */
export type ClipProgress =
  | { state: 'rendering'; progress: number }
  | { state: 'failed'; error: { code: string; message: string } }
  | { state: 'ready'; audio: ClipAudio; renderedAt: Date };

export type EducationErrorCode =
  | 'script_not_found'
  | 'version_not_found'
  | 'script_retired'
  | 'version_not_pending'
  | 'clip_not_found'
  | 'clip_not_ready'
  | 'clip_retired'
  | 'clip_source_not_approved'
  | 'clip_already_approved';

/** A request the store refuses for good; `code` says why. */
export class EducationStoreError extends PermanentError {
  declare readonly code: EducationErrorCode;
  constructor(code: EducationErrorCode, message: string) {
    super(code, message);
  }
}

/** A byte range of a clip's audio: `start` and `end` inclusive, as HTTP Range has them. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface EducationStore {
  /** Stores the next version of `scriptId` (1 for a new script) as `pending`. */
  addScriptVersion(input: NewScriptVersion): Promise<ScriptVersion>;
  getScript(scriptId: string): Promise<EducationScript | null>;
  /** Scripts, newest version first; with `profileId`, those attached to it in any version. */
  listScripts(filter?: { profileId?: string }): Promise<EducationScript[]>;
  /** pending → approved; an older approved version becomes `superseded`. */
  approveScript(scriptId: string, version: number, stamp: AuditStamp): Promise<ScriptVersion>;
  /** The script never plays again. Retiring twice keeps the first stamp. */
  retireScript(scriptId: string, stamp: AuditStamp): Promise<EducationScript>;

  /** A render job, `queued`. The script version must exist and the script not be retired. */
  addClip(input: NewClip): Promise<Clip>;
  /** The job's next state. A clip already ready or failed does not change again. */
  reportClip(clipId: string, progress: ClipProgress): Promise<Clip>;
  getClip(clipId: string): Promise<Clip | null>;
  /** Clips, newest request first. */
  listClips(filter?: { scriptId?: string; states?: readonly ClipState[] }): Promise<Clip[]>;
  /**
   * A ready clip may play to patients. Its script version must be approved (and the script not
   * retired); approving a newer clip of the same script takes over from the older ones.
   */
  approveClip(clipId: string, stamp: AuditStamp): Promise<Clip>;
  /** The clip never plays again. */
  retireClip(clipId: string, stamp: AuditStamp): Promise<Clip>;
  /**
   * The clip a call (or a patient link) may play for `scriptId`, or null: approved, rendered
   * from the script's version in use, neither retired; the newest approval wins.
   */
  playableClip(scriptId: string): Promise<Clip | null>;
  /**
   * Whether a patient may hear this clip now (the check a patient link makes on every request):
   * approved, from the script's version in use, neither retired. Calls play the newest approval.
   */
  isPlayable(clipId: string): Promise<boolean>;

  /** Keeps the audio bytes; returns the file id a `ready` report then names. */
  saveAudio(clipId: string, bytes: Buffer, meta: { mimeType: string }): Promise<string>;
  /** The audio bytes, or the inclusive `range` of them. */
  readAudio(fileId: string, range?: ByteRange): AsyncIterable<Buffer>;
}

/** The newest approved version of a script (the one in use), if any. */
export function inUseVersion(script: EducationScript): ScriptVersion | undefined {
  if (script.retired) return undefined;
  let best: ScriptVersion | undefined;
  for (const v of script.versions) {
    if (v.status === 'approved' && (!best || v.version > best.version)) best = v;
  }
  return best;
}

/** The record of a new script version, numbered `version`: pending until approved. */
export function pendingScriptVersion(input: NewScriptVersion, version: number): ScriptVersion {
  return {
    scriptId: input.scriptId,
    version,
    title: input.title,
    text: input.text,
    profiles: [...input.profiles],
    status: 'pending',
    ...(input.draftedFrom ? { draftedFrom: input.draftedFrom.map((s) => ({ ...s })) } : {}),
    created: input.created,
  };
}

/** Versions into scripts, each script's versions newest first, scripts newest first. */
export function groupScripts(
  versions: readonly ScriptVersion[],
  retired: ReadonlyMap<string, AuditStamp>,
): EducationScript[] {
  const byId = new Map<string, ScriptVersion[]>();
  for (const v of versions) byId.set(v.scriptId, [...(byId.get(v.scriptId) ?? []), v]);
  const scripts = [...byId].map(([scriptId, list]): EducationScript => {
    const sorted = [...list].sort((a, b) => b.version - a.version);
    const stamp = retired.get(scriptId);
    return {
      scriptId,
      title: sorted[0]?.title ?? scriptId,
      ...(stamp ? { retired: stamp } : {}),
      versions: sorted,
    };
  });
  const latest = (s: EducationScript) => s.versions[0]?.created.at.getTime() ?? 0;
  return scripts.sort((a, b) => latest(b) - latest(a) || (a.scriptId < b.scriptId ? -1 : 1));
}

/**
 * Whether a patient may hear `clip` now: approved, ready, not retired, rendered from its
 * script's version in use, the script not retired. Shared by both stores so they cannot disagree.
 */
export function playableNow(clip: Clip, script: EducationScript | null): boolean {
  if (!script || clip.scriptId !== script.scriptId) return false;
  const inUse = inUseVersion(script);
  return (
    inUse !== undefined &&
    clip.scriptVersion === inUse.version &&
    clip.state === 'ready' &&
    clip.audio !== undefined &&
    clip.approved !== undefined &&
    clip.retired === undefined
  );
}

/** The playable clip of a script that was approved last (see {@link EducationStore.playableClip}). */
export function choosePlayable(
  script: EducationScript | null,
  clips: readonly Clip[],
): Clip | null {
  let best: Clip | null = null;
  for (const c of clips) {
    if (!playableNow(c, script)) continue;
    if (!best || (best.approved?.at.getTime() ?? 0) < (c.approved?.at.getTime() ?? 0)) best = c;
  }
  return best;
}

/** Why a clip may not be approved now, or undefined when it may. */
export function approvalRefusal(
  clip: Clip,
  script: EducationScript | null,
): EducationStoreError | undefined {
  if (clip.retired) return new EducationStoreError('clip_retired', `${clip.clipId} is retired`);
  if (clip.approved) {
    return new EducationStoreError('clip_already_approved', `${clip.clipId} is already approved`);
  }
  if (clip.state !== 'ready') {
    return new EducationStoreError('clip_not_ready', `${clip.clipId} is ${clip.state}`);
  }
  if (!script || script.retired) {
    return new EducationStoreError('script_retired', `script ${clip.scriptId} is retired`);
  }
  const version = script.versions.find((v) => v.version === clip.scriptVersion);
  if (version?.status !== 'approved') {
    return new EducationStoreError(
      'clip_source_not_approved',
      `${clip.scriptId} v${clip.scriptVersion} is ${version?.status ?? 'missing'}: approve the script version first`,
    );
  }
  return undefined;
}

/** A job's report applied to a clip; ready and failed are final. */
export function applyProgress(clip: Clip, p: ClipProgress): Clip {
  if (clip.state === 'ready' || clip.state === 'failed') return clip;
  switch (p.state) {
    case 'rendering':
      return { ...clip, state: 'rendering', progress: Math.min(1, Math.max(0, p.progress)) };
    case 'failed':
      return { ...clip, state: 'failed', error: { ...p.error } };
    case 'ready':
      return { ...clip, state: 'ready', progress: 1, audio: p.audio, renderedAt: p.renderedAt };
  }
}
