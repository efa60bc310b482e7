/**
 * Stand-in for ElevenLabs text-to-speech as @livekit/agents-plugin-elevenlabs 1.9 speaks it.
 *
 * - `stream()` uses the multi-context WebSocket
 *   `GET /v1/text-to-speech/{voice_id}/multi-stream-input?model_id=…&output_format=pcm_22050&…`
 *   with an `xi-api-key` header. One socket carries many contexts (one per plugin stream): the
 *   first message of a context is `{text: ' ', voice_settings, context_id}`, then text chunks
 *   ending in a space (with `flush: true` per sentence in the plugin's default auto mode), then
 *   `{text: '', flush: true}` and `{context_id, close_context: true}`. The server answers with
 *   `{audio: <base64 s16le>, normalizedAlignment, alignment, contextId}` messages and, once the
 *   context is closed and all its audio sent, `{isFinal: true, contextId}`.
 * - `synthesize()` uses HTTP `POST /v1/text-to-speech/{voice_id}/stream?output_format=…`, which
 *   streams raw PCM with an `audio/*` content type.
 *
 * Alignment times count from the start of the context's audio, which is how the plugin consumes
 * them (it accumulates them across messages). Only PCM output formats are produced.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { z } from 'zod';
import { charTimings, resolveVoice, speechDurationMs, synthesizeSpeech } from './audio.ts';
import type { SyntheticVoiceOptions } from './audio.ts';
import type { RefusalRecord, Writable } from './server.ts';
import {
  FaultQueue,
  WebSocketStandinServer,
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

export interface ElevenLabsStandinOptions {
  /** @defaultValue '127.0.0.1' */
  host: string;
  /** 0 picks a free port. @defaultValue 0 */
  port: number;
  /** Key required in the `xi-api-key` header; null accepts any non-empty key. @defaultValue null */
  apiKey: string | null;
  /** Time from a generation being triggered (flush, close, buffer full) to its first audio. @defaultValue 150 */
  ttfbMs: number;
  /** Audio per message. @defaultValue 200 */
  chunkMs: number;
  /** How many times faster than real time audio is streamed. @defaultValue 5 */
  realtimeFactor: number;
  /** The synthetic voice (speaking rate, pitch, level). */
  voice: Partial<SyntheticVoiceOptions>;
  /** Close idle sockets after the client's `inactivity_timeout` (seconds), as ElevenLabs does. @defaultValue true */
  honourInactivityTimeout: boolean;
}

export const elevenlabsStandinDefaults: Readonly<ElevenLabsStandinOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  apiKey: null,
  ttfbMs: 150,
  chunkMs: 200,
  realtimeFactor: 5,
  voice: {},
  honourInactivityTimeout: true,
});

export type ElevenLabsTuning = Omit<ElevenLabsStandinOptions, 'host' | 'port'>;

export type ElevenLabsFault =
  /** Refuse the next WebSocket handshakes or HTTP synthesis requests with this status. */
  | { kind: 'status'; status: number; count?: number }
  /** Leave the next WebSocket handshakes unanswered: a connect that times out. */
  | { kind: 'hang'; count?: number }
  /** Close the socket (with `code`, default 1011) during the next generation, after `afterAudioChunks` audio messages (default 1). */
  | { kind: 'close'; code?: number; afterAudioChunks?: number; count?: number }
  /** Answer the next generation with an error message for its context instead of audio. */
  | { kind: 'error'; message?: string; count?: number }
  /** Accept the next generation and never send anything for it: a socket open and silent. */
  | { kind: 'silent'; count?: number };

export interface ElevenLabsTextChunk {
  readonly text: string;
  readonly flush: boolean;
  readonly atMs: number;
}

export interface ElevenLabsGenerationRecord {
  readonly text: string;
  readonly triggeredAtMs: number;
  readonly firstAudioAtMs: number | null;
  readonly audioMs: number;
}

export interface ElevenLabsContextRecord {
  readonly contextId: string;
  readonly openedAtMs: number;
  readonly voiceSettings: unknown;
  readonly generationConfig: unknown;
  /** Every text message of the context, in order, the initial `' '` and the final `''` included. */
  readonly chunks: readonly ElevenLabsTextChunk[];
  /** All text received, concatenated. */
  readonly text: string;
  readonly generations: readonly ElevenLabsGenerationRecord[];
  readonly closeRequestedAtMs: number | null;
  readonly finalSentAtMs: number | null;
  readonly audioBytes: number;
  readonly audioMs: number;
  readonly error: string | null;
}

export interface ElevenLabsConnectionRecord {
  readonly id: number;
  readonly openedAtMs: number;
  readonly closedAtMs: number | null;
  readonly closeCode: number | null;
  readonly voiceId: string;
  readonly query: Readonly<Record<string, string>>;
  readonly modelId: string | null;
  readonly outputFormat: string;
  readonly sampleRate: number;
  /** The `xi-api-key` header as received. */
  readonly apiKey: string | null;
  readonly contexts: readonly ElevenLabsContextRecord[];
  /** Messages the stand-in could not accept, with the reason. Nothing is silently dropped. */
  readonly protocolErrors: readonly string[];
}

export interface ElevenLabsHttpRecord {
  readonly receivedAtMs: number;
  readonly path: string;
  readonly voiceId: string;
  readonly query: Readonly<Record<string, string>>;
  readonly apiKey: string | null;
  readonly body: Readonly<Record<string, unknown>> | null;
  readonly text: string | null;
  readonly modelId: string | null;
  readonly outcome: 'pending' | 'completed' | 'aborted' | 'fault' | 'rejected';
  readonly audioBytes: number;
  readonly firstByteAtMs: number | null;
  readonly completedAtMs: number | null;
}

const wsMessageSchema = z.looseObject({
  text: z.string().optional(),
  context_id: z.string().min(1).optional(),
  flush: z.boolean().optional(),
  close_context: z.boolean().optional(),
  close_socket: z.boolean().optional(),
  voice_settings: z.unknown().optional(),
  generation_config: z
    .looseObject({ chunk_length_schedule: z.array(z.number().positive()).min(1).optional() })
    .optional(),
});

const httpBodySchema = z.looseObject({
  text: z.string().min(1),
  model_id: z.string().optional(),
  voice_settings: z.unknown().optional(),
});

const DEFAULT_SCHEDULE = [120, 160, 250, 290];
const SENTENCE_END = /[.!?]["')\]]?\s*$/;

export class ElevenLabsStandin {
  readonly #server: WebSocketStandinServer;
  #opts: ElevenLabsStandinOptions;
  #voice: SyntheticVoiceOptions;
  readonly #faults = new FaultQueue<ElevenLabsFault>();
  /** `hang` faults, apart: they apply to handshakes, never to a generation. */
  readonly #hangs = new FaultQueue<ElevenLabsFault>();
  readonly #connections: Writable<ElevenLabsConnectionRecord>[] = [];
  readonly #http: Writable<ElevenLabsHttpRecord>[] = [];
  readonly #sockets = new Set<MultiContextSocket>();
  #nextId = 1;

  static async start(opts: Partial<ElevenLabsStandinOptions> = {}): Promise<ElevenLabsStandin> {
    const standin = new ElevenLabsStandin(opts);
    await standin.#server.listen(standin.#opts.port);
    return standin;
  }

  private constructor(opts: Partial<ElevenLabsStandinOptions>) {
    this.#opts = validate({ ...elevenlabsStandinDefaults, ...opts });
    this.#voice = resolveVoice(this.#opts.voice);
    this.#server = new WebSocketStandinServer(
      this.#opts.host,
      (req, res, signal) => this.#onHttp(req, res, signal),
      (req, socket, head) => this.#onUpgrade(req, socket, head),
    );
  }

  /** Base URL for the plugin's `baseURL` option: `http://127.0.0.1:PORT/v1`. */
  get url(): string {
    return `http://${hostForUrl(this.#opts.host)}:${this.#server.port}/v1`;
  }

  get options(): Readonly<ElevenLabsStandinOptions> {
    return this.#opts;
  }

  configure(patch: Partial<ElevenLabsTuning>): void {
    const next = validate({ ...this.#opts, ...patch });
    this.#voice = resolveVoice(next.voice);
    this.#opts = next;
  }

  injectFault(fault: ElevenLabsFault): void {
    assertOptions('elevenlabs fault', [
      fault.kind !== 'status' || (fault.status >= 400 && fault.status <= 599)
        ? null
        : 'status must be 4xx/5xx',
      fault.kind !== 'close' ||
      fault.code === undefined ||
      (fault.code >= 1000 && fault.code <= 4999 && ![1004, 1005, 1006].includes(fault.code))
        ? null
        : 'code must be a sendable WebSocket close code',
    ]);
    (fault.kind === 'hang' ? this.#hangs : this.#faults).push(fault);
  }

  get connections(): readonly ElevenLabsConnectionRecord[] {
    return this.#connections;
  }

  /** Every context of every connection, in the order they were opened. */
  get contexts(): readonly ElevenLabsContextRecord[] {
    return this.#connections.flatMap((c) => c.contexts);
  }

  get httpRequests(): readonly ElevenLabsHttpRecord[] {
    return this.#http;
  }

  /** WebSocket handshakes the stand-in refused (bad path, key, format, or an injected fault). */
  get refusals(): readonly RefusalRecord[] {
    return this.#server.refusals;
  }

  #refuse(socket: Duplex, status: number, code: string, message: string): void {
    this.#server.refuse(socket, status, { detail: { status: code, message } }, message);
  }

  /** What a live socket may ask of the stand-in, without widening the public surface. */
  #host(): SocketHost {
    return {
      options: () => this.#opts,
      voice: () => this.#voice,
      takeFault: () => this.#faults.take((f) => f.kind !== 'status'),
    };
  }

  /** Forgets pending faults and recorded history. Open sockets stay open. */
  reset(): void {
    this.#faults.clear();
    this.#hangs.clear();
    this.#connections.length = 0;
    this.#http.length = 0;
    this.#server.refusals.length = 0;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.dispose();
    this.#sockets.clear();
    await this.#server.close();
  }

  #checkKey(req: IncomingMessage): boolean {
    const key = req.headers['xi-api-key'];
    return typeof key === 'string' && key.length > 0 && (this.#opts.apiKey ?? key) === key;
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://standin');
    const match = /^\/v1\/text-to-speech\/([^/]+)\/multi-stream-input$/.exec(url.pathname);
    if (!match?.[1]) {
      this.#refuse(socket, 404, 'not_found', `Unknown path ${url.pathname}.`);
      return;
    }
    if (!this.#checkKey(req)) {
      this.#refuse(socket, 401, 'invalid_api_key', 'Invalid API key');
      return;
    }
    if (this.#hangs.take()) {
      this.#server.hold(socket);
      return;
    }
    const fault = this.#faults.take((f) => f.kind === 'status');
    if (fault?.kind === 'status') {
      this.#refuse(socket, fault.status, 'standin_fault', 'injected fault');
      return;
    }
    const query = Object.fromEntries(url.searchParams);
    const outputFormat = query.output_format ?? 'mp3_44100_128';
    const sampleRate = pcmSampleRate(outputFormat);
    if (sampleRate === null) {
      const message = `the stand-in only produces pcm_* output formats, not ${outputFormat}`;
      this.#refuse(socket, 400, 'invalid_output_format', message);
      return;
    }
    const record: Writable<ElevenLabsConnectionRecord> = {
      id: this.#nextId++,
      openedAtMs: nowMs(),
      closedAtMs: null,
      closeCode: null,
      voiceId: decodeURIComponent(match[1]),
      query,
      modelId: query.model_id ?? null,
      outputFormat,
      sampleRate,
      apiKey: (req.headers['xi-api-key'] as string | undefined) ?? null,
      contexts: [],
      protocolErrors: [],
    };
    this.#server.wss.handleUpgrade(req, socket, head, (ws) => {
      this.#connections.push(record);
      const s = new MultiContextSocket(this.#host(), ws, record);
      this.#sockets.add(s);
      ws.once('close', () => this.#sockets.delete(s));
    });
  }

  async #onHttp(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://standin');
    if (req.method === 'GET' && url.pathname === '/v1/voices') {
      if (!this.#checkKey(req)) {
        sendJson(res, 401, { detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
        return;
      }
      sendJson(res, 200, {
        voices: [{ voice_id: 'standin-voice', name: 'Stand-in', category: 'premade' }],
      });
      return;
    }
    const match = /^\/v1\/text-to-speech\/([^/]+)(\/stream)?$/.exec(url.pathname);
    if (req.method !== 'POST' || !match?.[1]) {
      sendJson(res, 404, { detail: { status: 'not_found', message: 'Unknown path.' } });
      return;
    }
    const query = Object.fromEntries(url.searchParams);
    const record: Writable<ElevenLabsHttpRecord> = {
      receivedAtMs: nowMs(),
      path: url.pathname,
      voiceId: decodeURIComponent(match[1]),
      query,
      apiKey: (req.headers['xi-api-key'] as string | undefined) ?? null,
      body: null,
      text: null,
      modelId: null,
      outcome: 'pending',
      audioBytes: 0,
      firstByteAtMs: null,
      completedAtMs: null,
    };
    this.#http.push(record);
    signal.addEventListener('abort', () => {
      if (record.outcome === 'pending') record.outcome = 'aborted';
    });
    const reject = (status: number, code: string, message: string) => {
      record.outcome = status >= 500 || code === 'standin_fault' ? 'fault' : 'rejected';
      sendJson(res, status, { detail: { status: code, message } });
    };

    if (!this.#checkKey(req)) return reject(401, 'invalid_api_key', 'Invalid API key');
    let json: unknown;
    try {
      json = JSON.parse((await readBody(req)).toString('utf8'));
    } catch {
      return reject(400, 'invalid_json', 'Body is not JSON');
    }
    const parsed = httpBodySchema.safeParse(json);
    if (!parsed.success) {
      return reject(400, 'invalid_request', parsed.error.issues[0]?.message ?? 'invalid body');
    }
    record.body = parsed.data;
    record.text = parsed.data.text;
    record.modelId = parsed.data.model_id ?? null;
    const outputFormat = query.output_format ?? 'mp3_44100_128';
    const sampleRate = pcmSampleRate(outputFormat);
    if (sampleRate === null) {
      return reject(400, 'invalid_output_format', `only pcm_* formats, not ${outputFormat}`);
    }
    const fault = this.#faults.take((f) => f.kind === 'status');
    if (fault?.kind === 'status') return reject(fault.status, 'standin_fault', 'injected fault');

    const speed = speedOf(parsed.data.voice_settings);
    if (speed === null) return reject(422, 'invalid_voice_settings', 'speed must be in 0.7–1.2');
    const pcm = synthesizeSpeech(parsed.data.text, sampleRate, {
      ...this.#voice,
      msPerChar: this.#voice.msPerChar / speed,
    });
    if (!(await wait(this.#opts.ttfbMs, signal))) return;
    res.writeHead(200, {
      'content-type': 'audio/pcm',
      'transfer-encoding': 'chunked',
      'request-id': `standin-${record.receivedAtMs.toFixed(0)}`,
    });
    const streamed = await streamPaced(
      pcm,
      sampleRate,
      { chunkMs: this.#opts.chunkMs, realtimeFactor: this.#opts.realtimeFactor },
      signal,
      (piece) => {
        res.write(piece);
        record.audioBytes += piece.byteLength;
        record.firstByteAtMs ??= nowMs();
      },
    );
    if (!streamed) return;
    res.end();
    record.completedAtMs = nowMs();
    record.outcome = 'completed';
  }
}

interface ContextState {
  record: Writable<ElevenLabsContextRecord>;
  buffer: string;
  schedule: readonly number[];
  /** `voice_settings.speed` of the context's first message. */
  speed: number;
  pending: Writable<ElevenLabsGenerationRecord>[];
  triggered: number;
  working: boolean;
  closeRequested: boolean;
  done: boolean;
  /** An injected `silent` fault: text is still taken (and recorded), nothing is ever sent. */
  silenced?: boolean;
}

interface SocketHost {
  options(): ElevenLabsStandinOptions;
  voice(): SyntheticVoiceOptions;
  /** The pending `close`, `error` or `silent` fault for the next generation, if any. */
  takeFault(): ElevenLabsFault | undefined;
}

/** One multi-context socket: buffers text per context, generates, streams audio back. */
class MultiContextSocket {
  readonly #host: SocketHost;
  readonly #ws: WebSocket;
  readonly #record: Writable<ElevenLabsConnectionRecord>;
  readonly #contexts = new Map<string, ContextState>();
  readonly #abort = new AbortController();
  readonly #autoMode: boolean;
  readonly #inactivityMs: number | null;
  #inactivityTimer: NodeJS.Timeout | null = null;

  constructor(host: SocketHost, ws: WebSocket, record: Writable<ElevenLabsConnectionRecord>) {
    this.#host = host;
    this.#ws = ws;
    this.#record = record;
    this.#autoMode = record.query.auto_mode === 'true';
    const timeoutS = Number(record.query.inactivity_timeout ?? '20');
    this.#inactivityMs =
      host.options().honourInactivityTimeout && Number.isFinite(timeoutS) && timeoutS > 0
        ? timeoutS * 1000
        : null;
    ws.on('message', (data: RawData, isBinary: boolean) => this.#onMessage(data, isBinary));
    ws.on('close', (code: number) => {
      this.#record.closedAtMs = nowMs();
      this.#record.closeCode ??= code;
      this.dispose();
    });
    ws.on('error', () => this.dispose());
    this.#touch();
  }

  dispose(): void {
    this.#abort.abort();
    if (this.#inactivityTimer) clearTimeout(this.#inactivityTimer);
    this.#inactivityTimer = null;
  }

  #touch(): void {
    if (this.#inactivityMs === null) return;
    if (this.#inactivityTimer) clearTimeout(this.#inactivityTimer);
    this.#inactivityTimer = setTimeout(() => {
      const busy = [...this.#contexts.values()].some((c) => c.working);
      if (busy) this.#touch();
      else this.#close(1008, 'Have not received new text within the inactivity timeout');
    }, this.#inactivityMs);
  }

  #protocolError(reason: string): void {
    this.#record.protocolErrors.push(reason);
  }

  #close(code: number, reason: string): void {
    if (this.#ws.readyState === WebSocket.OPEN) {
      this.#record.closeCode ??= code;
      this.#ws.close(code, reason);
    }
    this.dispose();
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    this.#touch();
    if (isBinary) {
      this.#protocolError('binary message');
      this.#close(1003, 'binary messages are not accepted');
      return;
    }
    let parsed: z.infer<typeof wsMessageSchema>;
    try {
      const result = wsMessageSchema.safeParse(JSON.parse(String(data)));
      if (!result.success) throw new Error(result.error.issues[0]?.message ?? 'invalid message');
      parsed = result.data;
    } catch (err) {
      this.#protocolError(`invalid message: ${(err as Error).message}`);
      this.#close(1008, 'invalid message');
      return;
    }

    if (parsed.close_socket) {
      this.#close(1000, 'close_socket');
      return;
    }
    const contextId = parsed.context_id ?? 'default';
    let ctx = this.#contexts.get(contextId);

    if (parsed.close_context) {
      if (!ctx) {
        this.#protocolError(`close_context for unknown context ${contextId}`);
        return;
      }
      if (!ctx.record.closeRequestedAtMs) ctx.record.closeRequestedAtMs = nowMs();
      ctx.closeRequested = true;
      this.#trigger(ctx);
      this.#kick(ctx);
      return;
    }
    if (parsed.text === undefined) {
      this.#protocolError(`message without text for context ${contextId}`);
      return;
    }
    if (!ctx) {
      if (speedOf(parsed.voice_settings) === null) {
        this.#protocolError(`voice_settings.speed out of 0.7–1.2 in context ${contextId}; using 1`);
      }
      ctx = {
        record: {
          contextId,
          openedAtMs: nowMs(),
          voiceSettings: parsed.voice_settings ?? null,
          generationConfig: parsed.generation_config ?? null,
          chunks: [],
          text: '',
          generations: [],
          closeRequestedAtMs: null,
          finalSentAtMs: null,
          audioBytes: 0,
          audioMs: 0,
          error: null,
        },
        buffer: '',
        schedule: parsed.generation_config?.chunk_length_schedule ?? DEFAULT_SCHEDULE,
        speed: speedOf(parsed.voice_settings) ?? 1,
        pending: [],
        triggered: 0,
        working: false,
        closeRequested: false,
        done: false,
      };
      this.#contexts.set(contextId, ctx);
      this.#record.contexts.push(ctx.record);
    } else if (ctx.closeRequested || ctx.done) {
      this.#protocolError(`text for closed context ${contextId}`);
      return;
    }
    const flush = parsed.flush === true;
    ctx.record.chunks.push({ text: parsed.text, flush, atMs: nowMs() });
    ctx.record.text += parsed.text;
    ctx.buffer += parsed.text;

    const threshold = ctx.schedule[Math.min(ctx.triggered, ctx.schedule.length - 1)] ?? 120;
    if (
      flush ||
      (this.#autoMode ? SENTENCE_END.test(ctx.buffer) : ctx.buffer.trim().length >= threshold)
    ) {
      this.#trigger(ctx);
      this.#kick(ctx);
    }
  }

  #kick(ctx: ContextState): void {
    this.#work(ctx).catch((err: unknown) => {
      this.#protocolError(`stand-in failure in context ${ctx.record.contextId}: ${String(err)}`);
      this.#close(1011, 'stand-in failure');
    });
  }

  /** Moves buffered text to the generation queue. */
  #trigger(ctx: ContextState): void {
    // Keep trailing spaces: the alignment then carries the space between two generations, as
    // the plugin needs to split words across them.
    const text = ctx.buffer.trimStart();
    ctx.buffer = '';
    if (!text.trim()) return;
    const generation = { text, triggeredAtMs: nowMs(), firstAudioAtMs: null, audioMs: 0 };
    ctx.pending.push(generation);
    ctx.triggered += 1;
    ctx.record.generations.push(generation);
  }

  async #work(ctx: ContextState): Promise<void> {
    if (ctx.working || ctx.done || ctx.silenced) return;
    ctx.working = true;
    const signal = this.#abort.signal;
    try {
      while (ctx.pending.length > 0) {
        const generation = ctx.pending.shift();
        if (!generation) break;
        const fault = this.#host.takeFault();
        if (fault?.kind === 'silent') {
          // Nothing for this context, ever (not even its isFinal when the client closes it):
          // it stays open until the client gives up on it.
          ctx.pending = [];
          ctx.silenced = true;
          return;
        }
        if (!(await wait(this.#host.options().ttfbMs, signal))) return;
        if (fault?.kind === 'error') {
          const message = fault.message ?? 'injected fault';
          ctx.record.error = message;
          ctx.done = true;
          ctx.pending = [];
          this.#send({
            message,
            error: 'standin_fault',
            code: 1011,
            contextId: ctx.record.contextId,
          });
          return;
        }
        if (!(await this.#generate(ctx, generation, fault, signal))) return;
      }
      if (ctx.closeRequested && !ctx.done) {
        ctx.done = true;
        if (this.#send({ isFinal: true, contextId: ctx.record.contextId })) {
          ctx.record.finalSentAtMs = nowMs();
        }
      }
    } finally {
      ctx.working = false;
    }
  }

  async #generate(
    ctx: ContextState,
    generation: Writable<ElevenLabsGenerationRecord>,
    fault: ElevenLabsFault | undefined,
    signal: AbortSignal,
  ): Promise<boolean> {
    const { sampleRate } = this.#record;
    const { text } = generation;
    const base = this.#host.voice();
    const voice = { ...base, msPerChar: base.msPerChar / ctx.speed };
    const pcm = synthesizeSpeech(text, sampleRate, voice);
    const timings = charTimings(text, voice.msPerChar);
    const offsetMs = ctx.record.audioMs;
    const pace = {
      chunkMs: this.#host.options().chunkMs,
      realtimeFactor: this.#host.options().realtimeFactor,
    };
    const closeAfter = fault?.kind === 'close' ? (fault.afterAudioChunks ?? 1) : Infinity;
    let charIndex = 0;
    const finished = await streamPaced(pcm, sampleRate, pace, signal, (piece, index, startMs) => {
      if (index >= closeAfter) return false;
      const endMs = startMs + (piece.byteLength / 2 / sampleRate) * 1000;
      const chars: string[] = [];
      const starts: number[] = [];
      const durations: number[] = [];
      for (; charIndex < timings.length; charIndex++) {
        const t = timings[charIndex];
        if (!t || t.startMs >= endMs) break;
        chars.push(t.char);
        starts.push(Math.round(offsetMs + t.startMs));
        durations.push(t.durationMs);
      }
      const alignment = chars.length
        ? { chars, charStartTimesMs: starts, charDurationsMs: durations }
        : null;
      const sent = this.#send({
        audio: piece.toString('base64'),
        normalizedAlignment: alignment,
        alignment,
        contextId: ctx.record.contextId,
      });
      if (!sent) return false;
      ctx.record.audioBytes += piece.byteLength;
      generation.firstAudioAtMs ??= nowMs();
    });
    if (fault?.kind === 'close' && (finished || !signal.aborted)) {
      this.#close(fault.code ?? 1011, 'injected fault');
      return false;
    }
    if (!finished) return false;
    const durationMs = speechDurationMs(text, voice.msPerChar);
    ctx.record.audioMs += durationMs;
    generation.audioMs = durationMs;
    return true;
  }

  #send(message: unknown): boolean {
    if (this.#ws.readyState !== WebSocket.OPEN) return false;
    this.#ws.send(JSON.stringify(message));
    return true;
  }
}

/** `voice_settings.speed`: 1 when absent, null when outside the 0.7–1.2 ElevenLabs accepts. */
function speedOf(voiceSettings: unknown): number | null {
  if (!voiceSettings || typeof voiceSettings !== 'object' || !('speed' in voiceSettings)) return 1;
  const speed = Number(voiceSettings.speed);
  return Number.isFinite(speed) && speed >= 0.7 && speed <= 1.2 ? speed : null;
}

function pcmSampleRate(format: string): number | null {
  const m = /^pcm_(\d+)$/.exec(format);
  return m?.[1] ? Number(m[1]) : null;
}

function validate(o: ElevenLabsStandinOptions): ElevenLabsStandinOptions {
  assertOptions('elevenlabs stand-in', [
    checkHost(o.host),
    checkPort(o.port),
    o.apiKey === null || o.apiKey.length > 0 ? null : 'apiKey must be null or non-empty',
    checkMs('ttfbMs', o.ttfbMs),
    checkPositive('chunkMs', o.chunkMs),
    checkPositive('realtimeFactor', o.realtimeFactor),
  ]);
  return Object.freeze({ ...o });
}
