/**
 * The one contract both education stores pass: the memory twin as a unit test
 * (`memory-store.test.ts`), the MongoDB store with GridFS against FerretDB (`store.int.test.ts`).
 * Each test uses its own ids, so the store may be shared across the suite.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClipAudio } from './schema.ts';
import { EducationStoreError, type EducationStore, type NewScriptVersion } from './store.ts';

const T0 = Date.parse('2026-02-01T09:00:00.000Z');
const at = (s: number): Date => new Date(T0 + s * 1000);
const uid = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
const clipId = (): string => `clip_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
const VOICE = { provider: 'local' as const, voiceId: 'en-us', speed: 1 };

function script(
  scriptId: string,
  profiles: string[],
  s: number,
  text = 'Bend your knee.',
): NewScriptVersion {
  return {
    scriptId,
    title: `Title of ${scriptId}`,
    text,
    profiles,
    created: { by: 'dr-a', at: at(s) },
  };
}

const code = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(EducationStoreError);
    return (err as EducationStoreError).code;
  }
};

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of it) parts.push(p);
  return Buffer.concat(parts);
}

export function describeEducationStoreContract(
  name: string,
  opts: { open(): Promise<EducationStore>; close?(): Promise<void> },
): void {
  describe(`education store contract: ${name}`, () => {
    let store: EducationStore;
    beforeAll(async () => {
      store = await opts.open();
    });
    afterAll(async () => {
      await opts.close?.();
    });

    /** A ready clip of `scriptId` v`version`, its audio stored. */
    async function readyClip(
      scriptId: string,
      version: number,
      s: number,
      bytes = Buffer.from('RIFFaudio'),
    ) {
      const id = clipId();
      await store.addClip({
        clipId: id,
        scriptId,
        scriptVersion: version,
        voice: VOICE,
        requested: { by: 'dr-a', at: at(s) },
      });
      const fileId = await store.saveAudio(id, bytes, { mimeType: 'audio/wav' });
      const audio: ClipAudio = {
        fileId,
        format: 'wav',
        mimeType: 'audio/wav',
        sampleRate: 22050,
        channels: 1,
        durationMs: 1000,
        bytes: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      };
      return store.reportClip(id, { state: 'ready', audio, renderedAt: at(s + 1) });
    }

    it('numbers script versions from 1 and keeps each pending until approved', async () => {
      const id = uid('knee');
      const v1 = await store.addScriptVersion(script(id, ['p1'], 1));
      const v2 = await store.addScriptVersion({
        ...script(id, ['p1'], 2, 'Walk daily.'),
        draftedFrom: [{ docId: 'knee', version: 3 }],
      });
      expect([v1.version, v2.version, v2.status]).toEqual([1, 2, 'pending']);
      const got = await store.getScript(id);
      expect(got?.versions.map((v) => v.version)).toEqual([2, 1]);
      expect(got?.versions[0]).toMatchObject({
        text: 'Walk daily.',
        draftedFrom: [{ docId: 'knee', version: 3 }],
        created: { by: 'dr-a', at: at(2) },
      });
      expect(await store.getScript(uid('missing'))).toBeNull();
    });

    it('approves a version, superseding the older approved one, and refuses it twice', async () => {
      const id = uid('walk');
      await store.addScriptVersion(script(id, ['p1'], 1));
      await store.approveScript(id, 1, { by: 'gov', at: at(2) });
      await store.addScriptVersion(script(id, ['p1'], 3));
      const v2 = await store.approveScript(id, 2, { by: 'gov', at: at(4) });
      expect(v2).toMatchObject({ status: 'approved', approved: { by: 'gov', at: at(4) } });
      expect((await store.getScript(id))?.versions.map((v) => v.status)).toEqual([
        'approved',
        'superseded',
      ]);
      expect(await code(store.approveScript(id, 2, { by: 'gov', at: at(5) }))).toBe(
        'version_not_pending',
      );
      expect(await code(store.approveScript(id, 9, { by: 'gov', at: at(5) }))).toBe(
        'version_not_found',
      );
    });

    it('lists scripts attached to a profile, newest first', async () => {
      const profile = uid('p');
      const [a, b] = [uid('a'), uid('b')];
      await store.addScriptVersion(script(a, [profile], 10));
      await store.addScriptVersion(script(b, [profile, 'other'], 11));
      await store.addScriptVersion(script(uid('c'), ['other'], 12));
      expect((await store.listScripts({ profileId: profile })).map((s) => s.scriptId)).toEqual([
        b,
        a,
      ]);
    });

    it('runs a clip job from queued through rendering to ready, and keeps a final state final', async () => {
      const id = uid('job');
      await store.addScriptVersion(script(id, ['p1'], 1));
      const cid = clipId();
      const queued = await store.addClip({
        clipId: cid,
        scriptId: id,
        scriptVersion: 1,
        voice: VOICE,
        requested: { by: 'dr-a', at: at(2) },
      });
      expect(queued).toMatchObject({ state: 'queued', progress: 0 });
      expect((await store.reportClip(cid, { state: 'rendering', progress: 0.5 })).progress).toBe(
        0.5,
      );
      const failed = await store.reportClip(cid, {
        state: 'failed',
        error: { code: 'voice_failed', message: 'espeak-ng exited 1' },
      });
      expect(failed).toMatchObject({ state: 'failed', error: { code: 'voice_failed' } });
      expect((await store.reportClip(cid, { state: 'rendering', progress: 0.9 })).state).toBe(
        'failed',
      );
      expect(
        (await store.listClips({ scriptId: id, states: ['failed'] })).map((c) => c.clipId),
      ).toEqual([cid]);
      expect(
        await code(
          store.addClip({
            clipId: clipId(),
            scriptId: id,
            scriptVersion: 7,
            voice: VOICE,
            requested: { by: 'x', at: at(3) },
          }),
        ),
      ).toBe('version_not_found');
      expect(
        await code(
          store.addClip({
            clipId: clipId(),
            scriptId: uid('none'),
            scriptVersion: 1,
            voice: VOICE,
            requested: { by: 'x', at: at(3) },
          }),
        ),
      ).toBe('script_not_found');
    });

    it('stores audio and reads it whole or by an inclusive byte range', async () => {
      const bytes = Buffer.alloc(600_000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 256;
      const id = uid('audio');
      await store.addScriptVersion(script(id, ['p1'], 1));
      const clip = await readyClip(id, 1, 2, bytes);
      const fileId = clip.audio?.fileId ?? '';
      expect((await collect(store.readAudio(fileId))).equals(bytes)).toBe(true);
      // Across a GridFS chunk boundary (255 KiB).
      const part = await collect(store.readAudio(fileId, { start: 261_000, end: 262_143 }));
      expect(part.equals(bytes.subarray(261_000, 262_144))).toBe(true);
      expect(part.length).toBe(1144);
    });

    it('plays only an approved clip of the approved version in use, neither retired', async () => {
      const id = uid('play');
      await store.addScriptVersion(script(id, ['p1'], 1));
      const c1 = await readyClip(id, 1, 2);
      // The script version is pending: the clip cannot be approved yet.
      expect(await code(store.approveClip(c1.clipId, { by: 'gov', at: at(3) }))).toBe(
        'clip_source_not_approved',
      );
      expect(await store.playableClip(id)).toBeNull();
      await store.approveScript(id, 1, { by: 'gov', at: at(4) });
      // Ready and from the approved version, but not approved itself.
      expect(await store.playableClip(id)).toBeNull();
      const approved = await store.approveClip(c1.clipId, { by: 'gov', at: at(5) });
      expect(approved.approved).toEqual({ by: 'gov', at: at(5) });
      expect((await store.playableClip(id))?.clipId).toBe(c1.clipId);
      expect(await store.isPlayable(c1.clipId)).toBe(true);
      expect(await code(store.approveClip(c1.clipId, { by: 'gov', at: at(6) }))).toBe(
        'clip_already_approved',
      );

      // A newer approved version of the script: the old clip no longer plays.
      await store.addScriptVersion(script(id, ['p1'], 7, 'New words.'));
      await store.approveScript(id, 2, { by: 'gov', at: at(8) });
      expect(await store.playableClip(id)).toBeNull();
      expect(await store.isPlayable(c1.clipId)).toBe(false);
      const c2 = await readyClip(id, 2, 9);
      await store.approveClip(c2.clipId, { by: 'gov', at: at(10) });
      expect((await store.playableClip(id))?.clipId).toBe(c2.clipId);

      // A retired clip, then a retired script, never play again.
      const retired = await store.retireClip(c2.clipId, { by: 'gov', at: at(11) });
      expect(retired.retired).toEqual({ by: 'gov', at: at(11) });
      expect(await store.playableClip(id)).toBeNull();
      const c3 = await readyClip(id, 2, 12);
      await store.approveClip(c3.clipId, { by: 'gov', at: at(13) });
      expect(await store.isPlayable(c3.clipId)).toBe(true);
      await store.retireScript(id, { by: 'gov', at: at(14) });
      expect(await store.playableClip(id)).toBeNull();
      expect(await store.isPlayable(c3.clipId)).toBe(false);
      expect(await code(store.addScriptVersion(script(id, ['p1'], 15)))).toBe('script_retired');
      expect(await code(store.approveScript(id, 2, { by: 'gov', at: at(15) }))).toBe(
        'script_retired',
      );
      await store.retireScript(id, { by: 'other', at: at(16) });
      expect((await store.getScript(id))?.retired).toEqual({ by: 'gov', at: at(14) });
    });

    it('refuses approving a clip that is not ready, and names a missing one', async () => {
      const id = uid('notready');
      await store.addScriptVersion(script(id, ['p1'], 1));
      await store.approveScript(id, 1, { by: 'gov', at: at(2) });
      const cid = clipId();
      await store.addClip({
        clipId: cid,
        scriptId: id,
        scriptVersion: 1,
        voice: VOICE,
        requested: { by: 'x', at: at(3) },
      });
      expect(await code(store.approveClip(cid, { by: 'gov', at: at(4) }))).toBe('clip_not_ready');
      expect(await code(store.approveClip(clipId(), { by: 'gov', at: at(4) }))).toBe(
        'clip_not_found',
      );
      expect(await code(store.retireScript(uid('nope'), { by: 'gov', at: at(4) }))).toBe(
        'script_not_found',
      );
      expect(await store.isPlayable(clipId())).toBe(false);
    });
  });
}
