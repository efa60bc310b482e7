import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMongo, isDuplicateKeyError, type MongoHandle } from '../infra/mongo.ts';
import { testConfig, uniqueName } from './support/env.ts';

describe('MongoDB protocol through FerretDB', () => {
  let mongo: MongoHandle;

  beforeAll(async () => {
    mongo = await connectMongo(testConfig().mongo, uniqueName('infra'));
  });

  afterAll(async () => {
    await mongo.db.dropDatabase();
    await mongo.close();
  });

  it('is a real server speaking the wire protocol', async () => {
    const hello = await mongo.db.admin().command({ hello: 1 });
    expect(hello.isWritablePrimary ?? hello.ismaster).toBe(true);
    const build = await mongo.db.admin().command({ buildInfo: 1 });
    expect(JSON.stringify(build)).toMatch(/ferretdb/i);
  });

  it('rejects a duplicate key under a unique index', async () => {
    const things = mongo.db.collection('things');
    await things.createIndex({ sessionId: 1, seq: 1 }, { unique: true });
    await things.insertOne({ sessionId: 's1', seq: 0 });
    const err = await things.insertOne({ sessionId: 's1', seq: 0 }).catch((e: unknown) => e);
    expect(isDuplicateKeyError(err)).toBe(true);
    await things.insertOne({ sessionId: 's1', seq: 1 });
    expect(await things.countDocuments({ sessionId: 's1' })).toBe(2);
  });

  it('makes an upsert with $setOnInsert idempotent', async () => {
    const sessions = mongo.db.collection('sessions');
    await sessions.createIndex({ sessionId: 1 }, { unique: true });
    const upsert = () =>
      sessions.updateOne(
        { sessionId: 'abc' },
        { $setOnInsert: { sessionId: 'abc', state: 'requested', createdAt: new Date() } },
        { upsert: true },
      );
    const first = await upsert();
    const second = await upsert();
    expect(first.upsertedCount).toBe(1);
    expect(second.upsertedCount).toBe(0);
    expect(second.matchedCount).toBe(1);
    expect(await sessions.countDocuments({ sessionId: 'abc' })).toBe(1);
  });
});
