/**
 * The behaviour every ProfileStore must have. Run against the in-memory store
 * (memory-store.test.ts) and against MongoDB/FerretDB (tests/profile-store.test.ts).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { ValidationError, isRetryable } from '../infra/errors.ts';
import type { Profile } from './schema.ts';
import {
  ProfileNotFoundError,
  PublishConflictError,
  contentHash,
  type ProfileStore,
} from './store.ts';
import { minimalProfile } from './testing.ts';

/** Makes a fresh, empty store that reads the time from `now`. */
export type StoreFactory = (now: () => Date) => Promise<ProfileStore>;

const T0 = new Date('2025-03-01T09:00:00.000Z');

const v = (version: number, overrides: Partial<Profile> = {}): Profile =>
  minimalProfile({ version, ...overrides });

export function profileStoreContract(name: string, factory: StoreFactory): void {
  describe(`ProfileStore contract: ${name}`, () => {
    let store: ProfileStore;
    let clock: Date;
    const tick = (ms: number) => {
      clock = new Date(clock.getTime() + ms);
    };

    beforeEach(async () => {
      clock = T0;
      store = await factory(() => clock);
    });

    it('publishes an immutable version with its content hash, author, time and note', async () => {
      const { created, published } = await store.publish(v(1), {
        author: 'Dr. Rivera',
        note: 'First version',
      });
      expect(created).toBe(true);
      expect(published).toMatchObject({
        id: 'demo',
        version: 1,
        author: 'Dr. Rivera',
        note: 'First version',
        publishedAt: T0,
        hash: contentHash(v(1)),
      });
      expect(published.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
      const got = await store.get('demo', 1);
      expect(got).toEqual(published);
    });

    it('hashes content, not key order: the same profile written differently hashes the same', () => {
      const a = v(1);
      const reordered = Object.fromEntries(Object.entries(a).reverse()) as Profile;
      expect(contentHash(reordered)).toBe(contentHash(a));
      expect(contentHash(v(1, { firstMessage: 'Hello.' }))).not.toBe(contentHash(a));
    });

    it('treats re-publishing identical content as a no-op that keeps the original record', async () => {
      const first = await store.publish(v(1), { author: 'Dr. Rivera', note: 'First version' });
      tick(60_000);
      const again = await store.publish(v(1), { author: 'Someone else', note: 'retry' });
      expect(again.created).toBe(false);
      expect(again.published).toEqual(first.published);
      expect(await store.list('demo')).toHaveLength(1);
    });

    it('refuses different content under a published version, leaving it unchanged', async () => {
      const first = await store.publish(v(1), { author: 'Dr. Rivera', note: 'First version' });
      const edited = v(1, { firstMessage: 'Hello, this was edited in place.' });
      const err = await store
        .publish(edited, { author: 'Dr. Chen', note: 'edit' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PublishConflictError);
      expect(err).toMatchObject({
        code: 'profile_version_conflict',
        retryable: false,
        id: 'demo',
        version: 1,
        existingHash: first.published.hash,
        attemptedHash: contentHash(edited),
      });
      expect((err as Error).message).toContain('give your changes a new version number');
      expect(await store.get('demo', 1)).toEqual(first.published);
    });

    it('lets exactly one of two racing publishes of the same new version win', async () => {
      const results = await Promise.allSettled([
        store.publish(v(1, { firstMessage: 'Version A.' }), { author: 'A', note: 'a' }),
        store.publish(v(1, { firstMessage: 'Version B.' }), { author: 'B', note: 'b' }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(PublishConflictError);
      const stored = await store.get('demo', 1);
      expect(stored?.author).toBe(
        (won[0] as PromiseFulfilledResult<{ published: { author: string } }>).value.published
          .author,
      );
    });

    it('refuses a version number older than the latest', async () => {
      await store.publish(v(3), { author: 'Dr. Rivera', note: 'v3' });
      const err = await store
        .publish(v(2), { author: 'Dr. Rivera', note: 'v2' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PublishConflictError);
      expect((err as Error).message).toContain('publish it as v4 or later');
      expect(await store.get('demo', 2)).toBeNull();
    });

    it('validates before storing: an invalid profile or a missing author or note is refused', async () => {
      const invalid = { ...v(1), voice: { provider: 'local', voiceId: 'en-us', speed: 5 } };
      await expect(store.publish(invalid as Profile, { author: 'A', note: 'n' })).rejects.toThrow(
        /voice\.speed: must be at most 1\.2/,
      );
      await expect(store.publish(v(1), { author: ' ', note: 'n' })).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(store.publish(v(1), { author: 'A', note: '' })).rejects.toThrow(/note/);
      expect(await store.list()).toEqual([]);
    });

    it('gets the latest version, or the pinned one', async () => {
      await store.publish(v(1), { author: 'A', note: 'one' });
      tick(1000);
      await store.publish(v(2, { firstMessage: 'Second.' }), { author: 'B', note: 'two' });
      tick(1000);
      await store.publish(v(10, { firstMessage: 'Tenth.' }), { author: 'C', note: 'ten' });
      expect((await store.get('demo'))?.version).toBe(10);
      expect((await store.get('demo', 2))?.profile.firstMessage).toBe('Second.');
      expect((await store.get('demo', 1))?.profile).toEqual(v(1));
      expect(await store.get('demo', 4)).toBeNull();
      expect(await store.get('other')).toBeNull();
    });

    it('returns frozen profiles: changing a returned copy cannot change what is stored', async () => {
      await store.publish(v(1), { author: 'A', note: 'one' });
      const got = await store.get('demo', 1);
      expect(() => {
        (got?.profile as { firstMessage: string }).firstMessage = 'changed';
      }).toThrow(TypeError);
      expect(() => {
        (got?.profile.safety as unknown[]).pop();
      }).toThrow(TypeError);
      expect((await store.get('demo', 1))?.profile).toEqual(v(1));
    });

    it('lists versions by id, oldest first, without their content', async () => {
      await store.publish(v(2), { author: 'A', note: 'demo two' });
      await store.publish(v(1, { id: 'another' }), { author: 'B', note: 'another one' });
      await store.publish(v(3, { firstMessage: 'Third.' }), { author: 'C', note: 'demo three' });
      const all = await store.list();
      expect(all.map((i) => `${i.id}@${i.version}`)).toEqual(['another@1', 'demo@2', 'demo@3']);
      expect(all[0]).toEqual({
        id: 'another',
        version: 1,
        hash: contentHash(v(1, { id: 'another' })),
        author: 'B',
        note: 'another one',
        publishedAt: T0,
      });
      expect((await store.list('demo')).map((i) => i.version)).toEqual([2, 3]);
      expect(await store.list('nothing')).toEqual([]);
    });

    it('resolves a session pin to that exact version, and no pin to the latest', async () => {
      await store.publish(v(1), { author: 'A', note: 'one' });
      await store.publish(v(2, { firstMessage: 'Second.' }), { author: 'B', note: 'two' });
      expect((await store.resolve({ id: 'demo', version: 1 })).version).toBe(1);
      expect((await store.resolve({ id: 'demo', version: 1 })).firstMessage).toBe(
        v(1).firstMessage,
      );
      expect((await store.resolve({ id: 'demo' })).version).toBe(2);
    });

    it('refuses an unknown version with a non-retryable error and a reason to record', async () => {
      await store.publish(v(1), { author: 'A', note: 'one' });
      const err = await store.resolve({ id: 'demo', version: 7 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProfileNotFoundError);
      expect(isRetryable(err)).toBe(false);
      expect(err).toMatchObject({
        code: 'profile_version_unknown',
        reason: "profile 'demo' has no published version 7 (latest is v1)",
        ref: { id: 'demo', version: 7 },
      });
    });

    it('refuses an unknown profile id the same way', async () => {
      for (const ref of [{ id: 'missing' }, { id: 'missing', version: 1 }]) {
        const err = await store.resolve(ref).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ProfileNotFoundError);
        expect(err).toMatchObject({
          code: 'profile_unknown',
          retryable: false,
          reason: "no version of profile 'missing' has been published",
        });
      }
    });
  });
}
