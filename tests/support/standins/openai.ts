/**
 * Stand-in for the OpenAI HTTP API as @livekit/agents-plugin-openai 1.9 uses it (through the
 * official `openai` SDK): `POST /v1/chat/completions` (SSE streaming, text and tool calls, or a
 * plain JSON completion), `GET /v1/models` (the plugin's prewarm) and `POST /v1/audio/speech`
 * (`response_format: pcm` → raw s16le mono 24 kHz; `wav` also works).
 *
 * Replies are scripted: a queue, then an optional `respond` function of the request, then
 * `defaultReply`. Safety classifier requests (their system prompt carries `classifierMarker`)
 * are answered apart, by `classify`, and recorded apart, so they never take a conversation reply. Latency (`ttftMs`, `interTokenMs`, `ttsTtfbMs`) and faults (an HTTP status,
 * a dropped connection mid-stream, a request that never answers) are injectable. Every request
 * is recorded.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { resolveVoice, speechDurationMs, synthesizeSpeech } from './audio.ts';
import type { SyntheticVoiceOptions } from './audio.ts';
import { CLASSIFIER_MARKER } from '../../../agent/safety/classifier.ts';
import type { Writable } from './server.ts';
import {
  FaultQueue,
  LoopbackServer,
  assertOptions,
  checkHost,
  checkMs,
  checkPort,
  checkPositive,
  hostForUrl,
  nowMs,
  readBody,
  sendJson,
  streamPaced,
  wait,
} from './server.ts';

export const OPENAI_TTS_SAMPLE_RATE = 24_000;

export interface ScriptedToolCall {
  name: string;
  /** An object is sent as its JSON text. */
  arguments: string | Record<string, unknown>;
  /** @defaultValue a generated `call_…` id */
  id?: string;
}

export interface ScriptedReplyParts {
  text?: string;
  toolCalls?: readonly ScriptedToolCall[];
  /** Overrides the stand-in's `ttftMs` for this reply. */
  ttftMs?: number;
  /** Overrides the stand-in's `interTokenMs` for this reply. */
  interTokenMs?: number;
}

/** A reply: its text, or text and/or tool calls with optional timing. */
export type ScriptedReply = string | ScriptedReplyParts;

/** `classifier`: a chat completion whose system prompt carries the classifier marker. */
export type OpenAIEndpoint = 'chat' | 'classifier' | 'speech' | 'models';

export type OpenAIFault =
  /** Answer with this HTTP status and an OpenAI-shaped error body. */
  | { kind: 'status'; status: number; endpoint?: OpenAIEndpoint; message?: string; count?: number }
  /** Start a normal response, then destroy the socket after `afterChunks` chunks (default 2). */
  | { kind: 'drop'; endpoint?: OpenAIEndpoint; afterChunks?: number; count?: number }
  /** Accept the request and never answer (until the client gives up or the stand-in closes). */
  | { kind: 'hang'; endpoint?: OpenAIEndpoint; count?: number }
  /**
   * Answer 200 and open the event stream, then send nothing: a stream that stalled after its
   * headers. A non-streaming request, or one to another endpoint, is hung as with `hang`.
   */
  | { kind: 'silent'; endpoint?: OpenAIEndpoint; count?: number };

const messageSchema = z.looseObject({
  role: z.string(),
  content: z.unknown().optional(),
  tool_calls: z.array(z.unknown()).optional(),
  tool_call_id: z.string().optional(),
  name: z.string().optional(),
});
const toolSchema = z.looseObject({
  type: z.string(),
  function: z.looseObject({
    name: z.string(),
    description: z.string().optional(),
    parameters: z.unknown().optional(),
  }),
});
const chatBodySchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(messageSchema).min(1),
  tools: z.array(toolSchema).optional(),
  tool_choice: z.unknown().optional(),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
});
const speechBodySchema = z.looseObject({
  model: z.string().min(1),
  input: z.string().min(1).max(4096),
  voice: z.string().min(1),
  response_format: z.string().optional(),
  speed: z.number().min(0.25).max(4).optional(),
  instructions: z.string().optional(),
});

export type ChatMessage = z.infer<typeof messageSchema>;
export type ChatTool = z.infer<typeof toolSchema>;

export type RequestOutcome = 'pending' | 'completed' | 'aborted' | 'fault';

export interface ChatRequestRecord {
  /** The completion id sent back (`chatcmpl-…`). */
  readonly id: string;
  readonly receivedAtMs: number;
  readonly authorization: string | null;
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly tools: readonly ChatTool[];
  readonly toolChoice: unknown;
  readonly stream: boolean;
  /** The whole parsed body (temperature, parallel_tool_calls, stream_options, …). */
  readonly body: Readonly<Record<string, unknown>>;
  readonly outcome: RequestOutcome;
  readonly fault: OpenAIFault | null;
  readonly reply: Readonly<ScriptedReplyParts> | null;
  readonly firstTokenAtMs: number | null;
  readonly completedAtMs: number | null;
}

export interface SpeechRequestRecord {
  readonly receivedAtMs: number;
  readonly authorization: string | null;
  readonly model: string;
  readonly voice: string;
  readonly input: string;
  readonly responseFormat: string | null;
  readonly speed: number | null;
  readonly instructions: string | null;
  readonly outcome: RequestOutcome;
  readonly fault: OpenAIFault | null;
  readonly audioBytes: number;
  readonly audioMs: number;
  readonly firstByteAtMs: number | null;
  readonly completedAtMs: number | null;
}

export interface OpenAIStandinOptions {
  /** @defaultValue '127.0.0.1' */
  host: string;
  /** 0 picks a free port. @defaultValue 0 */
  port: number;
  /** Key required in `Authorization: Bearer <key>`; null accepts any. @defaultValue null */
  apiKey: string | null;
  /** Replies to give, in order, before `respond` is consulted. @defaultValue [] */
  replies: readonly ScriptedReply[];
  /** Reply for a request when the queue is empty; undefined falls through. @defaultValue null */
  respond: ((request: ChatRequestRecord) => ScriptedReply | undefined) | null;
  /** Reply when neither the queue nor `respond` gives one. @defaultValue 'Okay.' */
  defaultReply: ScriptedReply;
  /**
   * Chat requests whose first message contains this are safety classifier requests.
   * @defaultValue the agent's CLASSIFIER_MARKER; null treats every request as conversation
   */
  classifierMarker: string | null;
  /** The answer to a classifier request. @defaultValue none flagged: `{"ruleIds":[]}` */
  classify: (request: ChatRequestRecord) => ScriptedReply;
  /** Time from request to the first streamed token. @defaultValue 250 */
  ttftMs: number;
  /** Time between streamed tokens. @defaultValue 15 */
  interTokenMs: number;
  /** Model ids listed by `GET /v1/models`. */
  models: readonly string[];
  /** Time from a speech request to the first audio byte. @defaultValue 150 */
  ttsTtfbMs: number;
  /** Audio per streamed piece of a speech response. @defaultValue 100 */
  ttsChunkMs: number;
  /** How many times faster than real time speech audio is streamed. @defaultValue 5 */
  ttsRealtimeFactor: number;
  /** The synthetic voice (speaking rate, pitch, level). */
  voice: Partial<SyntheticVoiceOptions>;
}

export const openaiStandinDefaults: Readonly<OpenAIStandinOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  apiKey: null,
  replies: [],
  respond: null,
  defaultReply: 'Okay.',
  classifierMarker: CLASSIFIER_MARKER,
  classify: () => JSON.stringify({ ruleIds: [] }),
  ttftMs: 250,
  interTokenMs: 15,
  models: ['gpt-4.1-mini', 'gpt-4.1', 'gpt-4o-mini-tts', 'tts-1'],
  ttsTtfbMs: 150,
  ttsChunkMs: 100,
  ttsRealtimeFactor: 5,
  voice: {},
});

export type OpenAITuning = Omit<OpenAIStandinOptions, 'host' | 'port' | 'replies'>;

export class OpenAIStandin {
  readonly #server: LoopbackServer;
  #opts: OpenAIStandinOptions;
  #voice: SyntheticVoiceOptions;
  #queue: ScriptedReplyParts[] = [];
  readonly #faults = new FaultQueue<OpenAIFault>();
  readonly #chat: Writable<ChatRequestRecord>[] = [];
  readonly #classifier: Writable<ChatRequestRecord>[] = [];
  readonly #speech: Writable<SpeechRequestRecord>[] = [];
  #modelsRequests = 0;

  static async start(opts: Partial<OpenAIStandinOptions> = {}): Promise<OpenAIStandin> {
    const standin = new OpenAIStandin(opts);
    await standin.#server.listen(standin.#opts.port);
    return standin;
  }

  private constructor(opts: Partial<OpenAIStandinOptions>) {
    this.#opts = validate({ ...openaiStandinDefaults, ...opts });
    this.#voice = resolveVoice(this.#opts.voice);
    this.reply(...this.#opts.replies);
    this.#server = new LoopbackServer(this.#opts.host, (req, res, signal) =>
      this.#route(req, res, signal),
    );
  }

  /** Base URL for the plugin's `baseURL` option: `http://127.0.0.1:PORT/v1`. */
  get url(): string {
    return `http://${hostForUrl(this.#opts.host)}:${this.#server.port}/v1`;
  }

  get options(): Readonly<OpenAIStandinOptions> {
    return this.#opts;
  }

  /** Queues replies for the next chat requests, in order. */
  reply(...replies: ScriptedReply[]): void {
    for (const r of replies) this.#queue.push(normalizeReply(r));
  }

  get pendingReplies(): number {
    return this.#queue.length;
  }

  configure(patch: Partial<OpenAITuning>): void {
    const next = validate({ ...this.#opts, ...patch });
    this.#voice = resolveVoice(next.voice);
    this.#opts = next;
  }

  injectFault(fault: OpenAIFault): void {
    assertOptions('openai fault', [
      fault.kind !== 'status' || (fault.status >= 400 && fault.status <= 599)
        ? null
        : 'status must be 4xx/5xx',
      fault.kind !== 'drop' || fault.afterChunks === undefined || fault.afterChunks >= 0
        ? null
        : 'afterChunks must be >= 0',
    ]);
    this.#faults.push(fault);
  }

  get chatRequests(): readonly ChatRequestRecord[] {
    return this.#chat;
  }

  /** Safety classifier requests, apart from the conversation's `chatRequests`. */
  get classifierRequests(): readonly ChatRequestRecord[] {
    return this.#classifier;
  }

  get speechRequests(): readonly SpeechRequestRecord[] {
    return this.#speech;
  }

  get modelsRequests(): number {
    return this.#modelsRequests;
  }

  /** Forgets queued replies, pending faults and recorded requests. */
  reset(): void {
    this.#queue = [];
    this.#faults.clear();
    this.#chat.length = 0;
    this.#classifier.length = 0;
    this.#speech.length = 0;
    this.#modelsRequests = 0;
  }

  async close(): Promise<void> {
    await this.#server.close();
  }

  async #route(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://standin').pathname.replace(/\/+$/, '');
    const endpoint: OpenAIEndpoint | null =
      req.method === 'POST' && path === '/v1/chat/completions'
        ? 'chat'
        : req.method === 'POST' && path === '/v1/audio/speech'
          ? 'speech'
          : req.method === 'GET' && path === '/v1/models'
            ? 'models'
            : null;
    if (!endpoint) {
      sendError(res, 404, `Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error');
      return;
    }
    const key = /^Bearer\s+(\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!key || (this.#opts.apiKey !== null && key !== this.#opts.apiKey)) {
      sendError(
        res,
        401,
        'Incorrect API key provided.',
        'invalid_request_error',
        'invalid_api_key',
      );
      return;
    }
    if (endpoint === 'models') await this.#models(res, signal);
    else if (endpoint === 'chat') await this.#chatCompletion(req, res, signal);
    else await this.#audioSpeech(req, res, signal);
  }

  /** Applies a pending fault for `endpoint`; returns it when the request is fully handled. */
  async #applyFault(
    endpoint: OpenAIEndpoint,
    res: ServerResponse,
    signal: AbortSignal,
  ): Promise<OpenAIFault | null> {
    const fault = this.#faults.take((f) => (f.endpoint ?? 'chat') === endpoint) ?? null;
    if (fault?.kind === 'status') {
      const [type, code] =
        fault.status === 429
          ? ['requests', 'rate_limit_exceeded']
          : fault.status >= 500
            ? ['server_error', null]
            : ['invalid_request_error', null];
      sendError(
        res,
        fault.status,
        fault.message ?? `injected fault: HTTP ${fault.status}`,
        type,
        code,
        fault.status === 429 ? { 'retry-after': '1' } : {},
      );
    } else if (
      fault?.kind === 'hang' ||
      (fault?.kind === 'silent' && (endpoint === 'speech' || endpoint === 'models'))
    ) {
      // Never answer; the per-request signal fires when the client gives up or we close.
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    }
    return fault;
  }

  async #models(res: ServerResponse, signal: AbortSignal): Promise<void> {
    this.#modelsRequests += 1;
    const fault = await this.#applyFault('models', res, signal);
    if (fault?.kind === 'status' || fault?.kind === 'hang' || fault?.kind === 'silent') return;
    if (fault?.kind === 'drop') {
      res.destroy();
      return;
    }
    sendJson(res, 200, {
      object: 'list',
      data: this.#opts.models.map((id) => ({
        id,
        object: 'model',
        created: 1_700_000_000,
        owned_by: 'standin',
      })),
    });
  }

  async #parse<T>(
    req: IncomingMessage,
    res: ServerResponse,
    schema: z.ZodType<T>,
  ): Promise<T | null> {
    let json: unknown;
    try {
      json = JSON.parse((await readBody(req)).toString('utf8'));
    } catch {
      sendError(
        res,
        400,
        'We could not parse the JSON body of your request.',
        'invalid_request_error',
      );
      return null;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      sendError(
        res,
        400,
        `Invalid request: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
        'invalid_request_error',
      );
      return null;
    }
    return parsed.data;
  }

  async #chatCompletion(
    req: IncomingMessage,
    res: ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    const body = await this.#parse(req, res, chatBodySchema);
    if (!body) return;
    const record: Writable<ChatRequestRecord> = {
      id: `chatcmpl-${randomBytes(12).toString('hex')}`,
      receivedAtMs: nowMs(),
      authorization: req.headers.authorization ?? null,
      model: body.model,
      messages: body.messages,
      tools: body.tools ?? [],
      toolChoice: body.tool_choice,
      stream: body.stream === true,
      body,
      outcome: 'pending',
      fault: null,
      reply: null,
      firstTokenAtMs: null,
      completedAtMs: null,
    };
    const marker = this.#opts.classifierMarker;
    const isClassifier =
      marker !== null && JSON.stringify(body.messages[0]?.content ?? '').includes(marker);
    (isClassifier ? this.#classifier : this.#chat).push(record);
    signal.addEventListener('abort', () => {
      if (record.outcome === 'pending') record.outcome = 'aborted';
    });

    const fault = await this.#applyFault(isClassifier ? 'classifier' : 'chat', res, signal);
    record.fault = fault;
    if (fault?.kind === 'status' || fault?.kind === 'hang') {
      record.outcome = 'fault';
      return;
    }
    if (fault?.kind === 'silent' && !record.stream) {
      record.outcome = 'fault';
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      return;
    }
    const reply = isClassifier
      ? normalizeReply(this.#opts.classify(record))
      : this.#nextReply(record);
    record.reply = reply;
    const ttftMs = reply.ttftMs ?? this.#opts.ttftMs;
    const interTokenMs = reply.interTokenMs ?? this.#opts.interTokenMs;
    const tokens = splitTokens(reply.text ?? '');
    const calls = (reply.toolCalls ?? []).map((c, index) => ({
      index,
      id: c.id ?? `call_${randomBytes(12).toString('hex')}`,
      name: c.name,
      args: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments),
    }));
    const finishReason = calls.length ? 'tool_calls' : 'stop';
    const completionTokens =
      tokens.length + calls.reduce((n, c) => n + argPieces(c.args).length, 0);
    const promptTokens = Math.ceil(JSON.stringify(body.messages).length / 4);
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
    };
    const created = Math.floor(Date.now() / 1000);
    const requestId = `req_${randomBytes(12).toString('hex')}`;

    if (!record.stream) {
      const generationMs = ttftMs + Math.max(0, completionTokens - 1) * interTokenMs;
      if (!(await wait(generationMs, signal))) return;
      if (fault?.kind === 'drop') {
        record.outcome = 'fault';
        res.destroy();
        return;
      }
      sendJson(
        res,
        200,
        {
          id: record.id,
          object: 'chat.completion',
          created,
          model: body.model,
          system_fingerprint: 'fp_standin',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: reply.text ?? null,
                refusal: null,
                ...(calls.length
                  ? {
                      tool_calls: calls.map((c) => ({
                        id: c.id,
                        type: 'function',
                        function: { name: c.name, arguments: c.args },
                      })),
                    }
                  : {}),
              },
              logprobs: null,
              finish_reason: finishReason,
            },
          ],
          usage,
        },
        { 'x-request-id': requestId },
      );
      record.firstTokenAtMs = record.completedAtMs = nowMs();
      record.outcome = 'completed';
      return;
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': requestId,
    });
    res.flushHeaders();
    if (fault?.kind === 'silent') {
      record.outcome = 'fault';
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      return;
    }
    const dropAfter = fault?.kind === 'drop' ? (fault.afterChunks ?? 2) : Infinity;
    let sentChunks = 0;
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
      id: record.id,
      object: 'chat.completion.chunk',
      created,
      model: body.model,
      system_fingerprint: 'fp_standin',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    const write = (payload: unknown) => res.write(`data: ${JSON.stringify(payload)}\n\n`);
    /** Writes one generated piece; false when the stream must stop (dropped or aborted). */
    const emit = async (delta: Record<string, unknown>, first: boolean): Promise<boolean> => {
      if (!(await wait(first ? ttftMs : interTokenMs, signal))) return false;
      if (sentChunks >= dropAfter) {
        record.outcome = 'fault';
        res.destroy();
        return false;
      }
      write(chunk(delta));
      sentChunks += 1;
      record.firstTokenAtMs ??= nowMs();
      return true;
    };

    let first = true;
    if (tokens.length === 0 && calls.length === 0) {
      if (!(await wait(ttftMs, signal))) return;
    }
    for (const [i, token] of tokens.entries()) {
      const delta =
        i === 0 ? { role: 'assistant', content: token, refusal: null } : { content: token };
      if (!(await emit(delta, first))) return;
      first = false;
    }
    for (const call of calls) {
      const opening = {
        ...(first ? { role: 'assistant', content: null } : {}),
        tool_calls: [
          {
            index: call.index,
            id: call.id,
            type: 'function',
            function: { name: call.name, arguments: '' },
          },
        ],
      };
      if (!(await emit(opening, first))) return;
      first = false;
      for (const piece of argPieces(call.args)) {
        const delta = { tool_calls: [{ index: call.index, function: { arguments: piece } }] };
        if (!(await emit(delta, false))) return;
      }
    }
    if (sentChunks >= dropAfter) {
      record.outcome = 'fault';
      res.destroy();
      return;
    }
    write(chunk({}, finishReason));
    if (body.stream_options?.include_usage) {
      write({ ...chunk({}), choices: [], usage });
    }
    res.end('data: [DONE]\n\n');
    record.completedAtMs = nowMs();
    record.outcome = 'completed';
  }

  #nextReply(record: ChatRequestRecord): ScriptedReplyParts {
    const queued = this.#queue.shift();
    if (queued) return queued;
    const computed = this.#opts.respond?.(record);
    return normalizeReply(computed ?? this.#opts.defaultReply);
  }

  async #audioSpeech(
    req: IncomingMessage,
    res: ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    const body = await this.#parse(req, res, speechBodySchema);
    if (!body) return;
    const record: Writable<SpeechRequestRecord> = {
      receivedAtMs: nowMs(),
      authorization: req.headers.authorization ?? null,
      model: body.model,
      voice: body.voice,
      input: body.input,
      responseFormat: body.response_format ?? null,
      speed: body.speed ?? null,
      instructions: body.instructions ?? null,
      outcome: 'pending',
      fault: null,
      audioBytes: 0,
      audioMs: 0,
      firstByteAtMs: null,
      completedAtMs: null,
    };
    this.#speech.push(record);
    signal.addEventListener('abort', () => {
      if (record.outcome === 'pending') record.outcome = 'aborted';
    });

    // The real API defaults to mp3; the stand-in cannot encode it, so it says so plainly.
    const format = body.response_format ?? 'mp3';
    if (format !== 'pcm' && format !== 'wav') {
      record.outcome = 'fault';
      sendError(
        res,
        400,
        `response_format '${format}' is not produced by the stand-in; use 'pcm' or 'wav'`,
        'invalid_request_error',
      );
      return;
    }
    const fault = await this.#applyFault('speech', res, signal);
    record.fault = fault;
    if (fault?.kind === 'status' || fault?.kind === 'hang' || fault?.kind === 'silent') {
      record.outcome = 'fault';
      return;
    }

    const speed = body.speed ?? 1;
    const voice = { ...this.#voice, msPerChar: this.#voice.msPerChar / speed };
    const pcm = synthesizeSpeech(body.input, OPENAI_TTS_SAMPLE_RATE, voice);
    record.audioMs = speechDurationMs(body.input, voice.msPerChar);
    if (!(await wait(this.#opts.ttsTtfbMs, signal))) return;

    res.writeHead(200, {
      'content-type': format === 'wav' ? 'audio/wav' : 'application/octet-stream',
      'transfer-encoding': 'chunked',
      'x-request-id': `req_${randomBytes(12).toString('hex')}`,
    });
    if (format === 'wav') res.write(wavHeader(pcm.byteLength, OPENAI_TTS_SAMPLE_RATE));
    const dropAfter = fault?.kind === 'drop' ? (fault.afterChunks ?? 2) : Infinity;
    const finished = await streamPaced(
      pcm,
      OPENAI_TTS_SAMPLE_RATE,
      { chunkMs: this.#opts.ttsChunkMs, realtimeFactor: this.#opts.ttsRealtimeFactor },
      signal,
      (piece, index) => {
        if (index >= dropAfter) {
          record.outcome = 'fault';
          res.destroy();
          return false;
        }
        res.write(piece);
        record.audioBytes += piece.byteLength;
        record.firstByteAtMs ??= nowMs();
      },
    );
    if (!finished) return;
    res.end();
    record.completedAtMs = nowMs();
    record.outcome = 'completed';
  }
}

/** Text of the last user message, whether its content is a string or a list of text parts. */
export function lastUserText(messages: readonly ChatMessage[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      return m.content
        .map((part: unknown) =>
          part && typeof part === 'object' && 'text' in part ? String(part.text) : '',
        )
        .join('');
    }
    return undefined;
  }
  return undefined;
}

function normalizeReply(reply: ScriptedReply): ScriptedReplyParts {
  const parts = typeof reply === 'string' ? { text: reply } : { ...reply };
  assertOptions('scripted reply', [
    parts.text !== undefined || (parts.toolCalls?.length ?? 0) > 0
      ? null
      : 'a reply needs text or at least one tool call',
    ...(parts.toolCalls ?? []).map((c) => (c.name ? null : 'a tool call needs a name')),
    parts.ttftMs === undefined ? null : checkMs('ttftMs', parts.ttftMs),
    parts.interTokenMs === undefined ? null : checkMs('interTokenMs', parts.interTokenMs),
  ]);
  return parts;
}

/** Splits text into word-sized tokens, each carrying its leading whitespace, as GPT tokens do. */
function splitTokens(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

/** Argument JSON in small pieces, the way the API streams `function.arguments`. */
function argPieces(args: string): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < args.length; i += 8) pieces.push(args.slice(i, i + 8));
  return pieces;
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null = null,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { message, type, param: null, code } }, headers);
}

function wavHeader(dataBytes: number, sampleRate: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

function validate(o: OpenAIStandinOptions): OpenAIStandinOptions {
  assertOptions('openai stand-in', [
    checkHost(o.host),
    checkPort(o.port),
    o.apiKey === null || o.apiKey.length > 0 ? null : 'apiKey must be null or non-empty',
    checkMs('ttftMs', o.ttftMs),
    checkMs('interTokenMs', o.interTokenMs),
    checkMs('ttsTtfbMs', o.ttsTtfbMs),
    checkPositive('ttsChunkMs', o.ttsChunkMs),
    checkPositive('ttsRealtimeFactor', o.ttsRealtimeFactor),
    o.models.length > 0 ? null : 'models must not be empty',
  ]);
  normalizeReply(o.defaultReply);
  return Object.freeze({ ...o });
}

/** The output of the tool call a request answers (its last message), as the tool returned it. */
export function lastToolResult(r: Pick<ChatRequestRecord, 'messages'>): string | undefined {
  const last = r.messages.at(-1);
  if (last?.role !== 'tool') return undefined;
  // The plugin sends a tool's output as its JSON text.
  const content = String(last.content);
  return content.startsWith('"') ? (JSON.parse(content) as string) : content;
}
