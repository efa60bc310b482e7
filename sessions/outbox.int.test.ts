import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { testConfig, uniqueName } from '../tests/support/env.ts';
import { ensureOutboxIndexes, MongoEscalationOutbox } from './mongo-outbox.ts';
import { describeOutboxContract } from './outbox.contract.ts';

let mongo: MongoHandle | undefined;

describeOutboxContract('MongoDB', {
  async open() {
    mongo = await connectMongo(testConfig().mongo, uniqueName('escalation-outbox'));
    await ensureOutboxIndexes(mongo.db);
    await ensureOutboxIndexes(mongo.db);
    return new MongoEscalationOutbox({ db: mongo.db });
  },
  async close() {
    await mongo?.db.dropDatabase();
    await mongo?.close();
  },
});
