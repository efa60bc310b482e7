/**
 * Answers from approved documents in a real call: the real worker and LiveKit server, FerretDB,
 * the OpenAI plugin against its stand-in (which calls lookup_knowledge as a model would), the
 * patient typing into the room, and the session read through the real API.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFER_LINE,
  MongoKnowledgeStore,
  ensureKnowledgeIndexes,
  ingestDocument,
} from '../knowledge/index.ts';
import { AgentHarness } from './support/agent-harness.ts';
import { startApi, type ApiFixture } from './support/api.ts';
import type { ChatRequestRecord } from './support/standins/openai.ts';
import { shutdownRtc } from './support/patient.ts';

const GREETING_TIMEOUT_MS = 90_000;
const TEST_TIMEOUT_MS = 300_000;
const short = { firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?' };

afterAll(async () => {
  await shutdownRtc();
});

const toolResult = (r: ChatRequestRecord) => {
  const last = r.messages.at(-1);
  if (last?.role !== 'tool') return undefined;
  // The plugin sends a tool's output as its JSON text.
  const content = String(last.content);
  return content.startsWith('"') ? (JSON.parse(content) as string) : content;
};
const lastUser = (r: ChatRequestRecord) =>
  String(r.messages.findLast((m) => m.role === 'user')?.content ?? '');

describe('questions answered only from approved documents (LLM)', () => {
  let h: AgentHarness;
  let api: ApiFixture;
  let knowledge: MongoKnowledgeStore;

  beforeAll(async () => {
    h = await AgentHarness.start({
      profiles: [{ file: 'intake.yaml', override: short }],
      workerEnv: { AGENT_INITIALIZE_PROCESS_TIMEOUT_MS: '60000', SAFETY_CLASSIFIER: 'false' },
    });
    await ensureKnowledgeIndexes(h.mongo.db);
    knowledge = new MongoKnowledgeStore({ db: h.mongo.db });
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
