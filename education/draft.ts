/**
 * Drafting a script from approved knowledge documents with the configured OpenAI-compatible LLM
 * (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_LLM_MODEL). The model gets only the passages of the
 * documents' approved versions in use and is told to use nothing else; what it writes is a
 * draft, stored only when a clinician saves it (with `draftedFrom`), and played only once an
 * admin approves it. Neither the passages nor the draft go in a log line.
 */
import type { Config } from '../infra/config.ts';
import { PermanentError, TransientError } from '../infra/errors.ts';
import type { KnowledgeDocument } from '../knowledge/index.ts';
import type { DraftSource } from './schema.ts';

export const DRAFT_SYSTEM_PROMPT = [
  'You write short spoken education scripts for patients of a clinic.',
  'Use only the facts in the passages you are given; add no advice, numbers or claims of your own.',
  'Write plain sentences to be read aloud by a voice: no headings, lists, markdown or emoji.',
  'Address the patient as "you". Keep it under 250 words. End by suggesting they ask their care team if anything is unclear.',
].join(' ');

export class DraftUnavailableError extends PermanentError {
  constructor(message: string) {
    super('llm_not_configured', message);
  }
}

export class DraftFailedError extends TransientError {
  constructor(message: string, cause?: unknown) {
    super('draft_failed', message, cause);
  }
}

export interface Draft {
  text: string;
  draftedFrom: DraftSource[];
}

/** The passages of each document's version in use, or undefined for one that has none. */
export function approvedPassages(
  doc: KnowledgeDocument,
): { source: DraftSource; text: string } | undefined {
  if (doc.retired) return undefined;
  const inUse = doc.versions.find((v) => v.status === 'approved');
  if (!inUse) return undefined;
  return {
    source: { docId: doc.docId, version: inUse.version },
    text: inUse.passages.map((p) => (p.heading ? `${p.heading}\n${p.text}` : p.text)).join('\n\n'),
  };
}

export async function draftScript(
  openai: Config['providers']['openai'],
  input: { topic: string; documents: readonly KnowledgeDocument[] },
  opts: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<Draft> {
  if (!openai.apiKey) {
    throw new DraftUnavailableError(
      'no LLM is configured (OPENAI_API_KEY): write the script yourself',
    );
  }
  const sources = input.documents.map((d) => ({ doc: d, passages: approvedPassages(d) }));
  const unusable = sources.filter((s) => !s.passages).map((s) => s.doc.docId);
  if (unusable.length) {
    throw new PermanentError(
      'documents_not_approved',
      `no approved version in use: ${unusable.join(', ')}`,
    );
  }
  const material = sources
    .map((s, i) => `Passage set ${i + 1} (${s.doc.title}):\n${s.passages?.text ?? ''}`)
    .join('\n\n---\n\n');
  const base = (openai.baseUrl ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(`${base}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${openai.apiKey}` },
      body: JSON.stringify({
        model: openai.llmModel,
        temperature: 0.2,
        stream: false,
        messages: [
          { role: 'system', content: DRAFT_SYSTEM_PROMPT },
          { role: 'user', content: `Topic: ${input.topic}\n\n${material}` },
        ],
      }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
  } catch (err) {
    throw new DraftFailedError('the LLM could not be reached', err);
  }
  if (!res.ok) throw new DraftFailedError(`the LLM answered HTTP ${res.status}`);
  const body = (await res.json().catch(() => null)) as {
    choices?: { message?: { content?: unknown } }[];
  } | null;
  const text = body?.choices?.[0]?.message?.content;
  if (typeof text !== 'string' || text.trim() === '') {
    throw new DraftFailedError('the LLM answered with no text');
  }
  return {
    text: text.trim(),
    draftedFrom: sources.flatMap((s) => (s.passages ? [s.passages.source] : [])),
  };
}
