/**
 * The education store on MongoDB (FerretDB locally). Script versions (unique on scriptId +
 * version: that is how a version number is claimed), one document per script for its
 * retirement, one per clip (its `_id` is the clip id), and the audio in a GridFS bucket
 * (`education_audio.files` / `.chunks`) through the driver's GridFSBucket, which FerretDB
 * serves: chunked writes, and reads from any byte offset.
 */
import { GridFSBucket, ObjectId, type Collection, type Db, type Document } from 'mongodb';
import { isDuplicateKeyError } from '../infra/mongo.ts';
import { guarded, toStoreError, withoutId } from '../sessions/mongo-store.ts';
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

export const EDUCATION_COLLECTIONS = Object.freeze({
  versions: 'education_script_versions',
  scripts: 'education_scripts',
  clips: 'education_clips',
  /** GridFS bucket name: collections `<bucket>.files` and `<bucket>.chunks`. */
  audioBucket: 'education_audio',
});

/** Concurrent saves of one script race for a version number; this many tries at most. */
const MAX_VERSION_CLAIMS = 5;
/** 255 KiB, the driver's default: a 20 s WAV at 22 kHz is about four chunks. */
const CHUNK_BYTES = 255 * 1024;

export async function ensureEducationIndexes(db: Db): Promise<void> {
  const c = EDUCATION_COLLECTIONS;
  await db.collection(c.versions).createIndex({ scriptId: 1, version: 1 }, { unique: true });
  await db.collection(c.versions).createIndex({ profiles: 1 });
  await db.collection(c.scripts).createIndex({ scriptId: 1 }, { unique: true });
  await db.collection(c.clips).createIndex({ scriptId: 1 });
  await db.collection(c.clips).createIndex({ state: 1 });
}

type ClipDoc = Clip & { _id: string };

export class MongoEducationStore implements EducationStore {
  readonly #versions: Collection;
  readonly #scripts: Collection;
  readonly #clips: Collection<ClipDoc>;
  readonly #bucket: GridFSBucket;

  constructor(opts: { db: Db }) {
    this.#versions = opts.db.collection(EDUCATION_COLLECTIONS.versions);
    this.#scripts = opts.db.collection(EDUCATION_COLLECTIONS.scripts);
    this.#clips = opts.db.collection<ClipDoc>(EDUCATION_COLLECTIONS.clips);
    this.#bucket = new GridFSBucket(opts.db, {
      bucketName: EDUCATION_COLLECTIONS.audioBucket,
      chunkSizeBytes: CHUNK_BYTES,
    });
  }

  async #retiredMap(scriptIds?: readonly string[]): Promise<Map<string, AuditStamp>> {
    const filter = scriptIds
      ? { scriptId: { $in: [...scriptIds] }, retired: { $exists: true } }
      : { retired: { $exists: true } };
    const docs = await guarded('retired', () => this.#scripts.find(filter).toArray());
    return new Map(
      docs.flatMap((d) =>
        d['retired'] ? [[d['scriptId'] as string, d['retired'] as AuditStamp]] : [],
      ),
    );
  }

  async addScriptVersion(input: NewScriptVersion): Promise<ScriptVersion> {
    if ((await this.#retiredMap([input.scriptId])).has(input.scriptId)) {
      throw new EducationStoreError('script_retired', `script ${input.scriptId} is retired`);
    }
    for (let attempt = 1; ; attempt++) {
      const last = await guarded('addScriptVersion', () =>
        this.#versions
          .find({ scriptId: input.scriptId }, { projection: { version: 1 } })
          .sort({ version: -1 })
          .limit(1)
          .toArray(),
      );
      const version = pendingScriptVersion(
        input,
        ((last[0]?.['version'] as number | undefined) ?? 0) + 1,
      );
      try {
        await this.#versions.insertOne({ ...version });
        await guarded('addScriptVersion', () =>
          this.#scripts.updateOne(
            { scriptId: input.scriptId },
            { $setOnInsert: { scriptId: input.scriptId } },
            { upsert: true },
          ),
        );
        return version;
      } catch (err) {
        if (isDuplicateKeyError(err) && attempt < MAX_VERSION_CLAIMS) continue;
        throw toStoreError(err, 'addScriptVersion');
      }
    }
  }

  async getScript(scriptId: string): Promise<EducationScript | null> {
    const versions = await guarded('getScript', () => this.#versions.find({ scriptId }).toArray());
    if (versions.length === 0) return null;
    return (
      groupScripts(
        versions.map((v) => withoutId<ScriptVersion>(v)),
        await this.#retiredMap([scriptId]),
      )[0] ?? null
    );
  }

  async listScripts(filter: { profileId?: string } = {}): Promise<EducationScript[]> {
    const query = filter.profileId ? { profiles: filter.profileId } : {};
    const matching = await guarded('listScripts', () => this.#versions.find(query).toArray());
    const ids = [...new Set(matching.map((v) => v['scriptId'] as string))];
    const versions = filter.profileId
      ? await guarded('listScripts', () =>
          this.#versions.find({ scriptId: { $in: ids } }).toArray(),
        )
      : matching;
    return groupScripts(
      versions.map((v) => withoutId<ScriptVersion>(v)),
      await this.#retiredMap(ids),
    );
  }

  async approveScript(scriptId: string, version: number, stamp: AuditStamp) {
    const found = await guarded('approveScript', () =>
      this.#versions.findOne({ scriptId, version }),
    );
    if (!found) {
      throw new EducationStoreError('version_not_found', `${scriptId} has no version ${version}`);
    }
    if ((await this.#retiredMap([scriptId])).has(scriptId)) {
      throw new EducationStoreError('script_retired', `script ${scriptId} is retired`);
    }
    const res = await guarded('approveScript', () =>
      this.#versions.findOneAndUpdate(
        { scriptId, version, status: 'pending' },
        { $set: { status: 'approved', approved: stamp } },
        { returnDocument: 'after' },
      ),
    );
    if (!res) {
      throw new EducationStoreError(
        'version_not_pending',
        `${scriptId} v${version} is ${String(found['status'])}`,
      );
    }
    await guarded('approveScript', () =>
      this.#versions.updateMany(
        { scriptId, status: 'approved', version: { $lt: version } },
        { $set: { status: 'superseded', superseded: stamp } },
      ),
    );
    return withoutId<ScriptVersion>(res);
  }

  async retireScript(scriptId: string, stamp: AuditStamp): Promise<EducationScript> {
    const exists = await guarded('retireScript', () => this.#versions.findOne({ scriptId }));
    if (!exists) throw new EducationStoreError('script_not_found', `no script ${scriptId}`);
    await guarded('retireScript', () =>
      this.#scripts.updateOne(
        { scriptId, retired: { $exists: false } },
        { $set: { retired: stamp } },
      ),
    );
    return (await this.getScript(scriptId)) as EducationScript;
  }

  async addClip(input: NewClip): Promise<Clip> {
    const script = await this.getScript(input.scriptId);
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
    const clip: Clip = { ...input, state: 'queued', progress: 0 };
    await guarded('addClip', () => this.#clips.insertOne({ _id: clip.clipId, ...clip }));
    return clip;
  }

  async reportClip(clipId: string, progress: ClipProgress): Promise<Clip> {
    const current = await this.getClip(clipId);
    if (!current) throw new EducationStoreError('clip_not_found', `no clip ${clipId}`);
    const next = applyProgress(current, progress);
    if (next === current) return current;
    // Only from a state that is not final: a job that lost a race cannot undo the winner's report.
    const res = await guarded('reportClip', () =>
      this.#clips.findOneAndReplace(
        { _id: clipId, state: { $in: ['queued', 'rendering'] } },
        { ...next },
        { returnDocument: 'after' },
      ),
    );
    return res ? withoutId<Clip>(res) : ((await this.getClip(clipId)) as Clip);
  }

  async getClip(clipId: string): Promise<Clip | null> {
    const doc = await guarded('getClip', () => this.#clips.findOne({ _id: clipId }));
    return doc ? withoutId<Clip>(doc) : null;
  }

  async listClips(filter: { scriptId?: string; states?: readonly string[] } = {}) {
    const query: Document = {};
    if (filter.scriptId) query['scriptId'] = filter.scriptId;
    if (filter.states) query['state'] = { $in: [...filter.states] };
    const docs = await guarded('listClips', () =>
      this.#clips.find(query).sort({ 'requested.at': -1 }).toArray(),
    );
    return docs.map((d) => withoutId<Clip>(d));
  }

  async approveClip(clipId: string, stamp: AuditStamp): Promise<Clip> {
    const clip = await this.getClip(clipId);
    if (!clip) throw new EducationStoreError('clip_not_found', `no clip ${clipId}`);
    const refusal = approvalRefusal(clip, await this.getScript(clip.scriptId));
    if (refusal) throw refusal;
    const res = await guarded('approveClip', () =>
      this.#clips.findOneAndUpdate(
        { _id: clipId, state: 'ready', approved: { $exists: false }, retired: { $exists: false } },
        { $set: { approved: stamp } },
        { returnDocument: 'after' },
      ),
    );
    if (!res) {
      throw new EducationStoreError('clip_already_approved', `${clipId} changed; reload it`);
    }
    return withoutId<Clip>(res);
  }

  async retireClip(clipId: string, stamp: AuditStamp): Promise<Clip> {
    const clip = await this.getClip(clipId);
    if (!clip) throw new EducationStoreError('clip_not_found', `no clip ${clipId}`);
    await guarded('retireClip', () =>
      this.#clips.updateOne(
        { _id: clipId, retired: { $exists: false } },
        { $set: { retired: stamp } },
      ),
    );
    return (await this.getClip(clipId)) as Clip;
  }

  async playableClip(scriptId: string): Promise<Clip | null> {
    const clips = await guarded('playableClip', () =>
      this.#clips.find({ scriptId, state: 'ready', approved: { $exists: true } }).toArray(),
    );
    if (clips.length === 0) return null;
    return choosePlayable(
      await this.getScript(scriptId),
      clips.map((c) => withoutId<Clip>(c)),
    );
  }

  async isPlayable(clipId: string): Promise<boolean> {
    const clip = await this.getClip(clipId);
    return clip ? playableNow(clip, await this.getScript(clip.scriptId)) : false;
  }

  async saveAudio(clipId: string, bytes: Buffer, meta: { mimeType: string }): Promise<string> {
    return guarded('saveAudio', async () => {
      const upload = this.#bucket.openUploadStream(`${clipId}.wav`, {
        metadata: { clipId, mimeType: meta.mimeType },
      });
      await new Promise<void>((resolve, reject) => {
        upload.once('finish', () => resolve()).once('error', reject);
        upload.end(bytes);
      });
      return upload.id.toHexString();
    });
  }

  async *readAudio(fileId: string, range?: ByteRange): AsyncIterable<Buffer> {
    if (!ObjectId.isValid(fileId)) {
      throw new EducationStoreError('clip_not_found', 'no such audio file');
    }
    // The driver's `end` is exclusive; ours, like HTTP's, inclusive.
    const stream = this.#bucket.openDownloadStream(
      new ObjectId(fileId),
      range ? { start: range.start, end: range.end + 1 } : {},
    );
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') {
        throw new EducationStoreError('clip_not_found', 'no such audio file');
      }
      throw toStoreError(err, 'readAudio');
    }
  }
}
