/** The education store contract against the real MongoDB-protocol server (FerretDB, GridFS). */
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { testConfig, uniqueName } from '../tests/support/env.ts';
import { ensureEducationIndexes, MongoEducationStore } from './mongo-store.ts';
import { describeEducationStoreContract } from './store.contract.ts';

let mongo: MongoHandle | undefined;

describeEducationStoreContract('MongoDB', {
  async open() {
    mongo = await connectMongo(testConfig().mongo, uniqueName('education-store'));
    await ensureEducationIndexes(mongo.db);
    return new MongoEducationStore({ db: mongo.db });
  },
  async close() {
    await mongo?.db.dropDatabase();
    await mongo?.close();
  },
});
