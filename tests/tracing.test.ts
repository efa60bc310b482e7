/**
 * One call, one trace: a backend's request into the API, the Pub/Sub hop, the dispatcher's
 * placement, the agent worker accepting the job and the job process running the call (the
 * framework's own spans included) all share the backend's trace id, each span under the right
 * parent, and no span carries what the patient said, their name or number, the join code or a
 * token.
 *
 * The API and the dispatcher run in this process, exporting to the SDK's in-memory exporter; the
 * worker and its job processes are child processes and export with the production OTLP/HTTP
 * exporter to a loopback receiver here. The spans of both are read into one shape and judged
 * together. In this process the API and the dispatcher share one provider, so their spans are
 * told apart by instrumentation scope (`voicecare.api`, `voicecare.dispatcher`); in production
 * each is its own process with its own `service.name`.
 */
import type { Message, Subscription } from '@google-cloud/pubsub';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDispatcher, type RunningDispatcher } from '../dispatcher/index.ts';
import { createLogger } from '../infra/logger.ts';
import { ensureSubscription } from '../infra/pubsub.ts';
import { sleep } from '../infra/time.ts';
import { resetTracingForTests, startTracing } from '../infra/tracing.ts';
import { readProfile } from '../prompts/loader.ts';
import { shutdownRtc, SimulatedPatient } from '../sim/patient.ts';
import { AgentHarness } from './support/agent-harness.ts';
import { json, startApi, type ApiFixture } from './support/api.ts';
import { testConfig, uniqueName } from './support/env.ts';
import {
  fromReadableSpan,
  startOtlpReceiver,
  type CollectedSpan,
  type OtlpReceiver,
} from './support/otlp-receiver.ts';

const ATTRIBUTE_AGENT_STATE = 'lk.agent.state';
/** The patient's name and number, and a sentence with both: none may appear in any span. */
const FIRST = 'Zelda';
const LAST = 'Quixotewright';
const PHONE = '555 0199';
const SENTENCE = `yes this is ${FIRST} ${LAST} my number is ${PHONE}`;
const REPLY = `Thank you ${FIRST} ${LAST}. What is the main reason for your visit?`;
const RED_FLAG = 'I have chest pain';

const SERVER = 2;
const PRODUCER = 4;
const CONSUMER = 5;

const intake = await readProfile(fileURLToPath(new URL('../prompts/intake.yaml', import.meta.url)));
const override = {
  firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?',
  limits: { ...intake.limits, silenceTimeoutMs: 60_000 },
};

interface Joined {
  livekitUrl: string;
  token: string;
  room: string;
  identity: string;
}

describe('tracing', () => {
  const memory = new InMemorySpanExporter();
  let receiver: OtlpReceiver;
  let h: AgentHarness;
  let dispatcher: RunningDispatcher;
  let f: ApiFixture;
  let eventsSub: Subscription;
  /** Session events as consumers see them: type and the trace context in the attributes. */
  const events: { type: string; sessionId: string; traceparent?: string }[] = [];
  let patient: SimulatedPatient | undefined;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    // Before the API is built: it wraps its routes in spans only while tracing is on.
    startTracing({
      service: 'api',
      cfg: testConfig().tracing,
      logger: createLogger({ level: 'warn', service: 'tracing-test' }),
      exporter: memory,
    });
    h = await AgentHarness.start({
      profiles: [{ file: 'intake.yaml', override }],
      workerEnv: {
        AGENT_INITIALIZE_PROCESS_TIMEOUT_MS: '90000',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '250',
      },
    });
    const shared = {
      ...h.env,
      AGENT_NAME: h.agentName,
      PUBSUB_REQUESTS_TOPIC: uniqueName('requests'),
      PUBSUB_REQUESTS_SUBSCRIPTION: uniqueName('requests-sub'),
      PUBSUB_DEAD_LETTER_TOPIC: uniqueName('dead'),
      DISPATCHER_HTTP_PORT: '0',
      DISPATCHER_JOIN_TIMEOUT_MS: '120000',
    };
    eventsSub = await ensureSubscription(h.pubsub, {
      topic: h.cfg.pubsub.eventsTopic,
      subscription: uniqueName('events-traced'),
    });
    eventsSub.on('message', (m: Message) => {
      const e = JSON.parse(m.data.toString()) as { type: string; sessionId: string };
      events.push({ type: e.type, sessionId: e.sessionId, traceparent: m.attributes.traceparent });
      m.ack();
    });
    await h.startWorker();
    dispatcher = await runDispatcher(testConfig(shared), { processMetrics: false });
    f = await startApi(shared);
  });

  afterAll(async () => {
    await patient?.leave().catch(() => undefined);
    await f?.stop();
    await dispatcher?.stop();
    if (eventsSub) {
      eventsSub.removeAllListeners('message');
      await Promise.race([eventsSub.close(), sleep(2000)]);
      await eventsSub.delete().catch(() => undefined);
    }
    await h?.close();
    await shutdownRtc();
    await receiver?.close();
    resetTracingForTests();
  });

  it('gives one call one trace across the API, Pub/Sub, the dispatcher and the agent, with no patient data in any span', async () => {
    const backend = `ApiKey ${await f.apiKey(['sessions:create', 'sessions:read'])}`;
    // The backend (an EHR hook, say) has a trace of its own; the call continues it.
    const caller = {
      traceId: randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
    };
    const created = await f.fetch('/v1/sessions', {
      ...json({
        profile: { id: 'intake' },
        patient: { ref: 'pt-0001', displayName: `${FIRST} ${LAST}` },
      }),
      headers: {
        'content-type': 'application/json',
        traceparent: `00-${caller.traceId}-${caller.spanId}-01`,
      },
      auth: backend,
    });
    expect(created.status).toBe(202);
    const { sessionId } = (await created.json()) as { sessionId: string };
    const link = (await (
      await f.fetch(`/v1/sessions/${sessionId}/join-link`, { method: 'POST', auth: backend })
    ).json()) as { code: string; path: string };
    let joined: Joined | undefined;
    for (let i = 0; i < 90 && !joined; i++) {
      const res = await f.fetch(link.path, { method: 'POST' });
      if (res.status === 200) joined = (await res.json()) as Joined;
      else await sleep(1000);
    }
    if (!joined) throw new Error('the session was never placed');

    patient = await SimulatedPatient.join({
      livekit: { ...h.cfg.livekit, url: joined.livekitUrl },
      room: joined.room,
      identity: joined.identity,
      token: joined.token,
    });
    const hearOut = async (p: SimulatedPatient) => {
      await p.waitForAgentSilence({ timeoutMs: 20_000 });
      const agent = await p.waitForParticipant('agent-', { timeoutMs: 5000 });
      await h.eventually(
        'the agent to listen',
        async () => (agent.attributes[ATTRIBUTE_AGENT_STATE] === 'listening' ? true : undefined),
        20_000,
      );
    };
    await patient.waitForAgentSpeech({ timeoutMs: 30_000 });
    await hearOut(patient);

    // A turn through speech-to-text, the LLM and text-to-speech with the name and number in it,
    h.standins.deepgram.hear(SENTENCE);
    h.standins.openai.reply(REPLY);
    const said = await patient.say(SENTENCE);
    await patient.waitForAgentSpeech({ after: said.speechEndedAt, timeoutMs: 20_000 });
    await hearOut(patient);
    // then a red flag, whose escalation the agent publishes.
    h.standins.deepgram.hear(RED_FLAG);
    await patient.say(RED_FLAG);
    await h.eventually(
      'the escalation event',
      async () => events.find((e) => e.sessionId === sessionId && e.type === 'session.escalation'),
      30_000,
    );
    await patient.leave();
    await h.eventually(
      'the session to end',
      async () => {
        const s = await h.sessions.get(sessionId);
        return s && s.state !== 'active' ? s : undefined;
      },
      30_000,
    );
    // The content did go through the job's pipeline: the spans had it to leak.
    expect(h.standins.openai.chatRequests.some((r) => JSON.stringify(r).includes(LAST))).toBe(true);

    const inTrace = (s: CollectedSpan) => s.traceId === caller.traceId;
    // The job flushes once the final record is written; the worker every 250 ms.
    await h.eventually(
      'the job and worker spans',
      async () => {
        const names = receiver.spans.filter(inTrace).map((s) => s.name);
        return names.includes('agent.session') && names.includes('agent.job_request')
          ? true
          : undefined;
      },
      20_000,
    );
    await h.eventually(
      'the final session event',
      async () => events.find((e) => e.sessionId === sessionId && e.type === 'session.completed'),
      10_000,
    );

    const local = memory.getFinishedSpans().map(fromReadableSpan);
    const all = [...local, ...receiver.spans];
    const trace = all.filter(inTrace);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const serviceOf = (s: CollectedSpan): string => {
      if (s.service === 'agent-worker' || s.service === 'agent-job') return s.service;
      if (s.scope === 'voicecare.api') return 'api';
      if (s.scope === 'voicecare.dispatcher') return 'dispatcher';
      const parent = byId.get(s.parentSpanId);
      return parent ? serviceOf(parent) : `unknown (${s.scope})`;
    };
    const one = (name: string, where: (s: CollectedSpan) => boolean = () => true) => {
      const found = trace.filter((s) => s.name === name && where(s));
      expect(found, name).toHaveLength(1);
      return found[0]!;
    };
    const ancestors = (s: CollectedSpan): CollectedSpan[] => {
      const out: CollectedSpan[] = [];
      for (let p = byId.get(s.parentSpanId); p; p = byId.get(p.parentSpanId)) out.push(p);
      return out;
    };

    // The tree, for the record (span names and services only).
    const children = new Map<string, CollectedSpan[]>();
    for (const s of trace)
      children.set(s.parentSpanId, [...(children.get(s.parentSpanId) ?? []), s]);
    const lines: string[] = [];
    const walk = (parent: string, depth: number) => {
      const kids = (children.get(parent) ?? []).sort((a, b) => a.name.localeCompare(b.name));
      const counted = new Map<string, { span: CollectedSpan; n: number }>();
      for (const k of kids) {
        const key = `${serviceOf(k)}|${k.name}`;
        const c = counted.get(key);
        if (c) c.n += 1;
        else counted.set(key, { span: k, n: 1 });
      }
      for (const { span, n } of counted.values()) {
        lines.push(
          `${'  '.repeat(depth)}${span.name} [${serviceOf(span)}]${n > 1 ? ` x${n}` : ''}`,
        );
        walk(span.spanId, depth + 1);
      }
    };
    walk(caller.spanId, 0);
    process.stdout.write(`trace ${caller.traceId}:\n${lines.join('\n')}\n`);

    // One trace spans all four services.
    expect(new Set(trace.map(serviceOf))).toEqual(
      new Set(['api', 'dispatcher', 'agent-worker', 'agent-job']),
    );
    expect(receiver.failures).toBe(0);

    // API → Pub/Sub → dispatcher.
    const request = one('POST /v1/sessions');
    expect([request.parentSpanId, request.kind, serviceOf(request)]).toEqual([
      caller.spanId,
      SERVER,
      'api',
    ]);
    expect(request.attributes['http.response.status_code']).toBe(202);
    const publish = one('publish session-requests');
    expect([publish.parentSpanId, publish.kind]).toEqual([request.spanId, PRODUCER]);
    const delivery = one('process session-requests');
    expect([delivery.parentSpanId, delivery.kind, serviceOf(delivery)]).toEqual([
      publish.spanId,
      CONSUMER,
      'dispatcher',
    ]);
    expect(delivery.attributes['voicecare.outcome']).toBe('placed');
    const lease = one('dispatcher.lease');
    const place = one('dispatcher.place');
    expect([lease.parentSpanId, place.parentSpanId]).toEqual([delivery.spanId, delivery.spanId]);
    const dispatch = one('dispatcher.dispatch');
    for (const step of [one('dispatcher.room'), dispatch, one('dispatcher.wait_for_agent')]) {
      expect(step.parentSpanId, step.name).toBe(place.spanId);
    }

    // Dispatcher → job metadata → agent worker and job process.
    const accepted = one('agent.job_request');
    expect([accepted.parentSpanId, accepted.service]).toEqual([dispatch.spanId, 'agent-worker']);
    const entry = one('job_entrypoint');
    expect([entry.parentSpanId, entry.service]).toEqual([dispatch.spanId, 'agent-job']);
    const session = one('agent.session');
    expect([session.parentSpanId, session.service]).toEqual([entry.spanId, 'agent-job']);
    expect(session.attributes['voicecare.session.id']).toBe(sessionId);
    // The framework's session spans sit under ours.
    const agentSession = one('agent_session');
    expect(agentSession.parentSpanId).toBe(session.spanId);
    for (const name of ['user_turn', 'agent_turn', 'llm_node', 'tts_node']) {
      const spans = trace.filter((s) => s.name === name);
      expect(spans.length, name).toBeGreaterThan(0);
      for (const s of spans) expect(ancestors(s), name).toContainEqual(agentSession);
    }
    // Every span the job processes exported belongs to the call: none started a trace apart.
    const jobSpans = receiver.spans.filter((s) => s.service === 'agent-job');
    expect(jobSpans.filter((s) => !inTrace(s)).map((s) => s.name)).toEqual([]);

    // Session events carry the trace, from the dispatcher and from the agent.
    const eventSpans = trace.filter((s) => s.name === 'publish session-events');
    const eventSpan = (type: string) => {
      const found = eventSpans.filter((s) => s.attributes['voicecare.event.type'] === type);
      expect(found, type).toHaveLength(1);
      return found[0]!;
    };
    expect(eventSpan('session.ready').parentSpanId).toBe(place.spanId);
    for (const type of ['session.started', 'session.escalation', 'session.completed']) {
      const s = eventSpan(type);
      expect([s.service, ancestors(s).includes(session)], type).toEqual(['agent-job', true]);
    }
    const ours = events.filter((e) => e.sessionId === sessionId);
    expect(ours.map((e) => e.type)).toEqual(
      expect.arrayContaining([
        'session.ready',
        'session.started',
        'session.escalation',
        'session.completed',
      ]),
    );
    for (const e of ours) expect(e.traceparent, e.type).toContain(caller.traceId);

    // Privacy: nothing the patient said, no name, number, join code, token or key, in any span
    // exported during the test (this call's trace or not).
    const secrets = [
      FIRST,
      LAST,
      PHONE,
      SENTENCE,
      REPLY,
      RED_FLAG,
      link.code,
      joined.token,
      backend.replace('ApiKey ', ''),
      joined.identity,
    ];
    for (const s of all) {
      const text = JSON.stringify([s.name, s.attributes, s.events, s.status]);
      for (const secret of secrets)
        expect(text, `${s.name} [${serviceOf(s)}]`).not.toContain(secret);
    }
  }, 300_000);
});
