/**
 * The transcript sink writing through the real MongoDB store (FerretDB): utterances land in
 * order, a retried batch leaves no duplicates, and a real network outage (the driver's own
 * errors, classified by the store) is ridden out until the server answers again.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TranscriptSink, type UtteranceInput } from '../agent/transcript/sink.ts';
import { createLogger } from '../infra/logger.ts';
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import type { Utterance } from '../sessions/schema.ts';
import { MongoUtteranceStore, ensureIndexes } from '../sessions/mongo-store.ts';
import { FaultyUtteranceStore } from '../sessions/testing/faulty-utterance-store.ts';
import { testConfig, uniqueName } from './support/env.ts';

const logger = createLogger({ level: 'silent', service: 'test' });

function said(i: number): UtteranceInput {
  const startedAt = new Date(Date.UTC(2026, 0, 5, 10, 0, 0, i * 1500));
  return {
    role: i % 2 === 0 ? 'agent' : 'patient',
    text: `utterance number ${i}`,
    startedAt,
    endedAt: new Date(startedAt.getTime() + 900),
    interrupted: i % 5 === 4,
    ...(i % 2 === 1 ? { confidence: 0.9 } : { latency: { endToEndMs: 800 + i } }),
  };
}

describe('TranscriptSink over MongoDB', () => {
  let mongo: MongoHandle;
  let store: MongoUtteranceStore;

  beforeAll(async () => {
    mongo = await connectMongo(testConfig().mongo, uniqueName('transcript-sink'));
    await ensureIndexes(mongo.db);
    store = new MongoUtteranceStore({ db: mongo.db });
  });

  afterAll(async () => {
    await mongo.db.dropDatabase();
    await mongo.close();
  });

  it('lands every appended utterance in Mongo, in order, through a batch retried after a lost acknowledgement', async () => {
    const sessionId = uniqueName('sess');
    const faulty = new FaultyUtteranceStore(store).failNext(1, { afterWrite: true });
    const sink = new TranscriptSink({
      store: faulty,
      sessionId,
      logger,
      maxBatchSize: 8,
      flushIntervalMs: 20,
      retryBaseDelayMs: 10,
    });

    const expected: Utterance[] = [];
    for (let i = 0; i < 20; i++) {
      const seq = sink.append(said(i));
      expected.push({ ...said(i), sessionId, seq });
    }
    const report = await sink.close({ deadlineMs: 20_000 });

    expect(report).toMatchObject({ written: 20, unwritten: 0, timedOut: false });
    expect(report.stats.failedAttempts).toBe(1);
    // The first batch went twice: once landing unacknowledged, once as the retry.
    const calls = faulty.seqsPerCall();
    expect(calls[1]).toEqual(calls[0]);
    expect(calls.flat()).toHaveLength(20 + (calls[0]?.length ?? 0));

    expect(await store.listUtterances(sessionId)).toStrictEqual(expected);
    expect(await mongo.db.collection('utterances').countDocuments({ sessionId })).toBe(20);
  });

  it('rides out a network outage between agent and server, then writes everything in order', async () => {
    const sessionId = uniqueName('sess');
    const proxy = new CuttableProxy(new URL(testConfig().mongo.url).port || '27017');
    const port = await proxy.open();
    const client = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, {
      serverSelectionTimeoutMS: 300,
      connectTimeoutMS: 300,
    });
    try {
      await client.connect();
      const viaProxy = new MongoUtteranceStore({ db: client.db(mongo.db.databaseName) });
      const sink = new TranscriptSink({
        store: viaProxy,
        sessionId,
        logger,
        flushIntervalMs: 10,
        maxAttempts: 40,
        retryBaseDelayMs: 20,
        retryMaxDelayMs: 200,
        retryBudgetMs: 30_000,
      });
      sink.append(said(0));
      sink.append(said(1));
      await vi.waitFor(() => expect(sink.stats().written).toBe(2), { timeout: 10_000 });

      proxy.cut();
      for (let i = 2; i < 5; i++) sink.append(said(i));
      await vi.waitFor(() => expect(sink.stats().failedAttempts).toBeGreaterThanOrEqual(2), {
        timeout: 10_000,
      });
      expect(sink.stats()).toMatchObject({ written: 2, pending: 3, parked: 0 });

      await proxy.open();
      const report = await sink.close({ deadlineMs: 20_000 });
      expect(report).toMatchObject({
        written: 5,
        unwritten: 0,
        lastError: { errName: 'TransientError', errCode: 'mongo_unavailable', retryable: true },
      });
      expect((await store.listUtterances(sessionId)).map((u) => u.seq)).toEqual([0, 1, 2, 3, 4]);
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});

/** A loopback TCP proxy to the real server that a test can cut (all connections dropped) and reopen. */
class CuttableProxy {
  #server: Server | undefined;
  #port = 0;
  readonly #sockets = new Set<Socket>();
  readonly #targetPort: number;

  constructor(targetPort: string) {
    this.#targetPort = Number(targetPort);
  }

  /** Listens (again, on the same port after a cut) and returns the port. */
  async open(): Promise<number> {
    const server = createServer((client) => {
      const upstream = connect(this.#targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(this.#port, '127.0.0.1');
    await once(server, 'listening');
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this.#port;
  }

  /** Stops accepting and drops every open connection, as a network partition would. */
  cut(): void {
    this.#server?.close();
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.cut();
    if (server) await once(server, 'close');
  }
}
