/** The knowledge store contract against the real MongoDB-protocol server (FerretDB). */
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { testConfig, uniqueName } from '../tests/support/env.ts';
import { ensureKnowledgeIndexes, MongoFollowUpStore, MongoKnowledgeStore } from './mongo-store.ts';
import { describeKnowledgeStoreContract } from './store.contract.ts';

let mongo: MongoHandle | undefined;

describeKnowledgeStoreContract('MongoDB', {
  async open() {
    mongo = await connectMongo(testConfig().mongo, uniqueName('knowledge-store'));
    await ensureKnowledgeIndexes(mongo.db);
    return {
      knowledge: new MongoKnowledgeStore({ db: mongo.db }),
      followUps: new MongoFollowUpStore({ db: mongo.db }),
    };
  },
  async close() {
    await mongo?.db.dropDatabase();
    await mongo?.close();
  },
});
