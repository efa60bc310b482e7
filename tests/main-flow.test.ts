/**
 * The README's first command, headless: the whole stack with local engines only (pocketsphinx,
 * the dialogue engine, espeak-ng), a session request through Pub/Sub, a simulated patient, and
 * the stored transcript and answers checked against what the patient said.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { MongoSessionStore, MongoUtteranceStore } from '../sessions/mongo-store.ts';
import { TEST_ENV, testConfig, uniqueName } from './support/env.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('the main command', () => {
  let mongo: MongoHandle | undefined;
  let child: ChildProcess | undefined;
  const env = {
    ...TEST_ENV,
    MONGODB_DB: uniqueName('main'),
    AGENT_NAME: uniqueName('agent'),
    PUBSUB_REQUESTS_TOPIC: uniqueName('requests'),
    PUBSUB_REQUESTS_SUBSCRIPTION: uniqueName('requests-sub'),
    PUBSUB_DEAD_LETTER_TOPIC: uniqueName('dead'),
    PUBSUB_EVENTS_TOPIC: uniqueName('events'),
    DISPATCHER_HTTP_PORT: String(40_000 + Math.floor(Math.random() * 10_000)),
    AGENT_HTTP_PORT: String(50_000 + Math.floor(Math.random() * 10_000)),
    API_PORT: '0',
  };

  afterAll(async () => {
    // On a failure, do not leave the stack running (SIGINT runs its own clean shutdown).
    if (child && child.exitCode === null) {
      child.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 15_000));
      child.kill('SIGKILL');
    }
    await mongo?.db.dropDatabase().catch(() => undefined);
    await mongo?.close();
  });

  it('runs a complete intake call with local engines and stores what the patient said', async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'scripts/main.ts', '--once'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    const code = await new Promise<number | null>((resolve) => child?.on('exit', resolve));
    console.log(output);
    expect(code).toBe(0);
    expect(output).toMatch(/call completed \(protocol_complete\)/);

    const cfg = testConfig(env);
    mongo = await connectMongo(cfg.mongo);
    const sessionId = /sessionId "([^"]+)"/.exec(output)?.[1];
    expect(sessionId).toBeDefined();
    const session = await new MongoSessionStore({ db: mongo.db }).get(sessionId!);
    // The constrained answers must be exactly what the scripted patient said.
    expect(session?.answers).toMatchObject({
      medicationChanges: false,
      newAllergies: false,
      painScore: 4,
      recentHospitalVisit: false,
      contactPreference: 'text message',
    });
    // Free text goes through the general language model, which is weak on synthetic speech.
    expect(typeof session?.answers?.visitReason).toBe('string');

    const stored = await new MongoUtteranceStore({ db: mongo.db }).listUtterances(sessionId!);
    const patientSaid = stored.filter((u) => u.role === 'patient').map((u) => u.text);
    for (const answer of ['yes', 'no', 'four', 'text message'])
      expect(patientSaid).toContain(answer);
    expect(stored[0]?.role).toBe('agent');
    expect(stored.at(-1)?.role).toBe('agent');
  }, 300_000);
});
