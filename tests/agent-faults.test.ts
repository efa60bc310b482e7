/**
 * Sessions that must not stay open for ever, with the real agent worker, LiveKit, FerretDB and
 * Pub/Sub (vendors are stand-ins): a patient who never joins ends the session as `no_show`, and
 * a worker SIGKILLed mid-call (it writes nothing on the way out) has its session ended
 * `interrupted` by the dispatcher's reaper.
 */
import { RoomServiceClient } from 'livekit-server-sdk';
import { AgentDispatchClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../infra/logger.ts';
import { MongoPlacementLeases } from '../dispatcher/leases.ts';
import { apiUrl, LiveKitAgentRooms } from '../dispatcher/livekit.ts';
import { Reaper } from '../dispatcher/reaper.ts';
import { PubSubEventPublisher } from '../sessions/events.ts';
import { AgentHarness } from './support/agent-harness.ts';
import type { AgentWorker } from './support/agent-worker.ts';
import { shutdownRtc } from './support/patient.ts';

const NO_SHOW_MS = 2000;
const short = { firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?' };

afterAll(async () => {
  await shutdownRtc();
});

describe('sessions that must end', () => {
  let h: AgentHarness;
  let worker: AgentWorker;

  beforeAll(async () => {
    h = await AgentHarness.start({
      profiles: [{ file: 'intake.yaml', override: short }],
      workerEnv: { AGENT_NO_SHOW_TIMEOUT_MS: String(NO_SHOW_MS) },
    });
    worker = await h.startWorker();
  });

  afterAll(async () => {
    await h?.close();
  });

  it('ends the session as no_show, with session.failed, when the patient never joins', async () => {
    const request = h.request();
    await h.sessions.claim(request, new Date());
    const room = `vc-${request.sessionId}`;
    const lk = h.cfg.livekit;
    await new RoomServiceClient(apiUrl(lk.url), lk.apiKey, lk.apiSecret).createRoom({
      name: room,
      emptyTimeout: 60,
    });
    const dispatchedAt = Date.now();
    await new AgentDispatchClient(apiUrl(lk.url), lk.apiKey, lk.apiSecret).createDispatch(
      room,
      h.agentName,
      { metadata: JSON.stringify(request) },
    );

    const session = await h.eventually(
      'the session to fail',
      async () => {
        const s = await h.sessions.get(request.sessionId);
        return s?.state === 'failed' ? s : undefined;
      },
      30_000,
    );
    expect(session).toMatchObject({ failureCode: 'no_show', endReason: 'no_show' });
    // It waited for the patient, and not for much longer.
    const failedAfterMs = session.timestamps.failed!.getTime() - dispatchedAt;
    expect(failedAfterMs).toBeGreaterThanOrEqual(NO_SHOW_MS);
    const event = await h.eventually('session.failed', async () =>
      h.events.find((e) => e.type === 'session.failed' && e.sessionId === request.sessionId),
    );
    expect(event).toMatchObject({ code: 'no_show' });
  });

  it('has the reaper end a SIGKILLed worker’s call as interrupted, with session.completed', async () => {
    const { request } = await h.startSession();
    const id = request.sessionId;
    await h.eventually(
      'the greeting to be stored',
      async () => ((await h.utterances.listUtterances(id)).length > 0 ? true : undefined),
      30_000,
    );
    expect((await h.sessions.get(id))?.state).toBe('active');

    worker.killHard();

    const reaper = new Reaper({
      store: h.sessions,
      leases: new MongoPlacementLeases({ db: h.mongo.db }),
      rooms: new LiveKitAgentRooms(h.cfg.livekit),
      events: new PubSubEventPublisher({ topic: h.pubsub.topic(h.cfg.pubsub.eventsTopic) }),
      logger: createLogger({ level: 'error', service: 'reaper-it' }),
      agentGoneMs: 1000,
    });
    const killedAt = Date.now();
    const session = await h.eventually(
      'the reaper to interrupt the session',
      async () => {
        await reaper.sweep();
        const s = await h.sessions.get(id);
        return s?.state === 'active' ? undefined : s;
      },
      45_000,
    );
    expect(session).toMatchObject({ state: 'interrupted', endReason: 'agent_lost' });
    const event = await h.eventually('session.completed', async () =>
      h.events.find((e) => e.type === 'session.completed' && e.sessionId === id),
    );
    expect(event).toMatchObject({ state: 'interrupted', reason: 'agent_lost' });
    // For the report: how long the dead call stayed open.
    process.stdout.write(
      `reaped a killed worker's session ${Date.now() - killedAt} ms after the kill\n`,
    );
  });
});
