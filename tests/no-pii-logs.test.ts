/**
 * No patient words, names or identities in any process's log, the framework's included.
 *
 * A whole call runs the way production runs it: the real dispatcher process
 * (`dispatcher/main.ts`) consumes the session request from Pub/Sub and dispatches the real agent
 * worker (`agent/worker.ts start`), whose job and inference processes inherit its stdio. Every
 * process logs at the default level (LOG_LEVEL unset, NODE_ENV=production as in the image). The
 * patient has a sentinel name and reference, speaks a sentinel sentence (with preemptive
 * generation on), the LLM records it through a tool call, the patient types it too, and ends with a
 * red flag. Then every line of stdout and stderr of every process is searched for the sentinels.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSubscription, ensureTopic } from '../infra/pubsub.ts';
import { SessionRequestV1 } from '../sessions/schema.ts';
import { AgentHarness } from './support/agent-harness.ts';
import { startAgentWorker, type AgentWorker } from './support/agent-worker.ts';
import { TEST_ENV, uniqueName } from './support/env.ts';
import { patientIdentity } from '../sessions/participants.ts';
import { SimulatedPatient, shutdownRtc } from './support/patient.ts';

const NAME = 'Zyxwvut Sentinelname';
const REF = 'Zyxwvut.Sentinelname';
const SENTENCE = 'my sentinel phrase is quokka marmalade';
/** Each word alone, any case: a log that kept half the name or sentence still leaks it. */
const SENTINELS = ['zyxwvut', 'sentinelname', 'quokka', 'marmalade'];

/** The sentinel in the forms a log line could carry it: plain and JSON-escaped (any case). */
function leaks(log: string): string[] {
  const lower = log.toLowerCase();
  const unescaped = lower.replace(/\\u([0-9a-f]{4})/g, (_, h: string) =>
    String.fromCharCode(parseInt(h, 16)),
  );
  return SENTINELS.filter(
    (s) => lower.includes(s) || unescaped.includes(s) || lower.includes(JSON.stringify(s)),
  );
}

/** Default-level environment: LOG_LEVEL unset (an empty value is "not given" to the config). */
const DEFAULT_LEVEL_ENV = { LOG_LEVEL: '', NODE_ENV: 'production' };

afterAll(async () => {
  await shutdownRtc();
});

describe('logs of a whole call', () => {
  let h: AgentHarness;
  let worker: AgentWorker | undefined;
  let dispatcher: ChildProcess | undefined;
  const out = { worker: [] as string[], dispatcher: [] as string[] };

  beforeAll(async () => {
    h = await AgentHarness.start({
      profiles: [
        {
          file: 'intake.yaml',
          override: { firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?' },
        },
      ],
      workerEnv: {
        ...DEFAULT_LEVEL_ENV,
        AGENT_PREEMPTIVE_GENERATION: 'true',
        AGENT_INITIALIZE_PROCESS_TIMEOUT_MS: '60000',
      },
    });
  });

  afterAll(async () => {
    if (dispatcher && dispatcher.exitCode === null) dispatcher.kill('SIGKILL');
    await worker?.stop(5000);
    await h?.close();
  });

  it('finds neither the sentinel name nor the sentinel sentence in any process output', async () => {
    const lane = uniqueName('pii');
    const topics = {
      PUBSUB_REQUESTS_TOPIC: `${lane}-req`,
      PUBSUB_REQUESTS_SUBSCRIPTION: `${lane}-req-sub`,
      PUBSUB_DEAD_LETTER_TOPIC: `${lane}-dlq`,
    };
    await ensureSubscription(h.pubsub, {
      topic: topics.PUBSUB_REQUESTS_TOPIC,
      subscription: topics.PUBSUB_REQUESTS_SUBSCRIPTION,
      deadLetterTopic: topics.PUBSUB_DEAD_LETTER_TOPIC,
      maxDeliveryAttempts: 5,
      ackDeadlineMs: 10_000,
      minBackoffMs: 100,
      maxBackoffMs: 500,
    });

    worker = await startAgentWorker({
      agentName: h.agentName,
      httpPort: 20_000 + Math.floor(Math.random() * 20_000),
      env: h.env,
      // The cold tsx import of the worker alone took 30-60 s on the overloaded test machine.
      readyTimeoutMs: 180_000,
      onOutput: (chunk) => out.worker.push(chunk),
    });

    const main = fileURLToPath(new URL('../dispatcher/main.ts', import.meta.url));
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      METADATA_SERVER_DETECTION: 'none',
      ...TEST_ENV,
      ...h.env,
      ...topics,
      AGENT_NAME: h.agentName,
      DISPATCHER_HTTP_PORT: '0',
    };
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dispatcher = child;
    child.stdout?.on('data', (b: Buffer) => out.dispatcher.push(b.toString()));
    child.stderr?.on('data', (b: Buffer) => out.dispatcher.push(b.toString()));
    console.log('log scan: worker healthy');
    const running = await h.eventually(
      'the dispatcher running line',
      async () =>
        out.dispatcher
          .join('')
          .split('\n')
          .filter((l) => l.includes('"dispatcher running"'))
          .map((l) => JSON.parse(l) as { opsUrl: string })[0],
      60_000,
    );
    await h.eventually(
      'dispatcher readiness',
      async () => ((await fetch(`${running.opsUrl}/readyz`)).ok ? true : undefined),
      30_000,
    );

    const request = SessionRequestV1.parse({
      sessionId: uniqueName('sess'),
      profile: { id: 'intake' },
      patient: { ref: REF, displayName: NAME },
      requestedAt: new Date().toISOString(),
    });
    // A spoken sentinel, recorded by the LLM through a tool call; then a typed one.
    h.standins.openai.configure({
      respond: (req) => {
        const last = req.messages.at(-1);
        if (last?.role === 'tool') return 'Thank you, noted.';
        if (last?.role === 'user' && JSON.stringify(last.content).includes('quokka marmalade')) {
          return {
            toolCalls: [
              {
                name: 'record_answer',
                arguments: { field: 'visitReason', value: 'quokka marmalade' },
              },
            ],
          };
        }
        return undefined;
      },
    });
    // The patient is in the room (LiveKit creates it on join) before the agent arrives, as a
    // patient who opened the join link first would be, so the greeting is heard from its start.
    const patient = await SimulatedPatient.join({
      livekit: h.cfg.livekit,
      room: `session-${request.sessionId}-1`,
      // The agent listens to the session's own patient identity alone (the API's join token
      // carries it), which is made from the session id, not from anything the patient chose.
      identity: patientIdentity(request.sessionId),
    });
    const requests = await ensureTopic(h.pubsub, topics.PUBSUB_REQUESTS_TOPIC);
    await requests.publishMessage({ data: Buffer.from(JSON.stringify(request)) });
    await h.eventually(
      'session.ready',
      async () =>
        h.events.find((e) => e.sessionId === request.sessionId && e.type === 'session.ready'),
      120_000,
    );
    console.log('log scan: session ready');
    await patient.waitForAgentSpeech({ timeoutMs: 120_000 });
    await patient.waitForAgentSilence({ timeoutMs: 30_000 });

    console.log('log scan: greeting heard');
    h.standins.deepgram.hear(SENTENCE);
    const u = await patient.say(SENTENCE);
    await patient.waitForAgentSpeech({ after: u.speechEndedAt, timeoutMs: 30_000 });
    await patient.waitForAgentSilence({ timeoutMs: 30_000 });

    console.log('log scan: spoken turn answered');
    const typedAt = performance.now();
    await patient.sendText('typed: quokka marmalade once more');
    await patient.waitForAgentSpeech({ after: typedAt, timeoutMs: 30_000 });
    await patient.waitForAgentSilence({ timeoutMs: 30_000 });

    console.log('log scan: typed turn answered');
    h.standins.deepgram.hear('quokka marmalade and now I have crushing chest pain');
    await patient.say('quokka marmalade and now I have crushing chest pain');
    const session = await h.eventually(
      'session ended by the red flag',
      async () => {
        const s = await h.sessions.get(request.sessionId);
        return s?.state === 'completed' ? s : undefined;
      },
      60_000,
    );
    await patient.leave();

    // The sentinels really were in the processes: in the prompt and greeting, the LLM's context,
    // a tool call's arguments, a typed turn and the stored transcript.
    expect(session.endReason).toBe('safety');
    expect(session.answers).toMatchObject({ visitReason: { value: 'quokka marmalade' } });
    const llmSaw = JSON.stringify(h.standins.openai.chatRequests.map((r) => r.messages));
    expect(llmSaw).toContain(NAME);
    expect(llmSaw).toContain('typed: quokka marmalade once more');
    const stored = await h.utterances.listUtterances(request.sessionId);
    expect(stored[0]?.text).toContain(NAME);
    expect(stored.map((s) => s.text)).toEqual(
      expect.arrayContaining([SENTENCE, 'typed: quokka marmalade once more']),
    );

    // Let every process finish and flush: the dispatcher exits on SIGTERM, the worker drains.
    child.kill('SIGTERM');
    await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 15_000))]);
    await worker.stop(10_000);

    const logs = {
      worker: out.worker.join('').split('\n').filter(Boolean),
      dispatcher: out.dispatcher.join('').split('\n').filter(Boolean),
    };
    console.log(
      `log scan: worker+job+inference ${logs.worker.length} lines, dispatcher ${logs.dispatcher.length} lines`,
    );
    // Not a vacuous scan: each process logged at info, the framework and the job process too.
    const workerLog = logs.worker.join('\n');
    expect(workerLog).toContain('"registered worker"');
    expect(workerLog).toContain('"source":"livekit-agents"');
    expect(workerLog).toContain('"session starting"');
    expect(workerLog).toContain('"session finished"');
    expect(logs.dispatcher.join('\n')).toContain('"dispatcher running"');

    const found = {
      worker: logs.worker.filter((l) => leaks(l).length > 0),
      dispatcher: logs.dispatcher.filter((l) => leaks(l).length > 0),
    };
    expect(found).toEqual({ worker: [], dispatcher: [] });
    // A whole call with cold processes on a shared, overloaded 2-core machine.
  }, 420_000);
});
