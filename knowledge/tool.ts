/**
 * The care team's knowledge as the LLM sees it: a brief appended to its instructions and the
 * `lookup_knowledge` tool. The tool returns approved passages with their ids, or says plainly
 * that there is no approved answer and what to tell the patient instead.
 */
import { llm } from '@livekit/agents';
import { z } from 'zod';
import type { Hit } from './retrieval.ts';
import type { Lookup } from './session-knowledge.ts';

/** What the agent says when no approved passage answers a question. */
export const DEFER_LINE =
  "That's a good question. I don't have an approved answer for it, so I'll ask your care team to get back to you.";

export const KNOWLEDGE_BRIEF = [
  "When the patient asks a question about their care, condition, medicines or recovery, call lookup_knowledge with the patient's question.",
  'Answer only from the passages lookup_knowledge returns, in plain words, adding no facts of your own. Never answer such a question from your own knowledge.',
  `If lookup_knowledge says there is no approved answer, say: "${DEFER_LINE}"`,
  'Then go back to the protocol question you were on and ask it again.',
].join('\n');

export interface KnowledgeToolOptions {
  lookup: (question: string) => Promise<Lookup>;
  /** Passages were returned: the reply that follows cites them. Must not throw or block. */
  onAnswer: (hits: readonly Hit[], question: string) => void;
  /** Nothing approved answers it: record a follow-up. Must not throw or block. */
  onDefer: (lookup: Extract<Lookup, { kind: 'defer' }>, question: string) => void;
}

export function knowledgeTools(opts: KnowledgeToolOptions) {
  return {
    lookup_knowledge: llm.tool({
      description:
        "Look up the care team's approved documents for an answer to the patient's question. Returns passages with ids, or says that there is no approved answer.",
      parameters: z.object({
        question: z.string().describe("The patient's question, in their words"),
      }),
      execute: async ({ question }) => {
        const asked = question.slice(0, 500);
        const result = await opts.lookup(asked);
        if (result.kind === 'defer') {
          opts.onDefer(result, asked);
          return `No approved answer. Do not answer from your own knowledge. Tell the patient: "${DEFER_LINE}" Then ask the protocol question again.`;
        }
        opts.onAnswer(result.hits, asked);
        return [
          'Approved passages (answer only from these):',
          ...result.hits.map((h) => `[${h.passageId}] ${h.text}`),
        ].join('\n');
      },
    }),
  };
}
