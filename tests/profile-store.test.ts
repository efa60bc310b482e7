/**
 * The profile store against a real MongoDB-protocol server (FerretDB): the shared contract, plus
 * what only the database can show — the unique index refuses a second copy even when the store
 * is bypassed, and an edit made behind the store's back is refused on read.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMongo, isDuplicateKeyError, type MongoHandle } from '../infra/mongo.ts';
import { readProfile } from '../prompts/loader.ts';
import { MongoProfileStore } from '../prompts/mongo-store.ts';
import { profileStoreContract } from '../prompts/store.contract.ts';
import { ProfileIntegrityError } from '../prompts/store.ts';
import { minimalProfile } from '../prompts/testing.ts';
import { testConfig, uniqueName } from './support/env.ts';

let mongo: MongoHandle;

beforeAll(async () => {
  mongo = await connectMongo(testConfig().mongo, uniqueName('profiles'));
});

afterAll(async () => {
  await mongo.db.dropDatabase();
  await mongo.close();
});

// Each contract test gets its own collection, so tests never see each other's versions.
profileStoreContract('MongoDB (FerretDB)', async (now) =>
  MongoProfileStore.create({ db: mongo.db, collection: uniqueName('profiles'), now }),
);

describe('MongoProfileStore in the database', () => {
  it('has a unique (profileId, version) index that refuses a second copy written directly', async () => {
    const collection = uniqueName('profiles');
    const store = await MongoProfileStore.create({ db: mongo.db, collection });
    await store.publish(minimalProfile(), { author: 'Dr. Rivera', note: 'first' });
    const col = mongo.db.collection(collection);
    const indexes = await col.indexes();
    expect(indexes.find((i) => i.name === 'profile_version_unique')).toMatchObject({
      key: { profileId: 1, version: 1 },
      unique: true,
    });
    const err = await col
      .insertOne({ profileId: 'demo', version: 1, hash: 'sha256:forged', profile: {} })
      .catch((e: unknown) => e);
    expect(isDuplicateKeyError(err)).toBe(true);
    expect(await col.countDocuments({ profileId: 'demo', version: 1 })).toBe(1);
  });

  it('creates the index before its first write when built with just the database', async () => {
    // This test's database is unique, so the default collection name is free here.
    const store = new MongoProfileStore(mongo.db);
    await store.publish(minimalProfile(), { author: 'A', note: 'n' });
    const names = (await mongo.db.collection('profiles').indexes()).map((i) => i.name);
    expect(names).toContain('profile_version_unique');
  });

  it('refuses to serve a version that was edited behind its back', async () => {
    const collection = uniqueName('profiles');
    const store = await MongoProfileStore.create({ db: mongo.db, collection });
    await store.publish(minimalProfile(), { author: 'Dr. Rivera', note: 'first' });
    await mongo.db
      .collection(collection)
      .updateOne(
        { profileId: 'demo', version: 1 },
        { $set: { 'profile.firstMessage': 'Tampered with.' } },
      );
    await expect(store.get('demo', 1)).rejects.toBeInstanceOf(ProfileIntegrityError);
    await expect(store.resolve({ id: 'demo' })).rejects.toMatchObject({
      code: 'profile_integrity',
      retryable: false,
    });
  });

  it('round-trips a real clinical profile exactly', async () => {
    const profile = await readProfile(
      fileURLToPath(new URL('../prompts/medication-adherence.yaml', import.meta.url)),
    );
    const store = await MongoProfileStore.create({
      db: mongo.db,
      collection: uniqueName('profiles'),
    });
    const { published } = await store.publish(profile, { author: 'PharmD Lee', note: 'launch' });
    const fetched = await store.get('medication-adherence', 1);
    expect(fetched?.profile).toEqual(profile);
    expect(fetched?.hash).toBe(published.hash);
  });
});
