/**
 * The escalation outbox across real processes, without an agent session: a "raiser" process
 * builds the courier exactly as a job does, a relay process runs the relay as the worker's main
 * process does. Pub/Sub and MongoDB are taken away through TCP proxies (the shared servers keep
 * running). The spoken red flag through a real worker is in `escalation-outbox.test.ts`.
 */
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { createPubSub, ensureSubscription, ensureTopic } from '../infra/pubsub.ts';
import {
  ensureOutboxIndexes,
  MongoEscalationOutbox,
  OUTBOX_COLLECTIONS,
} from '../sessions/mongo-outbox.ts';
import { TEST_ENV, testConfig, uniqueName } from './support/env.ts';
import { startOutboxProcess, type OutboxProcess } from './support/outbox-processes.ts';
import { TcpProxy } from './support/tcp-proxy.ts';

const OUTAGE_MS = 30_000;

interface Received {
  escalationId: string | undefined;
  at: number;
}

describe('escalation outbox across processes', () => {
  const db = uniqueName('outbox-relay');
  const topic = uniqueName('events');
  let pubsubProxy: TcpProxy;
  let mongoProxy: TcpProxy;
  let spoolDir: string;
  let mongo: MongoHandle;
  let pubsub: PubSub;
  let consumer: Subscription;
  let outbox: MongoEscalationOutbox;
  let processes: OutboxProcess[] = [];
  const received: Received[] = [];
  let base: Record<string, string>;

  beforeAll(async () => {
    pubsubProxy = await TcpProxy.start({ target: TEST_ENV.PUBSUB_EMULATOR_HOST! });
    mongoProxy = await TcpProxy.start({ target: new URL(TEST_ENV.MONGODB_URL!).host });
    spoolDir = await mkdtemp(join(tmpdir(), 'vc-spool-'));
    const cfg = testConfig({ MONGODB_DB: db, PUBSUB_EVENTS_TOPIC: topic });
    mongo = await connectMongo(cfg.mongo);
    await ensureOutboxIndexes(mongo.db);
    outbox = new MongoEscalationOutbox({ db: mongo.db });
    pubsub = createPubSub(cfg.pubsub);
    await ensureTopic(pubsub, topic);
    consumer = await ensureSubscription(pubsub, { topic, subscription: `${topic}-consumer` });
    consumer.on('message', (m: Message) => {
      received.push({ escalationId: m.attributes['escalationId'], at: Date.now() });
      m.ack();
    });
    base = {
      MONGODB_DB: db,
      PUBSUB_EVENTS_TOPIC: topic,
      OUTBOX_SPOOL_DIR: spoolDir,
      OUTBOX_RELAY_INTERVAL_MS: '1000',
      OUTBOX_RELAY_MIN_AGE_MS: '3000',
    };
  });

  afterEach(async () => {
    pubsubProxy.restore();
    mongoProxy.restore();
    await Promise.allSettled(processes.map((p) => p.stop(3000)));
    processes = [];
  });

  afterAll(async () => {
    if (consumer) {
      consumer.removeAllListeners('message');
      await Promise.race([consumer.close(), new Promise((r) => setTimeout(r, 2000))]);
      await consumer.delete().catch(() => undefined);
    }
    await pubsub
      ?.topic(topic)
      .delete()
      .catch(() => undefined);
    await pubsub?.close();
    await mongo?.db.dropDatabase().catch(() => undefined);
    await mongo?.close();
    await pubsubProxy?.close();
    await mongoProxy?.close();
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  });

  const start = async (role: 'raiser' | 'relay', env: Record<string, string>) => {
    const p = await startOutboxProcess(role, { ...base, ...env });
    processes.push(p);
    return p;
  };
  const copiesOf = (id: string) => received.filter((r) => r.escalationId === id);
  async function eventually<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('delivers, once Pub/Sub is back from a 30 s outage, what a drained job and a SIGKILLed one raised', async () => {
    const viaProxy = { PUBSUB_EMULATOR_HOST: pubsubProxy.address };
    const [drained, killed, relay] = await Promise.all([
      start('raiser', viaProxy),
      start('raiser', viaProxy),
      start('relay', viaProxy),
    ]);
    pubsubProxy.cut();
    const cutAt = Date.now();
    const a = String((await drained.command({ cmd: 'raise', sessionId: uniqueName('sess') })).sent);
    const b = String((await killed.command({ cmd: 'raise', sessionId: uniqueName('sess') })).sent);

    // In MongoDB at once, Pub/Sub or not.
    const storedAt = await eventually('both in the outbox', async () => {
      const n = await mongo.db
        .collection(OUTBOX_COLLECTIONS.outbox)
        .countDocuments({ _id: { $in: [a, b] as never[] } });
      return n === 2 ? Date.now() : undefined;
    });
    console.log(`both escalations stored ${storedAt - cutAt} ms after the cut`);

    // One job ends as a job does (its drain deadline passes); the other is killed outright.
    expect(await drained.command({ cmd: 'drain', deadlineMs: 1500 })).toEqual({ unfinished: 1 });
    await killed.killHard();

    await new Promise((r) => setTimeout(r, Math.max(0, cutAt + OUTAGE_MS - Date.now())));
    expect([...copiesOf(a), ...copiesOf(b)]).toEqual([]);
    pubsubProxy.restore();
    const restoredAt = Date.now();

    const firstA = await eventually('a delivered', async () => copiesOf(a)[0], 60_000);
    const firstB = await eventually('b delivered', async () => copiesOf(b)[0], 60_000);
    for (const id of [a, b]) {
      await eventually(`receipt of ${id}`, async () =>
        (await outbox.isDelivered(id)) ? true : undefined,
      );
    }
    const receipts = await mongo.db
      .collection(OUTBOX_COLLECTIONS.deliveries)
      .find({ _id: { $in: [a, b] as never[] } })
      .toArray();
    // Both delivered by the relay process: neither job lived to see Pub/Sub back.
    const byRelay = `relay:test:${hostname()}:${String(relay.proc.pid)}`;
    expect(receipts.map((r) => String(r['by']))).toEqual([byRelay, byRelay]);
    await new Promise((r) => setTimeout(r, 3000));
    console.log(
      `Pub/Sub cut ${restoredAt - cutAt} ms; delivered ${firstA.at - restoredAt} / ` +
        `${firstB.at - restoredAt} ms after it came back; copies ${copiesOf(a).length} / ${copiesOf(b).length}`,
    );
    expect((await outbox.depth()).undelivered).toBe(0);
  });

  it('pages at once with MongoDB unreachable, and a relay files it after the process died', async () => {
    const raiser = await start('raiser', {
      MONGODB_URL: `mongodb://${mongoProxy.address}/?directConnection=true`,
    });
    mongoProxy.cut();
    const cutAt = Date.now();
    const id = String((await raiser.command({ cmd: 'raise', sessionId: uniqueName('sess') })).sent);

    // The page does not wait for the database.
    const first = await eventually('published without MongoDB', async () => copiesOf(id)[0]);
    console.log(`published ${first.at - cutAt} ms after the raise with MongoDB cut`);
    await eventually('spooled', async () =>
      (await readdir(spoolDir)).length > 0 ? true : undefined,
    );
    await raiser.killHard();
    expect(
      await mongo.db.collection(OUTBOX_COLLECTIONS.outbox).findOne({ _id: id as never }),
    ).toBeNull();

    mongoProxy.restore();
    // The worker's main process (here: a relay process on the same disk) replays the spool.
    await start('relay', {});
    await eventually('receipt after replay', async () =>
      (await outbox.isDelivered(id)) ? true : undefined,
    );
    expect(await readdir(spoolDir)).toEqual([]);
    await new Promise((r) => setTimeout(r, 1500));
    // Published twice (before and after MongoDB), one id: the consumer keeps one.
    console.log(`copies with MongoDB down then back: ${copiesOf(id).length}`);
    expect(new Set(copiesOf(id).map((c) => c.escalationId))).toEqual(new Set([id]));
  });
});
