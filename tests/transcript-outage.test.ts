/**
 * Nothing lost to a database outage (issue 15, item 4). The real worker against a FerretDB of
 * this test's own, which the test pauses with SIGSTOP (open sockets, no answers: a hung server)
 * for 30 s in the middle of a call and across the hang-up. Every utterance finalised before the
 * job ended must be stored, once each, after MongoDB is back: the job spools what it could not
 * write, and the worker's main process replays the spool.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentHarness } from './support/agent-harness.ts';
import { shutdownRtc } from './support/patient.ts';
import { startPrivateFerretDb, type PrivateFerretDb } from './support/private-ferretdb.ts';

const PAUSE_MS = 30_000;
const METRICS_PORT = 20_000 + Math.floor(Math.random() * 20_000);
const short = { firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?' };

describe('a call through a MongoDB outage', () => {
  let db: PrivateFerretDb;
  let h: AgentHarness;
  let spoolDir: string;

  beforeAll(async () => {
    db = await startPrivateFerretDb();
    spoolDir = await mkdtemp(join(tmpdir(), 'vc-transcript-spool-'));
    h = await AgentHarness.start({
      profiles: [{ file: 'intake.yaml', override: short }],
      workerEnv: {
        MONGODB_URL: db.url,
        TRANSCRIPT_SPOOL_DIR: spoolDir,
        OUTBOX_SPOOL_DIR: join(spoolDir, 'escalations'),
        OUTBOX_RELAY_INTERVAL_MS: '500',
        AGENT_TRANSCRIPT_WRITE_TIMEOUT_MS: '1000',
        AGENT_METRICS_PORT: String(METRICS_PORT),
        // The classifier would ask the stand-in for each turn; irrelevant here.
        SAFETY_CLASSIFIER: 'false',
      },
    });
    await h.startWorker({}, process.env.ECHO === '1');
  }, 60_000);

  afterAll(async () => {
    db?.resume();
    await h?.close();
    await db?.stop();
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
    await shutdownRtc();
  });

  it('stores every utterance finalised before the job ended, once, after a 30 s pause across the hang-up', async () => {
    const { request, patient } = await h.startSession();
    await patient.waitForAgentSpeech({ timeoutMs: 30_000 });
    await patient.waitForAgentSilence({ timeoutMs: 20_000 });

    const turns = [
      { said: 'yes now is fine', reply: 'Great. What is the main reason for your visit?' },
      { said: 'my knee has been hurting', reply: 'Thank you. Have any of your medicines changed?' },
      { said: 'no they have not', reply: 'Got it. And how is your sleep?' },
      { said: 'i sleep well', reply: 'Good. That is all I needed today.' },
    ];
    const talk = async (t: (typeof turns)[number]) => {
      h.standins.deepgram.hear(t.said);
      h.standins.openai.reply(t.reply);
      const u = await patient.say(t.said);
      await patient.waitForAgentSpeech({ after: u.speechEndedAt, timeoutMs: 15_000 });
      await patient.waitForAgentSilence({ timeoutMs: 20_000 });
    };

    await talk(turns[0]!);
    // Written while MongoDB was up.
    await h.eventually('first turn stored', async () => {
      const n = (await h.utterances.listUtterances(request.sessionId)).length;
      return n >= 3 ? n : undefined;
    });

    db.pause();
    const pausedAt = Date.now();
    try {
      await talk(turns[1]!);
      await talk(turns[2]!);
      await talk(turns[3]!);
      // The hang-up, with MongoDB still paused: the job ends and must spool what is left.
      await patient.leave();
      await h.eventually(
        'the job to spool its transcript',
        async () => ((await readdir(spoolDir)).some((f) => f.endsWith('.json')) ? true : undefined),
        20_000,
      );
      const left = PAUSE_MS - (Date.now() - pausedAt);
      if (left > 0) await new Promise((r) => setTimeout(r, left));
    } finally {
      db.resume();
    }
    const pausedForMs = Date.now() - pausedAt;
    console.log(`MongoDB paused for ${(pausedForMs / 1000).toFixed(1)} s`);

    const stored = await h.eventually(
      'the spooled transcript replayed',
      async () => {
        const all = await h.utterances.listUtterances(request.sessionId);
        return all.length >= 1 + 2 * turns.length ? all : undefined;
      },
      30_000,
    );
    expect(stored.map((u) => [u.seq, u.role, u.text])).toEqual([
      [0, 'agent', 'Hi Ann, is now a good time?'],
      ...turns.flatMap((t, i) => [
        [1 + 2 * i, 'patient', t.said],
        [2 + 2 * i, 'agent', t.reply],
      ]),
    ]);
    // Replayed files are removed once stored.
    await h.eventually('spool emptied', async () =>
      (await readdir(spoolDir)).some((f) => f.endsWith('.json')) ? undefined : true,
    );
    expect(pausedForMs).toBeGreaterThanOrEqual(PAUSE_MS);

    // The worker's metrics saw the replay and an empty spool.
    const metrics = await h.eventually('replay metrics', async () => {
      const text = await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text();
      const replayed = Number(/^voicecare_agent_transcript_replayed_total (\d+)/m.exec(text)?.[1]);
      const waiting = Number(/^voicecare_agent_transcript_spool_batches (\d+)/m.exec(text)?.[1]);
      return replayed >= 1 && waiting === 0 ? { replayed, waiting } : undefined;
    });
    console.log(`utterances replayed from the spool: ${metrics.replayed}`);
  }, 85_000);
});
