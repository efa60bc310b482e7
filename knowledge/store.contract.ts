/**
 * The one contract both knowledge store pairs pass: the memory twin as a unit test
 * (`memory-store.test.ts`), the MongoDB stores against FerretDB (`store.int.test.ts`). Each test
 * uses its own ids, so the stores may be shared across the suite.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FollowUp } from './schema.ts';
import { passageId } from './schema.ts';
import {
  KnowledgeStoreError,
  type FollowUpStore,
  type KnowledgeStore,
  type NewVersion,
} from './store.ts';

export interface KnowledgeFixture {
  knowledge: KnowledgeStore;
  followUps: FollowUpStore;
}

const T0 = Date.parse('2026-02-01T09:00:00.000Z');
const at = (s: number): Date => new Date(T0 + s * 1000);
const uid = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

function upload(
  docId: string,
  profiles: string[],
  s: number,
  words = 'shower after two days',
): NewVersion {
  return {
    docId,
    title: `Title of ${docId}`,
    format: 'markdown',
    profiles,
    sha256: 'ab'.repeat(32),
    bytes: 120,
    uploaded: { by: 'dr-a', at: at(s) },
    passages: (version) => [
      { id: passageId(docId, version, 0), heading: 'Care', text: `v${version}: ${words}` },
    ],
  };
}

const code = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(KnowledgeStoreError);
    return (err as KnowledgeStoreError).code;
  }
};

export function describeKnowledgeStoreContract(
  name: string,
  opts: { open(): Promise<KnowledgeFixture>; close?(): Promise<void> },
): void {
  describe(`knowledge store contract: ${name}`, () => {
    let f: KnowledgeFixture;
    beforeAll(async () => {
      f = await opts.open();
    });
    afterAll(async () => {
      await opts.close?.();
    });

    it('numbers versions from 1, keeps each pending until approved, with its passage ids', async () => {
      const docId = uid('knee');
      const profile = uid('p');
      const v1 = await f.knowledge.addVersion(upload(docId, [profile], 1));
      const v2 = await f.knowledge.addVersion(upload(docId, [profile], 2));
      expect([v1.version, v2.version]).toEqual([1, 2]);
      expect(v2.status).toBe('pending');
      expect(v2.passages[0]?.id).toBe(`${docId}@v2#0`);
      expect(await f.knowledge.approvedSources(profile)).toEqual([]);
      const doc = await f.knowledge.getDocument(docId);
      expect(doc?.versions.map((v) => v.version)).toEqual([2, 1]);
      expect(doc?.versions[0]?.uploaded).toEqual({ by: 'dr-a', at: at(2) });
    });

    it('serves only the newest approved version, to the profiles it is attached to', async () => {
      const docId = uid('leaflet');
      const [mine, other] = [uid('p'), uid('p')];
      await f.knowledge.addVersion(upload(docId, [mine], 1));
      const approved = await f.knowledge.approve(docId, 1, { by: 'dr-b', at: at(3) });
      expect(approved).toMatchObject({ status: 'approved', approved: { by: 'dr-b', at: at(3) } });
      await f.knowledge.addVersion(upload(docId, [mine], 4, 'walk daily'));
      // A pending second version changes nothing yet.
      expect((await f.knowledge.approvedSources(mine)).map((s) => s.version)).toEqual([1]);
      await f.knowledge.approve(docId, 2, { by: 'dr-b', at: at(5) });
      const sources = await f.knowledge.approvedSources(mine);
      expect(sources).toEqual([
        {
          docId,
          version: 2,
          title: `Title of ${docId}`,
          passages: [{ id: `${docId}@v2#0`, heading: 'Care', text: 'v2: walk daily' }],
        },
      ]);
      expect(await f.knowledge.approvedSources(other)).toEqual([]);
      const doc = await f.knowledge.getDocument(docId);
      expect(doc?.versions.map((v) => v.status)).toEqual(['approved', 'superseded']);
    });

    it('never serves a retired document again, and refuses to approve or extend it', async () => {
      const docId = uid('old');
      const profile = uid('p');
      await f.knowledge.addVersion(upload(docId, [profile], 1));
      await f.knowledge.approve(docId, 1, { by: 'dr-b', at: at(2) });
      await f.knowledge.addVersion(upload(docId, [profile], 3));
      const retired = await f.knowledge.retire(docId, { by: 'dr-c', at: at(4) });
      expect(retired.retired).toEqual({ by: 'dr-c', at: at(4) });
      expect(await f.knowledge.approvedSources(profile)).toEqual([]);
      expect(await code(f.knowledge.approve(docId, 2, { by: 'dr-b', at: at(5) }))).toBe(
        'document_retired',
      );
      expect(await code(f.knowledge.addVersion(upload(docId, [profile], 6)))).toBe(
        'document_retired',
      );
      // Retiring again keeps who retired it first.
      await f.knowledge.retire(docId, { by: 'dr-d', at: at(7) });
      expect((await f.knowledge.getDocument(docId))?.retired).toEqual({ by: 'dr-c', at: at(4) });
    });

    it('refuses approving a version twice, or one that does not exist', async () => {
      const docId = uid('twice');
      await f.knowledge.addVersion(upload(docId, [uid('p')], 1));
      await f.knowledge.approve(docId, 1, { by: 'dr-b', at: at(2) });
      expect(await code(f.knowledge.approve(docId, 1, { by: 'dr-b', at: at(3) }))).toBe(
        'version_not_pending',
      );
      expect(await code(f.knowledge.approve(docId, 9, { by: 'dr-b', at: at(3) }))).toBe(
        'version_not_found',
      );
      expect(await code(f.knowledge.retire(uid('missing'), { by: 'x', at: at(1) }))).toBe(
        'document_not_found',
      );
    });

    it('lists documents attached to a profile, newest upload first', async () => {
      const profile = uid('p');
      const [a, b] = [uid('a'), uid('b')];
      await f.knowledge.addVersion(upload(a, [profile], 10));
      await f.knowledge.addVersion(upload(b, [profile, uid('p')], 11));
      await f.knowledge.addVersion(upload(uid('c'), [uid('p')], 12));
      const listed = await f.knowledge.listDocuments({ profileId: profile });
      expect(listed.map((d) => d.docId)).toEqual([b, a]);
      expect((await f.knowledge.listDocuments()).length).toBeGreaterThanOrEqual(3);
    });

    it('records a follow-up once however often it is retried, and lists them by session', async () => {
      const sessionId = uid('sess');
      const item = (n: number, s: number): FollowUp => ({
        id: `${sessionId}:msg${n}`,
        sessionId,
        profileId: 'post-discharge',
        reason: 'no_approved_answer',
        question: `question ${n}`,
        bestScore: 0.2,
        refusedBy: ['low_score', 'qualifier_missing'],
        via: 'engine',
        at: at(s),
      });
      await f.followUps.addFollowUp(item(2, 9));
      await f.followUps.addFollowUp(item(1, 5));
      await f.followUps.addFollowUp({ ...item(1, 5), question: 'changed' });
      expect(await f.followUps.listFollowUps(sessionId)).toEqual([item(1, 5), item(2, 9)]);
      expect(await f.followUps.listFollowUps(uid('other'))).toEqual([]);
    });
  });
}
