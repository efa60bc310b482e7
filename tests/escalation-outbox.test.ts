/**
 * Escalations that are never lost, end to end: the real agent worker hears a spoken red flag
 * while Pub/Sub is unreachable (a TCP proxy in front of the shared emulator is cut; the emulator
 * itself keeps running for everyone else), stores the escalation in MongoDB's outbox at once,
 * and it reaches a `session-events` consumer once Pub/Sub is back, from a relay in another process
 * after the worker was SIGKILLed. The full 30 s outage is in `escalation-relay.test.ts`.
 */
import type { Message, Subscription } from '@google-cloud/pubsub';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureSubscription } from '../infra/pubsub.ts';
import { MongoEscalationOutbox, OUTBOX_COLLECTIONS } from '../sessions/mongo-outbox.ts';
import { AgentHarness } from './support/agent-harness.ts';
import { startOutboxProcess } from './support/outbox-processes.ts';
import { TEST_ENV, uniqueName } from './support/env.ts';
import { shutdownRtc } from './support/patient.ts';
import { TcpProxy } from './support/tcp-proxy.ts';

/** Worker start (slow on a shared 2-core box) + greeting + an outage + delivery. */
const TEST_TIMEOUT_MS = 180_000;
const short = { firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?' };

interface Received {
  escalationId: string | undefined;
  sessionId: string | undefined;
  at: number;
  body: { type?: string; escalationId?: string; ruleId?: string };
}

afterAll(async () => {
  await shutdownRtc();
});

describe('escalation outbox, end to end', () => {
  let h: AgentHarness;
  let proxy: TcpProxy;
  let spoolDir: string;
  let consumer: Subscription;
  let outbox: MongoEscalationOutbox;
  const received: Received[] = [];
  /** What the worker gets: Pub/Sub only through the proxy, a spool of this test's own. */
  let workerEnv: Record<string, string>;
  /** Processes of the current test: a failed test must not leave a worker to take the next job. */
  let workers: { stop(timeoutMs?: number): Promise<void> }[] = [];

  beforeAll(async () => {
    proxy = await TcpProxy.start({ target: TEST_ENV.PUBSUB_EMULATOR_HOST! });
    spoolDir = await mkdtemp(join(tmpdir(), 'vc-spool-'));
    h = await AgentHarness.start({ profiles: [{ file: 'intake.yaml', override: short }] });
    outbox = new MongoEscalationOutbox({ db: h.mongo.db });
    workerEnv = {
      PUBSUB_EMULATOR_HOST: proxy.address,
      OUTBOX_SPOOL_DIR: spoolDir,
      OUTBOX_RELAY_INTERVAL_MS: '1000',
      OUTBOX_RELAY_MIN_AGE_MS: '3000',
      // Shared 2-core machine: job processes can take longer than 10 s to start.
      AGENT_INITIALIZE_PROCESS_TIMEOUT_MS: '60000',
    };
    // The consumer talks to the emulator directly: it is the care team's side, not cut off.
    consumer = await ensureSubscription(h.pubsub, {
      topic: h.cfg.pubsub.eventsTopic,
      subscription: uniqueName('escalation-consumer'),
    });
    consumer.on('message', (m: Message) => {
      const body = JSON.parse(m.data.toString()) as Received['body'];
      if (body.type === 'session.escalation') {
        received.push({
          escalationId: m.attributes['escalationId'],
          sessionId: m.attributes['sessionId'],
          at: Date.now(),
          body,
        });
      }
      m.ack();
    });
  });

  afterAll(async () => {
    proxy?.restore();
    if (consumer) {
      consumer.removeAllListeners('message');
      await Promise.race([consumer.close(), new Promise((r) => setTimeout(r, 2000))]);
      await consumer.delete().catch(() => undefined);
    }
    await h?.close();
    await proxy?.close();
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    h.standins.reset();
    proxy.restore();
  });

  afterEach(async () => {
    await Promise.allSettled(workers.map((w) => w.stop(5000)));
    workers = [];
  });

  const outboxEntryOf = (sessionId: string) =>
    h.mongo.db.collection(OUTBOX_COLLECTIONS.outbox).findOne({ sessionId });
  const copiesOf = (sessionId: string) => received.filter((r) => r.sessionId === sessionId);

  /** Greets, then says a red flag with Pub/Sub cut; resolves once the safety response starts. */
  async function redFlagDuringOutage(sessionStart: ReturnType<AgentHarness['startSession']>) {
    const { request, patient } = await sessionStart;
    // A job process on a saturated 2-core machine can take tens of seconds to come up.
    await patient.waitForAgentSpeech({ timeoutMs: 60_000 });
    await patient.waitForAgentSilence({ timeoutMs: 20_000 });
    proxy.cut();
    const cutAt = Date.now();
    h.standins.deepgram.hear('I have crushing chest pain');
    h.standins.openai.reply('This generated reply must never be spoken.');
    const u = await patient.say('I have crushing chest pain');
    const spoken = await patient.waitForAgentSpeech({ after: u.speechEndedAt, timeoutMs: 15_000 });
    // Generous: on a saturated machine the VAD runs seconds behind real time.
    const entry = await h.eventually(
      'escalation in the outbox',
      async () => (await outboxEntryOf(request.sessionId)) ?? undefined,
      45_000,
    );
    console.log(
      `safety response began ${(spoken.at - u.speechEndedAt).toFixed(0)} ms after the red flag; ` +
        `outbox entry seen ${Date.now() - u.speechEndedAtEpochMs} ms after it, Pub/Sub cut`,
    );
    return { request, patient, cutAt, escalationId: String(entry._id) };
  }

  it(
    'delivers the escalation of a SIGKILLed worker through a relay in another process',
    async () => {
      const worker = await h.startWorker(workerEnv);
      workers.push(worker);
      const { request, patient, cutAt, escalationId } = await redFlagDuringOutage(h.startSession());

      // The job is still speaking the safety response: kill it, its worker and everything in
      // their process group, while Pub/Sub is still down.
      const before = await h.sessions.get(request.sessionId);
      expect(before?.state).toBe('active');
      worker.killHard();
      await worker.exited;
      expect(await outbox.isDelivered(escalationId)).toBe(false);

      // A relay in another process on the same database and spool, wired as the worker's main
      // process wires it. Pub/Sub stays cut while it starts.
      const other = await startOutboxProcess('relay', { ...h.env, ...workerEnv });
      workers.push(other);
      try {
        await new Promise((r) => setTimeout(r, Math.max(0, cutAt + 10_000 - Date.now())));
        expect(copiesOf(request.sessionId)).toEqual([]);
        proxy.restore();
        const restoredAt = Date.now();
        console.log(`Pub/Sub cut for ${restoredAt - cutAt} ms; worker killed during it`);

        const first = await h.eventually(
          'escalation delivered by the other relay',
          async () => copiesOf(request.sessionId)[0],
          60_000,
        );
        await h.eventually('delivery receipt', async () =>
          (await outbox.isDelivered(escalationId)) ? true : undefined,
        );
        const receipt = await h.mongo.db
          .collection(OUTBOX_COLLECTIONS.deliveries)
          .findOne({ _id: escalationId as never });
        expect(String(receipt?.['by'])).toMatch(new RegExp(`^relay:.*:${String(other.proc.pid)}$`));
        await new Promise((r) => setTimeout(r, 3000));
        const copies = copiesOf(request.sessionId);
        console.log(
          `delivered ${first.at - restoredAt} ms after Pub/Sub came back; ${copies.length} cop(ies)`,
        );
        expect(new Set(copies.map((c) => c.escalationId))).toEqual(new Set([escalationId]));
      } finally {
        await patient.leave();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
