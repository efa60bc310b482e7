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

  it('runs an intake call with local engines and stores what the patient said, never a misheard answer as fact', async () => {
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
    // Either every required step was answered, or the call says which were not.
    const ending = /call completed \((protocol_complete|incomplete)\)/.exec(output)?.[1];
    expect(ending).toBeDefined();

    const cfg = testConfig(env);
    mongo = await connectMongo(cfg.mongo);
    const sessionId = /sessionId "([^"]+)"/.exec(output)?.[1];
    expect(sessionId).toBeDefined();
    const session = await new MongoSessionStore({ db: mongo.db }).get(sessionId!);
    const stored = await new MongoUtteranceStore({ db: mongo.db }).listUtterances(sessionId!);
    const answers = session?.answers ?? {};
    const value = (field: string) => answers[field]?.value;

    // The constrained answers must be exactly what the scripted patient said.
    expect({
      medicationChanges: value('medicationChanges'),
      newAllergies: value('newAllergies'),
      painScore: value('painScore'),
      recentHospitalVisit: value('recentHospitalVisit'),
      contactPreference: value('contactPreference'),
    }).toEqual({
      medicationChanges: false,
      newAllergies: false,
      painScore: 4,
      recentHospitalVisit: false,
      contactPreference: 'text message',
    });

    // Every answer says how sure it is and which patient utterance it was taken from.
    for (const [field, answer] of Object.entries(answers)) {
      expect(answer.confidence, field).toBeGreaterThanOrEqual(0);
      expect(answer.confidence, field).toBeLessThanOrEqual(1);
      expect(answer.source.method, field).toBe('engine');
      const from = stored.find((u) => u.seq === answer.source.seq);
      expect(from?.role, `${field} comes from a patient utterance`).toBe('patient');
      if (answer.confirmed) {
        const yes = stored.find((u) => u.seq === answer.source.confirmedSeq);
        expect(yes?.text, `${field} was confirmed by a yes`).toBe('yes');
      }
    }
    expect(stored.find((u) => u.seq === answers['painScore']?.source.seq)?.text).toBe('four');
    expect(answers['painScore']?.confirmed).toBe(true);

    // Free text goes through the embedded recogniser's general language model, which is weak on
    // synthetic speech: it is read back, and stored as a fact only if the patient said yes to
    // the right words. Anything else is flagged, never a confident wrong value.
    const reason = answers['visitReason'];
    expect(reason).toBeDefined();
    if (reason?.needsReview === false) {
      expect(reason.confirmed).toBe(true);
      expect(String(reason.value).toLowerCase()).toContain('knee hurts');
    } else {
      expect(reason?.reviewReason).toMatch(/read_back_rejected|not_confirmed/);
      expect(output).toMatch(/visitReason .*NEEDS REVIEW/);
    }
    if (ending === 'incomplete') {
      expect(session?.unanswered).toEqual(['visitReason']);
      expect(reason?.value).toBeNull();
    } else {
      expect(session?.unanswered).toBeUndefined();
    }

    const patientSaid = stored.filter((u) => u.role === 'patient').map((u) => u.text);
    for (const answer of ['yes', 'no', 'four', 'text message'])
      expect(patientSaid).toContain(answer);
    expect(stored[0]?.role).toBe('agent');
    expect(stored.at(-1)?.role).toBe('agent');
  }, 300_000);
});
