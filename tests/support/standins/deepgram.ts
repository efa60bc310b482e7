/**
 * Stand-in for Deepgram streaming speech-to-text (`GET /v1/listen`, WebSocket), speaking the wire
 * protocol of @livekit/agents-plugin-deepgram 1.9.
 *
 * It does not recognise speech. It "hears" a script: the test queues transcripts, and each speech
 * segment the stand-in detects in the audio it receives is answered with the next one. A segment
 * opens at the first loud 10 ms window and ends on the first of: `endSilenceMs` of quiet audio,
 * `audioGapMs` with no audio at all (the plugin's energy gate stops sending in silence), a
 * `Finalize` message, or `CloseStream`. `finalDelayMs` after it ends, the stand-in sends a final
 * `Results` message (`is_final` and `speech_final` true). With nothing queued it sends an empty
 * transcript, as Deepgram does for noise, unless `defaultTranscript` is set.
 *
 * Also answers `POST /v1/listen` (pre-recorded) with the next queued transcript.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';
import { asSamples, rms } from './audio.ts';
import type { RefusalRecord, Writable } from './server.ts';
import {
  FaultQueue,
  WebSocketStandinServer,
  assertOptions,
  checkHost,
  checkMs,
  checkPort,
  hostForUrl,
  nowMs,
  readBody,
  sendJson,
} from './server.ts';

export interface HeardSpeech {
  text: string;
  /** @defaultValue the stand-in's `confidence` */
  confidence?: number;
}

export interface DeepgramStandinOptions {
  /** @defaultValue '127.0.0.1' */
  host: string;
  /** 0 picks a free port. @defaultValue 0 */
  port: number;
  /** Key required in `Authorization: Token <key>`; null accepts any non-empty key. @defaultValue null */
  apiKey: string | null;
  /** Transcripts to hear, in order, one per detected speech segment. @defaultValue [] */
  transcripts: readonly (string | HeardSpeech)[];
  /** Transcript for a segment when the queue is empty; null sends an empty one. @defaultValue null */
  defaultTranscript: string | null;
  /** Delay between a segment ending and its final `Results`. @defaultValue 150 */
  finalDelayMs: number;
  /**
   * Quiet audio (in stream time) that ends a segment. Above espeak-ng's ~310 ms sentence pause, so
   * one spoken answer stays one segment. @defaultValue 400
   */
  endSilenceMs: number;
  /** Wall-clock time with no audio arriving that ends an open segment. @defaultValue 250 */
  audioGapMs: number;
  /** Segments with less loud audio than this are noise: no transcript is consumed. @defaultValue 120 */
  minSpeechMs: number;
  /** RMS (fraction of full scale) above which a 10 ms window counts as speech. @defaultValue 0.01 */
  speechRmsThreshold: number;
  /**
   * Stream time between interim `Results` while a segment is open (only when the client asked for
   * `interim_results=true`); null sends none. @defaultValue 400
   */
  interimIntervalMs: number | null;
  /** Confidence reported for a transcript that does not set its own. @defaultValue 0.97 */
  confidence: number;
}

export const deepgramStandinDefaults: Readonly<DeepgramStandinOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  apiKey: null,
  transcripts: [],
  defaultTranscript: null,
  finalDelayMs: 150,
  endSilenceMs: 400,
  audioGapMs: 250,
  minSpeechMs: 120,
  speechRmsThreshold: 0.01,
  interimIntervalMs: 400,
  confidence: 0.97,
});

/** Options that can change while the stand-in runs. */
export type DeepgramTuning = Omit<DeepgramStandinOptions, 'host' | 'port' | 'transcripts'>;

export type DeepgramFault =
  /** Refuse the next WebSocket handshakes (or REST requests) with this HTTP status. */
  | { kind: 'reject'; status: number; count?: number }
  /** Leave the next WebSocket handshakes unanswered: a connect that times out. */
  | { kind: 'hang'; count?: number }
  /** Kill the socket abruptly (no close frame) when the next audio message arrives. */
  | { kind: 'drop'; count?: number }
  /**
   * From the next audio message on, keep the socket open and reading but send nothing more
   * on it (no results, no SpeechStarted): a connection that stalled on the vendor's side.
   */
  | { kind: 'silent'; count?: number };

export type DeepgramEndReason = 'silence' | 'gap' | 'finalize' | 'close';

export interface DeepgramSegmentRecord {
  /** Position of the first loud audio in this connection's received audio. */
  readonly startAudioMs: number;
  /** Position of the end of the last loud audio. */
  readonly endAudioMs: number;
  /** Loud audio in the segment. */
  readonly speechMs: number;
  /** Wall clock (epoch ms) when the first loud audio arrived. */
  readonly startedAtMs: number;
  /** Wall clock when the last loud audio arrived. */
  readonly speechEndedAtMs: number;
  /** Wall clock when the stand-in decided the segment was over. */
  readonly endedAtMs: number;
  readonly endReason: DeepgramEndReason;
  /** What the stand-in "heard"; null for noise or an empty queue. */
  readonly transcript: string | null;
  /** Wall clock when the final `Results` went out; null if the socket closed first. */
  readonly finalSentAtMs: number | null;
}

export interface DeepgramControlRecord {
  readonly type: string;
  readonly atMs: number;
}

export interface DeepgramConnectionRecord {
  readonly id: number;
  readonly requestId: string;
  readonly openedAtMs: number;
  readonly closedAtMs: number | null;
  /** True when the stand-in killed the socket on an injected `drop` fault. */
  readonly dropped: boolean;
  /** True when an injected `silent` fault muted this socket. */
  readonly silenced: boolean;
  /** Every query parameter, repeated ones as several values. */
  readonly query: Readonly<Record<string, readonly string[]>>;
  readonly model: string | null;
  readonly language: string | null;
  readonly keyterms: readonly string[];
  readonly keywords: readonly string[];
  readonly interimResults: boolean;
  readonly sampleRate: number;
  /** The raw `Authorization` header. */
  readonly authorization: string | null;
  readonly audioBytes: number;
  readonly audioMessages: number;
  readonly segments: readonly DeepgramSegmentRecord[];
  /** KeepAlive, Finalize, CloseStream and any other text message, by `type`. */
  readonly controlMessages: readonly DeepgramControlRecord[];
  readonly interimsSent: number;
  readonly finalsSent: number;
}

export interface DeepgramRestRecord {
  readonly receivedAtMs: number;
  readonly query: Readonly<Record<string, readonly string[]>>;
  readonly authorization: string | null;
  readonly audioBytes: number;
  readonly transcript: string | null;
}

export class DeepgramStandin {
  readonly #server: WebSocketStandinServer;
  #opts: DeepgramStandinOptions;
  #queue: HeardSpeech[] = [];
  readonly #faults = new FaultQueue<DeepgramFault>();
  readonly #connections: Writable<DeepgramConnectionRecord>[] = [];
  readonly #rest: DeepgramRestRecord[] = [];
  readonly #sessions = new Set<ListenSession>();
  #nextId = 1;

  /** Starts a stand-in on a loopback port. */
  static async start(opts: Partial<DeepgramStandinOptions> = {}): Promise<DeepgramStandin> {
    const standin = new DeepgramStandin(opts);
    await standin.#server.listen(standin.#opts.port);
    return standin;
  }

  private constructor(opts: Partial<DeepgramStandinOptions>) {
    this.#opts = validate({ ...deepgramStandinDefaults, ...opts });
    for (const t of this.#opts.transcripts) this.hear(t);
    this.#server = new WebSocketStandinServer(
      this.#opts.host,
      (req, res) => this.#onHttp(req, res),
      (req, socket, head) => this.#onUpgrade(req, socket, head),
    );
  }

  /** Base URL for the plugin's `baseUrl` option: `ws://127.0.0.1:PORT`. */
  get url(): string {
    return `ws://${hostForUrl(this.#opts.host)}:${this.#server.port}`;
  }

  get options(): Readonly<DeepgramStandinOptions> {
    return this.#opts;
  }

  /** Queues what the stand-in will hear in the next speech segment without a transcript yet. */
  hear(speech: string | HeardSpeech, opts: { confidence?: number } = {}): void {
    const heard = typeof speech === 'string' ? { text: speech, ...opts } : { ...speech };
    assertOptions('heard speech', [
      heard.text.trim() ? null : 'text must not be empty',
      heard.confidence === undefined || (heard.confidence >= 0 && heard.confidence <= 1)
        ? null
        : `confidence must be in [0, 1], got ${heard.confidence}`,
    ]);
    this.#queue.push(heard);
  }

  /** Transcripts queued and not yet heard. */
  get pending(): readonly string[] {
    return this.#queue.map((h) => h.text);
  }

  configure(patch: Partial<DeepgramTuning>): void {
    this.#opts = validate({ ...this.#opts, ...patch });
  }

  injectFault(fault: DeepgramFault): void {
    if (fault.kind === 'reject') {
      assertOptions('deepgram fault', [
        fault.status >= 400 && fault.status <= 599 ? null : `status must be 4xx/5xx`,
      ]);
    }
    this.#faults.push(fault);
  }

  get connections(): readonly DeepgramConnectionRecord[] {
    return this.#connections;
  }

  get restRequests(): readonly DeepgramRestRecord[] {
    return this.#rest;
  }

  /** WebSocket handshakes the stand-in refused (bad path, key, query, or an injected fault). */
  get refusals(): readonly RefusalRecord[] {
    return this.#server.refusals;
  }

  #refuse(socket: Duplex, status: number, errCode: string, reason: string): void {
    this.#server.refuse(socket, status, { err_code: errCode, err_msg: reason }, reason);
  }

  /** Forgets queued transcripts, pending faults and recorded history. Open sockets stay open. */
  reset(): void {
    this.#queue = [];
    this.#faults.clear();
    this.#connections.length = 0;
    this.#rest.length = 0;
    this.#server.refusals.length = 0;
  }

  async close(): Promise<void> {
    for (const session of this.#sessions) session.dispose();
    this.#sessions.clear();
    await this.#server.close();
  }

  /** What a live socket may ask of the stand-in, without widening the public surface. */
  #script(): ListenScript {
    return {
      options: () => this.#opts,
      take: () => {
        const next = this.#queue.shift();
        if (next) return next;
        const fallback = this.#opts.defaultTranscript;
        return fallback === null ? null : { text: fallback };
      },
      peek: () => this.#queue[0]?.text ?? this.#opts.defaultTranscript,
      takeDrop: () => this.#faults.take((f) => f.kind === 'drop') !== undefined,
      takeSilent: () => this.#faults.take((f) => f.kind === 'silent') !== undefined,
    };
  }

  #authorize(req: IncomingMessage): { status: number; message: string } | null {
    const fault = this.#faults.take((f) => f.kind === 'reject');
    if (fault?.kind === 'reject') return { status: fault.status, message: 'injected fault' };
    const header = req.headers.authorization;
    const key = /^Token\s+(\S+)$/.exec(header ?? '')?.[1];
    if (!key || (this.#opts.apiKey !== null && key !== this.#opts.apiKey)) {
      return { status: 401, message: 'Invalid credentials.' };
    }
    return null;
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://standin');
    if (url.pathname !== '/v1/listen') {
      this.#refuse(socket, 404, 'NOT_FOUND', `Unknown path ${url.pathname}.`);
      return;
    }
    if (this.#faults.take((f) => f.kind === 'hang')) {
      this.#server.hold(socket);
      return;
    }
    const refused = this.#authorize(req);
    if (refused) {
      const errCode = refused.status === 401 ? 'INVALID_AUTH' : 'STANDIN_FAULT';
      this.#refuse(socket, refused.status, errCode, refused.message);
      return;
    }
    const query = queryRecord(url);
    const sampleRate = Number(url.searchParams.get('sample_rate') ?? '16000');
    const channels = Number(url.searchParams.get('channels') ?? '1');
    const encoding = url.searchParams.get('encoding') ?? 'linear16';
    const problems = [
      encoding === 'linear16' ? null : `encoding ${encoding} is not supported by the stand-in`,
      channels === 1 ? null : 'the stand-in only analyses mono audio',
      Number.isInteger(sampleRate) && sampleRate >= 8000 ? null : 'bad sample_rate',
    ].filter((p): p is string => p !== null);
    if (problems.length) {
      this.#refuse(socket, 400, 'Bad Request', problems.join('; '));
      return;
    }

    const record: Writable<DeepgramConnectionRecord> = {
      id: this.#nextId++,
      requestId: randomUUID(),
      openedAtMs: nowMs(),
      closedAtMs: null,
      dropped: false,
      silenced: false,
      query,
      model: url.searchParams.get('model'),
      language: url.searchParams.get('language'),
      keyterms: url.searchParams.getAll('keyterm'),
      keywords: url.searchParams.getAll('keywords'),
      interimResults: url.searchParams.get('interim_results') === 'true',
      sampleRate,
      authorization: req.headers.authorization ?? null,
      audioBytes: 0,
      audioMessages: 0,
      segments: [],
      controlMessages: [],
      interimsSent: 0,
      finalsSent: 0,
    };
    this.#server.wss.handleUpgrade(req, socket, head, (ws) => {
      this.#connections.push(record);
      const session = new ListenSession(this.#script(), ws, record, {
        vadEvents: url.searchParams.get('vad_events') === 'true',
        utteranceEnd: url.searchParams.has('utterance_end_ms'),
      });
      this.#sessions.add(session);
      ws.once('close', () => this.#sessions.delete(session));
    });
  }

  async #onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://standin');
    if (req.method !== 'POST' || url.pathname !== '/v1/listen') {
      sendJson(res, 404, { err_code: 'NOT_FOUND', err_msg: 'Unknown path.' });
      return;
    }
    const refused = this.#authorize(req);
    if (refused) {
      sendJson(res, refused.status, { err_code: 'REFUSED', err_msg: refused.message });
      return;
    }
    const body = await readBody(req).catch(() => Buffer.alloc(0));
    const heard = this.#script().take();
    this.#rest.push({
      receivedAtMs: nowMs(),
      query: queryRecord(url),
      authorization: req.headers.authorization ?? null,
      audioBytes: body.byteLength,
      transcript: heard?.text ?? null,
    });
    const durationS = wavDurationS(body);
    const confidence = heard?.confidence ?? this.#opts.confidence;
    const text = heard?.text ?? '';
    sendJson(res, 200, {
      metadata: {
        request_id: randomUUID(),
        created: new Date().toISOString(),
        duration: durationS,
        channels: 1,
        models: ['standin'],
      },
      results: {
        channels: [
          {
            alternatives: [
              { transcript: text, confidence, words: timedWords(text, 0, durationS, confidence) },
            ],
          },
        ],
      },
    });
  }
}

interface ListenScript {
  options(): DeepgramStandinOptions;
  /** The transcript for a finished segment (consumed), or null. */
  take(): HeardSpeech | null;
  /** The transcript an interim result previews, not consumed. */
  peek(): string | null;
  /** True when an injected drop fault applies to this audio message. */
  takeDrop(): boolean;
  /** True when an injected silent fault applies from this audio message on. */
  takeSilent(): boolean;
}

/** One live `/v1/listen` socket: segments the received audio and answers with the script. */
class ListenSession {
  readonly #script: ListenScript;
  readonly #ws: WebSocket;
  readonly #record: Writable<DeepgramConnectionRecord>;
  readonly #flags: { vadEvents: boolean; utteranceEnd: boolean };
  readonly #windowSamples: number;
  #carry = Buffer.alloc(0);
  #receivedSamples = 0;
  #segment: {
    startAudioMs: number;
    lastLoudEndMs: number;
    speechMs: number;
    quietMs: number;
    startedAtMs: number;
    speechEndedAtMs: number;
    nextInterimAtMs: number;
  } | null = null;
  #gapTimer: NodeJS.Timeout | null = null;
  /** Finals waiting out `finalDelayMs`, so CloseStream can send them at once. */
  readonly #pendingFinals = new Map<NodeJS.Timeout, () => void>();
  #closing = false;

  constructor(
    script: ListenScript,
    ws: WebSocket,
    record: Writable<DeepgramConnectionRecord>,
    flags: { vadEvents: boolean; utteranceEnd: boolean },
  ) {
    this.#script = script;
    this.#ws = ws;
    this.#record = record;
    this.#flags = flags;
    this.#windowSamples = Math.round(record.sampleRate / 100);
    ws.on('message', (data: RawData, isBinary: boolean) => this.#onMessage(data, isBinary));
    ws.on('close', () => {
      this.#record.closedAtMs = nowMs();
      this.dispose();
    });
    ws.on('error', () => this.dispose());
  }

  dispose(): void {
    if (this.#gapTimer) clearTimeout(this.#gapTimer);
    this.#gapTimer = null;
    for (const t of this.#pendingFinals.keys()) clearTimeout(t);
    this.#pendingFinals.clear();
  }

  get #opts(): DeepgramStandinOptions {
    return this.#script.options();
  }

  /** Position in this connection's received audio. */
  #audioMs(): number {
    return (this.#receivedSamples / this.#record.sampleRate) * 1000;
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (this.#closing) return;
    if (!isBinary) {
      this.#onControl(rawToBuffer(data).toString('utf8'));
      return;
    }
    if (this.#script.takeDrop()) {
      this.#record.dropped = true;
      this.#ws.terminate();
      return;
    }
    if (!this.#record.silenced && this.#script.takeSilent()) this.#record.silenced = true;
    const bytes = rawToBuffer(data);
    this.#record.audioBytes += bytes.byteLength;
    this.#record.audioMessages += 1;
    this.#analyse(bytes);
    if (this.#segment) this.#armGapTimer();
  }

  #onControl(text: string): void {
    let type = 'invalid';
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === 'object' && 'type' in parsed) type = String(parsed.type);
    } catch {
      // recorded as 'invalid' below; Deepgram ignores unparseable text frames too
    }
    this.#record.controlMessages.push({ type, atMs: nowMs() });
    if (type === 'Finalize') {
      if (this.#segment) this.#endSegment('finalize');
    } else if (type === 'CloseStream') {
      this.#closeStream();
    }
  }

  #analyse(bytes: Buffer): void {
    const joined = this.#carry.byteLength ? Buffer.concat([this.#carry, bytes]) : bytes;
    const windowBytes = this.#windowSamples * 2;
    let offset = 0;
    for (; offset + windowBytes <= joined.byteLength; offset += windowBytes) {
      const loud =
        rms(asSamples(joined.subarray(offset, offset + windowBytes))) >
        this.#opts.speechRmsThreshold;
      const windowStartMs = this.#audioMs();
      this.#receivedSamples += this.#windowSamples;
      this.#onWindow(loud, windowStartMs, this.#audioMs());
    }
    this.#carry = Buffer.from(joined.subarray(offset));
  }

  #onWindow(loud: boolean, startMs: number, endMs: number): void {
    const windowMs = endMs - startMs;
    const seg = this.#segment;
    if (!seg) {
      if (!loud) return;
      const interval = this.#opts.interimIntervalMs;
      this.#segment = {
        startAudioMs: startMs,
        lastLoudEndMs: endMs,
        speechMs: windowMs,
        quietMs: 0,
        startedAtMs: nowMs(),
        speechEndedAtMs: nowMs(),
        nextInterimAtMs: interval === null ? Infinity : startMs + interval,
      };
      if (this.#flags.vadEvents) {
        this.#send({ type: 'SpeechStarted', channel: [0], timestamp: startMs / 1000 });
      }
      return;
    }
    if (loud) {
      seg.speechMs += windowMs;
      seg.lastLoudEndMs = endMs;
      seg.quietMs = 0;
      seg.speechEndedAtMs = nowMs();
    } else {
      seg.quietMs += windowMs;
      if (seg.quietMs >= this.#opts.endSilenceMs) {
        this.#endSegment('silence');
        return;
      }
    }
    if (endMs >= seg.nextInterimAtMs) {
      seg.nextInterimAtMs = endMs + (this.#opts.interimIntervalMs ?? Infinity);
      this.#sendInterim(seg.startAudioMs, seg.lastLoudEndMs, seg.speechMs);
    }
  }

  #armGapTimer(): void {
    if (this.#gapTimer) clearTimeout(this.#gapTimer);
    this.#gapTimer = setTimeout(() => {
      this.#gapTimer = null;
      if (this.#segment) this.#endSegment('gap');
    }, this.#opts.audioGapMs);
  }

  #sendInterim(startMs: number, endMs: number, speechMs: number): void {
    if (!this.#record.interimResults) return;
    const text = this.#script.peek();
    if (!text) return;
    const words = text.split(/\s+/).filter(Boolean);
    // Reveal roughly a word per 300 ms of speech, never the whole transcript before the final.
    const shown = Math.min(words.length - 1, Math.floor(speechMs / 300));
    if (shown < 1) return;
    const partial = words.slice(0, shown).join(' ');
    this.#record.interimsSent += 1;
    this.#send(this.#results(partial, startMs, endMs, this.#opts.confidence * 0.9, false, false));
  }

  #endSegment(reason: DeepgramEndReason, immediate = false): void {
    const seg = this.#segment;
    if (!seg) return;
    this.#segment = null;
    if (this.#gapTimer) clearTimeout(this.#gapTimer);
    this.#gapTimer = null;

    const heard = seg.speechMs >= this.#opts.minSpeechMs ? this.#script.take() : null;
    const record: Writable<DeepgramSegmentRecord> = {
      startAudioMs: seg.startAudioMs,
      endAudioMs: seg.lastLoudEndMs,
      speechMs: seg.speechMs,
      startedAtMs: seg.startedAtMs,
      speechEndedAtMs: seg.speechEndedAtMs,
      endedAtMs: nowMs(),
      endReason: reason,
      transcript: heard?.text ?? null,
      finalSentAtMs: null,
    };
    this.#record.segments.push(record);

    const sendFinal = () => {
      const message = this.#results(
        heard?.text ?? '',
        seg.startAudioMs,
        seg.lastLoudEndMs,
        heard?.confidence ?? this.#opts.confidence,
        true,
        true,
      );
      if (reason === 'finalize') message.from_finalize = true;
      if (this.#send(message)) {
        record.finalSentAtMs = nowMs();
        this.#record.finalsSent += 1;
      }
      if (this.#flags.utteranceEnd) {
        this.#send({
          type: 'UtteranceEnd',
          channel: [0, 1],
          last_word_end: seg.lastLoudEndMs / 1000,
        });
      }
    };
    if (immediate || this.#opts.finalDelayMs === 0) {
      sendFinal();
      return;
    }
    const timer = setTimeout(() => {
      this.#pendingFinals.delete(timer);
      sendFinal();
    }, this.#opts.finalDelayMs);
    this.#pendingFinals.set(timer, sendFinal);
  }

  /** Deepgram flushes what it has, sends a summary `Metadata` message, then closes. */
  #closeStream(): void {
    if (this.#segment) this.#endSegment('close', true);
    this.#closing = true;
    // Finals still waiting on their delay go out now, before the summary.
    for (const [timer, sendFinal] of this.#pendingFinals) {
      clearTimeout(timer);
      sendFinal();
    }
    this.#pendingFinals.clear();
    this.#send({
      type: 'Metadata',
      transaction_key: 'deprecated',
      request_id: this.#record.requestId,
      sha256: '',
      created: new Date(this.#record.openedAtMs).toISOString(),
      duration: this.#audioMs() / 1000,
      channels: 1,
    });
    this.#ws.close(1000);
  }

  #results(
    transcript: string,
    startMs: number,
    endMs: number,
    confidence: number,
    isFinal: boolean,
    speechFinal: boolean,
  ): Record<string, unknown> {
    return {
      type: 'Results',
      channel_index: [0, 1],
      duration: (endMs - startMs) / 1000,
      start: startMs / 1000,
      is_final: isFinal,
      speech_final: speechFinal,
      channel: {
        alternatives: [
          {
            transcript,
            confidence,
            words: timedWords(transcript, startMs / 1000, endMs / 1000, confidence),
          },
        ],
      },
      metadata: {
        request_id: this.#record.requestId,
        model_info: { name: this.#record.model ?? 'standin', version: 'standin', arch: 'standin' },
        model_uuid: '00000000-0000-0000-0000-000000000000',
      },
    };
  }

  #send(message: unknown): boolean {
    if (this.#ws.readyState !== WebSocket.OPEN || this.#record.silenced) return false;
    this.#ws.send(JSON.stringify(message));
    return true;
  }
}

/** Spreads the words of `text` evenly over [startS, endS], Deepgram's `words` shape. */
function timedWords(text: string, startS: number, endS: number, confidence: number) {
  const words = text.split(/\s+/).filter(Boolean);
  const step = words.length ? Math.max(0, endS - startS) / words.length : 0;
  return words.map((punctuated, i) => ({
    word: punctuated.toLowerCase().replace(/[^\p{L}\p{N}'-]/gu, ''),
    start: round3(startS + i * step),
    end: round3(startS + (i + 0.9) * step),
    confidence,
    punctuated_word: punctuated,
  }));
}

/** Duration of a PCM WAV body (the plugin's pre-recorded upload), from its header. */
function wavDurationS(body: Buffer): number {
  if (body.byteLength < 44 || body.toString('ascii', 0, 4) !== 'RIFF') return 0;
  const channels = body.readUInt16LE(22) || 1;
  const sampleRate = body.readUInt32LE(24) || 16_000;
  const bytesPerSample = (body.readUInt16LE(34) || 16) / 8;
  return (body.byteLength - 44) / (sampleRate * channels * bytesPerSample);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function queryRecord(url: URL): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) (out[k] ??= []).push(v);
  return out;
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function validate(o: DeepgramStandinOptions): DeepgramStandinOptions {
  assertOptions('deepgram stand-in', [
    checkHost(o.host),
    checkPort(o.port),
    o.apiKey === null || o.apiKey.length > 0 ? null : 'apiKey must be null or non-empty',
    checkMs('finalDelayMs', o.finalDelayMs),
    checkMs('endSilenceMs', o.endSilenceMs),
    o.endSilenceMs >= 10 ? null : 'endSilenceMs must be at least one 10 ms window',
    checkMs('audioGapMs', o.audioGapMs),
    checkMs('minSpeechMs', o.minSpeechMs),
    o.speechRmsThreshold > 0 && o.speechRmsThreshold < 1
      ? null
      : `speechRmsThreshold must be in (0, 1), got ${o.speechRmsThreshold}`,
    o.interimIntervalMs === null || o.interimIntervalMs > 0
      ? null
      : 'interimIntervalMs must be null or > 0',
    o.confidence >= 0 && o.confidence <= 1 ? null : 'confidence must be in [0, 1]',
  ]);
  return Object.freeze({ ...o });
}
