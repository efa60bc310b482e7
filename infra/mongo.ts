/**
 * MongoDB connection. FerretDB locally (MongoDB wire protocol), Atlas in production.
 */
import { MongoClient, type Db } from 'mongodb';
import type { Config } from './config.ts';

export interface MongoHandle {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

export async function connectMongo(cfg: Config['mongo'], dbName = cfg.db): Promise<MongoHandle> {
  const client = new MongoClient(cfg.url, {
    // Fail fast when the server is away; callers buffer and retry on their own terms.
    serverSelectionTimeoutMS: 5000,
    connectTimeoutMS: 5000,
    maxPoolSize: 10,
    appName: 'voicecare',
  });
  await client.connect();
  const db = client.db(dbName);
  return { client, db, close: () => client.close() };
}

/** Duplicate-key errors (code 11000) mean "already there": the basis of our idempotency. */
export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}
