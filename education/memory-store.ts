/** The in-memory twin of the MongoDB education store, for unit tests (see store.contract.ts). */
import { randomUUID } from 'node:crypto';
import type { AuditStamp, Clip, EducationScript, ScriptVersion } from './schema.ts';
import {
  applyProgress,
  approvalRefusal,
  choosePlayable,
  EducationStoreError,
  groupScripts,
  pendingScriptVersion,
  playableNow,
  type ByteRange,
  type ClipProgress,
  type EducationStore,
  type NewClip,
  type NewScriptVersion,
} from './store.ts';

const copy = <T>(v: T): T => structuredClone(v);

export class MemoryEducationStore implements EducationStore {
  readonly #versions: ScriptVersion[] = [];
  readonly #retired = new Map<string, AuditStamp>();
  readonly #clips = new Map<string, Clip>();
  readonly #audio = new Map<string, Buffer>();

  async addScriptVersion(input: NewScriptVersion): Promise<ScriptVersion> {
    if (this.#retired.has(input.scriptId)) {
      throw new EducationStoreError('script_retired', `script ${input.scriptId} is retired`);
    }
    const mine = this.#versions.filter((v) => v.scriptId === input.scriptId);
    const version = pendingScriptVersion(input, Math.max(0, ...mine.map((v) => v.version)) + 1);
    this.#versions.push(version);
    return copy(version);
  }

  #script(scriptId: string): EducationScript | null {
    return (
      groupScripts(
        this.#versions.filter((v) => v.scriptId === scriptId),
        this.#retired,
      )[0] ?? null
    );
  }

  async getScript(scriptId: string): Promise<EducationScript | null> {
    return copy(this.#script(scriptId));
  }

  async listScripts(filter: { profileId?: string } = {}): Promise<EducationScript[]> {
    const all = groupScripts(this.#versions, this.#retired);
    const { profileId } = filter;
    return copy(
      profileId ? all.filter((s) => s.versions.some((v) => v.profiles.includes(profileId))) : all,
    );
  }

  async approveScript(scriptId: string, version: number, stamp: AuditStamp) {
    const target = this.#versions.find((v) => v.scriptId === scriptId && v.version === version);
    if (!target) {
      throw new EducationStoreError('version_not_found', `${scriptId} has no version ${version}`);
    }
    if (this.#retired.has(scriptId)) {
      throw new EducationStoreError('script_retired', `script ${scriptId} is retired`);
    }
    if (target.status !== 'pending') {
      throw new EducationStoreError(
        'version_not_pending',
        `${scriptId} v${version} is ${target.status}`,
      );
    }
    target.status = 'approved';
    target.approved = stamp;
    for (const v of this.#versions) {
      if (v.scriptId === scriptId && v.status === 'approved' && v.version < version) {
        v.status = 'superseded';
        v.superseded = stamp;
      }
    }
    return copy(target);
  }

  async retireScript(scriptId: string, stamp: AuditStamp): Promise<EducationScript> {
    if (!this.#versions.some((v) => v.scriptId === scriptId)) {
      throw new EducationStoreError('script_not_found', `no script ${scriptId}`);
    }
    if (!this.#retired.has(scriptId)) this.#retired.set(scriptId, stamp);
    return copy(this.#script(scriptId) as EducationScript);
  }

  async addClip(input: NewClip): Promise<Clip> {
    const script = this.#script(input.scriptId);
    if (!script) throw new EducationStoreError('script_not_found', `no script ${input.scriptId}`);
    if (script.retired) {
      throw new EducationStoreError('script_retired', `script ${input.scriptId} is retired`);
    }
    if (!script.versions.some((v) => v.version === input.scriptVersion)) {
      throw new EducationStoreError(
        'version_not_found',
        `${input.scriptId} has no version ${input.scriptVersion}`,
      );
    }
    const clip: Clip = { ...copy(input), state: 'queued', progress: 0 };
    this.#clips.set(clip.clipId, clip);
    return copy(clip);
  }

  async reportClip(clipId: string, progress: ClipProgress): Promise<Clip> {
    const clip = this.#clips.get(clipId);
    if (!clip) throw new EducationStoreError('clip_not_found', `no clip ${clipId}`);
    const next = applyProgress(clip, copy(progress));
    this.#clips.set(clipId, next);
    return copy(next);
  }

  async getClip(clipId: string): Promise<Clip | null> {
    return copy(this.#clips.get(clipId) ?? null);
  }

  async listClips(filter: { scriptId?: string; states?: readonly string[] } = {}) {
    return copy(
      [...this.#clips.values()]
        .filter((c) => !filter.scriptId || c.scriptId === filter.scriptId)
        .filter((c) => !filter.states || filter.states.includes(c.state))
        .sort((a, b) => b.requested.at.getTime() - a.requested.at.getTime()),
    );
  }

  async approveClip(clipId: string, stamp: AuditStamp): Promise<Clip> {
    const clip = this.#clips.get(clipId);
    if (!clip) throw new EducationStoreError('clip_not_found', `no clip ${clipId}`);
    const refusal = approvalRefusal(clip, this.#script(clip.scriptId));
    if (refusal) throw refusal;
    clip.approved = stamp;
    return copy(clip);
  }

  async retireClip(clipId: string, stamp: AuditStamp): Promise<Clip> {
    const clip = this.#clips.get(clipId);
    if (!clip) throw new EducationStoreError('clip_not_found', `no clip ${clipId}`);
    clip.retired ??= stamp;
    return copy(clip);
  }

  async playableClip(scriptId: string): Promise<Clip | null> {
    const clips = [...this.#clips.values()].filter((c) => c.scriptId === scriptId);
    return copy(choosePlayable(this.#script(scriptId), clips));
  }

  async isPlayable(clipId: string): Promise<boolean> {
    const clip = this.#clips.get(clipId);
    return clip ? playableNow(clip, this.#script(clip.scriptId)) : false;
  }

  async saveAudio(_clipId: string, bytes: Buffer, _meta?: { mimeType: string }): Promise<string> {
    const fileId = randomUUID().replace(/-/g, '').slice(0, 24);
    this.#audio.set(fileId, Buffer.from(bytes));
    return fileId;
  }

  async *readAudio(fileId: string, range?: ByteRange): AsyncIterable<Buffer> {
    const bytes = this.#audio.get(fileId);
    if (!bytes) throw new EducationStoreError('clip_not_found', `no audio ${fileId}`);
    yield Buffer.from(range ? bytes.subarray(range.start, range.end + 1) : bytes);
  }
}
