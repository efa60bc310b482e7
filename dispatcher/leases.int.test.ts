import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { testConfig, uniqueName } from '../tests/support/env.ts';
import { describeLeasesContract } from './leases.contract.ts';
import { MongoPlacementLeases } from './leases.ts';

let mongo: MongoHandle | undefined;

describeLeasesContract('MongoDB', {
  async open() {
    mongo = await connectMongo(testConfig().mongo, uniqueName('dispatcher-leases'));
    const leases = new MongoPlacementLeases({ db: mongo.db });
    await leases.ensureIndexes();
    return leases;
  },
  async close() {
    await mongo?.db.dropDatabase();
    await mongo?.close();
  },
});
