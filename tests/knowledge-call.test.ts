/**
 * Answers from approved documents in a real call: the real worker and LiveKit server, FerretDB,
 * the OpenAI plugin against its stand-in (which calls lookup_knowledge as a model would), the
 * patient typing into the room, and the session read through the real API.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFER_LINE,
  MongoFollowUpStore,
  MongoKnowledgeStore,
  ensureKnowledgeIndexes,
  ingestDocument,
} from '../knowledge/index.ts';
import { AgentHarness } from './support/agent-harness.ts';
import { startApi, type ApiFixture } from './support/api.ts';
import { lastToolResult, type ChatRequestRecord } from './support/standins/openai.ts';
import { shutdownRtc } from './support/patient.ts';

const GREETING_TIMEOUT_MS = 90_000;
const TEST_TIMEOUT_MS = 300_000;
const short = { firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?' };

afterAll(async () => {
  await shutdownRtc();
});

const toolResult = lastToolResult;
const lastUser = (r: ChatRequestRecord) =>
  String(r.messages.findLast((m) => m.role === 'user')?.content ?? '');

/** The knee leaflet, uploaded and approved for the intake profile, before any call. */
async function seedKnowledge(h: AgentHarness): Promise<MongoKnowledgeStore> {
  await ensureKnowledgeIndexes(h.mongo.db);
  const knowledge = new MongoKnowledgeStore({ db: h.mongo.db });
  const markdown = await readFile(
    new URL('../knowledge/samples/knee-aftercare.md', import.meta.url),
  );
  await ingestDocument(
    knowledge,
    {
      docId: 'knee-aftercare',
      title: 'Knee aftercare',
      profiles: ['intake'],
      fileName: 'knee-aftercare.md',
      mimeType: 'text/markdown',
      bytes: markdown,
      uploaded: { by: 'Dr Lee', at: new Date() },
    },
    { maxPassageChars: 700 },
  );
  await knowledge.approve('knee-aftercare', 1, { by: 'Governance', at: new Date() });
  return knowledge;
}

describe('questions answered only from approved documents (LLM)', () => {
  let h: AgentHarness;
  let api: ApiFixture;
  let knowledge: MongoKnowledgeStore;

  beforeAll(async () => {
    h = await AgentHarness.start({
      profiles: [{ file: 'intake.yaml', override: short }],
      workerEnv: { AGENT_INITIALIZE_PROCESS_TIMEOUT_MS: '60000', SAFETY_CLASSIFIER: 'false' },
    });
    knowledge = await seedKnowledge(h);
    await h.startWorker();
    api = await startApi({ ...h.env, MONGODB_DB: h.env['MONGODB_DB'] ?? '' });
  });

  afterAll(async () => {
    await h?.close();
    await api?.stop();
  });

  it(
    'cites the passage it answered from, defers what no document answers, and never uses a retired document',
    async () => {
      // A model that looks questions up and answers from what the tool returns.
      h.standins.openai.configure({
        respond: (r) => {
          const result = toolResult(r);
          if (result !== undefined) {
            if (result.startsWith('No approved answer')) return DEFER_LINE;
            return 'You may shower 48 hours after your operation if your dressing is waterproof.';
          }
          if (/shower|vitamin/i.test(lastUser(r))) {
            return {
              toolCalls: [{ name: 'lookup_knowledge', arguments: { question: lastUser(r) } }],
            };
          }
          return 'Okay.';
        },
      });
      const { request, patient } = await h.startSession();
      const { sessionId } = request;
      await patient.waitForAgentSpeech({ timeoutMs: GREETING_TIMEOUT_MS });
      await patient.waitForAgentSilence({ timeoutMs: 20_000 });

      const ask = async (text: string) => {
        const at = performance.now();
        await patient.sendText(text);
        await patient.waitForAgentSpeech({ after: at, timeoutMs: 30_000 });
        await patient.waitForAgentSilence({ timeoutMs: 20_000 });
      };
      const agentSaying = async (text: string) => {
        try {
          return await h.eventually(`agent utterance "${text.slice(0, 30)}"`, async () =>
            (await h.utterances.listUtterances(sessionId)).find(
              (u) => u.role === 'agent' && u.text.startsWith(text.slice(0, 30)),
            ),
          );
        } catch (err) {
          // What was said and what the model was sent, to see where it went another way.
          const said = await h.utterances.listUtterances(sessionId);
          console.log(said.map((u) => [u.role, u.text, u.citations]));
          console.log(h.standins.openai.chatRequests.map((r) => r.messages.at(-1)));
          throw err;
        }
      };

      // 1. Answered from the approved passage, which the utterance cites.
      await ask('When can I have a shower after the operation?');
      const answered = await agentSaying('You may shower 48 hours');
      expect(answered.citations).toEqual(['knee-aftercare@v1#1']);
      const lookup = h.standins.openai.chatRequests.find((r) =>
        toolResult(r)?.includes('[knee-aftercare@v1#1]'),
      );
      expect(lookup).toBeDefined();
      // The model was told to answer from the documents only.
      expect(JSON.stringify(lookup?.messages[0]?.content)).toContain(
        'Answer only from the passages',
      );

      // 2. Nothing approved answers it: deferred, and a follow-up recorded on the session.
      await ask('Can I take vitamin D with my other pills?');
      const deferred = await agentSaying(DEFER_LINE);
      expect(deferred.citations).toBeUndefined();

      // 3. Retired mid-call: the same question is no longer answered from it.
      await knowledge.retire('knee-aftercare', { by: 'Governance', at: new Date() });
      const before = h.standins.openai.chatRequests.length;
      await ask('Sorry, when can I have a shower again?');
      const later = h.standins.openai.chatRequests.slice(before).map(toolResult).filter(Boolean);
      expect(later.length).toBeGreaterThan(0);
      for (const result of later) {
        expect(result).toMatch(/^No approved answer/);
        expect(result).not.toContain('knee-aftercare');
      }

      await patient.leave();
      const read = await h.eventually(
        'session read with follow-ups',
        async () => {
          const res = await api.fetch(`/v1/sessions/${sessionId}`, {
            auth: `Bearer ${await api.staffToken(['clinician'])}`,
          });
          const body = (await res.json()) as {
            state: string;
            followUps: { question: string; reason: string; via: string }[];
          };
          return body.state === 'completed' && body.followUps.length === 2 ? body : undefined;
        },
        40_000,
      );
      expect(read.followUps).toEqual([
        expect.objectContaining({
          question: 'Can I take vitamin D with my other pills?',
          reason: 'no_approved_answer',
          via: 'llm_tool',
          // Why the best passage was refused, by rule: the leaflet never names a vitamin.
          refusedBy: expect.arrayContaining(['topic_missing']),
        }),
        expect.objectContaining({
          question: 'Sorry, when can I have a shower again?',
          reason: 'no_approved_answer',
        }),
      ]);
      const stored = await h.utterances.listUtterances(sessionId);
      const cited = stored.filter((u) => u.citations?.length);
      expect(cited.map((u) => u.citations)).toEqual([['knee-aftercare@v1#1']]);
      // A backend key sees that there are follow-ups, not the patient's words.
      const backend = await api.fetch(`/v1/sessions/${sessionId}`, {
        headers: { 'x-api-key': await api.apiKey(['sessions:read']) },
      });
      const seen = (await backend.json()) as { followUps: Record<string, unknown>[] };
      expect(seen.followUps).toHaveLength(2);
      expect(seen.followUps[0]?.['question']).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );
});

describe('questions answered only from approved documents (dialogue engine)', () => {
  let h: AgentHarness;

  beforeAll(async () => {
    h = await AgentHarness.start({
      profiles: [{ file: 'intake.yaml', override: short }],
      workerEnv: {
        AGENT_INITIALIZE_PROCESS_TIMEOUT_MS: '60000',
        LLM_PROVIDERS: 'local',
        AGENT_PREEMPTIVE_GENERATION: 'false',
      },
    });
    await seedKnowledge(h);
    await h.startWorker();
  });

  afterAll(async () => {
    await h?.close();
  });

  it(
    'reads the passage verbatim and asks its step again, defers the unknown, and lets a red flag in a question escalate',
    async () => {
      const { request, patient } = await h.startSession();
      const { sessionId } = request;
      await patient.waitForAgentSpeech({ timeoutMs: GREETING_TIMEOUT_MS });
      await patient.waitForAgentSilence({ timeoutMs: 20_000 });
      const say = async (text: string) => {
        const at = performance.now();
        await patient.sendText(text);
        try {
          await patient.waitForAgentSpeech({ after: at, timeoutMs: 30_000 });
          // A passage read out takes a while to play.
          await patient.waitForAgentSilence({ timeoutMs: 60_000 });
        } catch (err) {
          const said = await h.utterances.listUtterances(sessionId);
          console.log(
            text,
            said.map((u) => [u.role, u.text, u.citations]),
          );
          throw err;
        }
      };
      const agentLines = async () =>
        (await h.utterances.listUtterances(sessionId)).filter((u) => u.role === 'agent');
      const step = h.profile.protocol[0]!;

      await say('yes');
      await say('When can I have a shower after the operation?');
      const answered = await h.eventually('the passage read out', async () =>
        (await agentLines()).find((u) => u.citations?.length),
      );
      expect(answered.text).toBe(
        'You may shower 48 hours after your operation if your dressing is waterproof. Keep the wound out of the water stream and pat it dry afterwards. Do not take a bath, swim or use a hot tub until your wound has fully healed and your stitches or staples are out, usually after three weeks. ' +
          step.ask,
      );
      expect(answered.citations).toEqual(['knee-aftercare@v1#1']);

      await say('Can I take vitamin D with my other pills?');
      const deferred = await h.eventually('the deferral', async () =>
        (await agentLines()).find((u) => u.text.startsWith("That's a good question")),
      );
      expect(deferred.text).toBe(`${DEFER_LINE} ${step.ask}`);

      // Back on its step: the next words are the answer to it.
      await say('my knee hurts');
      const answer = await h.eventually('the step answered', async () => {
        const s = await h.sessions.get(sessionId);
        return s?.answers?.[step.capture.field];
      });
      expect(answer.value).toBe('my knee hurts');

      // Safety first: a red flag inside a question escalates and is not answered from documents.
      const rule = h.profile.safety.find((r) => r.id === 'chest-pain')!;
      await say('I have crushing chest pain right now, can I still shower?');
      const session = await h.eventually(
        'the escalation',
        async () => {
          const s = await h.sessions.get(sessionId);
          return s?.escalations?.length ? s : undefined;
        },
        40_000,
      );
      expect(session.escalations?.[0]?.ruleId).toBe('chest-pain');
      const lines = await agentLines();
      expect(lines.at(-1)?.text).toBe(rule.response);
      expect(lines.filter((u) => u.citations?.length)).toHaveLength(1);

      const followUps = await new MongoFollowUpStore({ db: h.mongo.db }).listFollowUps(sessionId);
      expect(followUps).toEqual([
        expect.objectContaining({
          question: 'Can I take vitamin D with my other pills?',
          via: 'engine',
          reason: 'no_approved_answer',
        }),
      ]);
      await patient.leave();
    },
    TEST_TIMEOUT_MS,
  );
});
