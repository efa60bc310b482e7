/**
 * The store contract against the real MongoDB-protocol server (FerretDB), plus what only the
 * MongoDB stores have: indexes and the mapping of driver failures onto retryable errors.
 */
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../infra/errors.ts';
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import {
  COLLECTIONS,
  MongoSessionStore,
  MongoUtteranceStore,
  ensureIndexes,
} from '../sessions/mongo-store.ts';
import { describeStoreContract } from '../sessions/store.contract.ts';
import { capturedAnswer } from '../sessions/testing/answers.ts';
import { testConfig, uniqueName } from './support/env.ts';

let mongo: MongoHandle | undefined;

describeStoreContract('MongoDB', {
  async open() {
    mongo = await connectMongo(testConfig().mongo, uniqueName('session-store'));
    await ensureIndexes(mongo.db);
    return {
      sessions: new MongoSessionStore({ db: mongo.db }),
      utterances: new MongoUtteranceStore({ db: mongo.db }),
    };
  },
  async close() {
    await mongo?.db.dropDatabase();
    await mongo?.close();
  },
});

describe('MongoDB stores beyond the contract', () => {
  let handle: MongoHandle;

  beforeAll(async () => {
    handle = await connectMongo(testConfig().mongo, uniqueName('session-store-idx'));
  });

  afterAll(async () => {
    await handle.db.dropDatabase();
    await handle.close();
  });

  it('creates the unique indexes idempotency rests on, and can run again', async () => {
    await ensureIndexes(handle.db);
    await ensureIndexes(handle.db);
    const unique = async (name: string) =>
      (await handle.db.collection(name).indexes())
        .filter((i) => i.unique === true)
        .map((i) => i.key);
    expect(await unique(COLLECTIONS.sessionRevisions)).toEqual([{ sessionId: 1, rev: 1 }]);
    expect(await unique(COLLECTIONS.utterances)).toEqual([{ sessionId: 1, seq: 1 }]);
    expect(await unique(COLLECTIONS.rejections)).toEqual([{ messageId: 1 }]);
  });

  it('loses no change when two clients update one session at once (FerretDB updates are not atomic)', async () => {
    // Two connection pools, as the dispatcher and the agent would have. Plain updates lose
    // changes here (FerretDB rewrites the whole document); revisions must not.
    await ensureIndexes(handle.db);
    const other = await connectMongo(testConfig().mongo, handle.db.databaseName);
    try {
      const a = new MongoSessionStore({ db: handle.db });
      const b = new MongoSessionStore({ db: other.db });
      const sessionId = uniqueName('race');
      const t = new Date('2026-01-05T10:00:00.000Z');
      await a.claim(
        {
          sessionId,
          profile: { id: 'intake' },
          patient: { ref: 'pt-1' },
          requestedAt: t.toISOString(),
          priority: 'routine',
        },
        t,
      );
      await a.transition(sessionId, 'active', t);
      const answers = ['q1', 'q2', 'q3', 'q4', 'q5', 'q6'];
      const [moved] = await Promise.all([
        b.transition(sessionId, 'completed', t),
        ...answers.map((q, i) =>
          (i % 2 ? a : b).saveAnswers(sessionId, { [q]: capturedAnswer(i) }, t),
        ),
        a.recordAttempt(sessionId, t),
        b.recordAttempt(sessionId, t),
      ]);
      expect(moved?.state).toBe('completed');
      const final = await a.get(sessionId);
      expect(final?.state).toBe('completed');
      expect(Object.keys(final?.answers ?? {}).sort()).toEqual(answers);
      expect(final?.attempts).toBe(2);
      // Every change is kept as its own revision: claim, active, 6 answers, 2 attempts, completed.
      const revisions = await handle.db
        .collection(COLLECTIONS.sessionRevisions)
        .find({ sessionId })
        .sort({ rev: 1 })
        .toArray();
      expect(revisions.map((r) => r['rev'])).toEqual([...Array(11).keys()]);
    } finally {
      await other.close();
    }
  });

  it('decides on the current state even when this process last saw an older one', async () => {
    await ensureIndexes(handle.db);
    const dispatcher = new MongoSessionStore({ db: handle.db });
    const agent = new MongoSessionStore({ db: handle.db });
    const sessionId = uniqueName('stale');
    const t = new Date('2026-01-05T10:00:00.000Z');
    await dispatcher.claim(
      {
        sessionId,
        profile: { id: 'intake' },
        patient: { ref: 'pt-1' },
        requestedAt: t.toISOString(),
        priority: 'routine',
      },
      t,
    );
    await dispatcher.transition(sessionId, 'active', t);
    // The agent moves the session on; the dispatcher's last view is still `active`.
    await agent.transition(sessionId, 'completed', t);
    expect(await dispatcher.transition(sessionId, 'failed', t)).toBeNull();
    expect(await dispatcher.get(sessionId)).toMatchObject({ state: 'completed' });
    expect(await dispatcher.recordAttempt(sessionId, t)).toBe(1);
    expect((await agent.get(sessionId))?.attempts).toBe(1);
  });

  it('reports an unreachable server as a retryable error and a closed client as a permanent one', async () => {
    // Nothing listens on port 1; server selection gives up after the short timeout.
    const away = new MongoClient('mongodb://127.0.0.1:1', { serverSelectionTimeoutMS: 200 });
    try {
      const store = new MongoUtteranceStore({ db: away.db(uniqueName('unreachable')) });
      const err = await store
        .writeUtterances([
          {
            sessionId: 's',
            seq: 0,
            role: 'agent',
            text: 'hello',
            startedAt: new Date(),
            endedAt: new Date(),
            interrupted: false,
          },
        ])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError);
      expect(err).toMatchObject({ retryable: true, code: 'mongo_unavailable' });
    } finally {
      await away.close();
    }

    const closed = await connectMongo(testConfig().mongo, uniqueName('closed'));
    await closed.close();
    const err = await new MongoSessionStore({ db: closed.db }).get('any').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(err).toMatchObject({ retryable: false, code: 'mongo_failed' });
  });
});
