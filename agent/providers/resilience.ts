/**
 * What the framework's provider stages lack for bounded silence (issue 15, item 3). Each is a
 * thin wrapper in the framework's own types, so the FallbackAdapters and the AgentSession use
 * them unchanged:
 *
 * - `ReconnectingSTT`: a recogniser stream that can be replaced under the session on demand.
 *   The deepgram plugin (1.9) does not notice a dropped socket (its socket monitor is a Task
 *   that `Promise.all` never awaits, so audio goes on into a closed socket), and nothing can
 *   notice a socket that stays open and silent; the session's watchdog (`stt-watchdog.ts`)
 *   decides, this makes it possible. Its own `updateOptions` reset is not used: it leaves the
 *   old send loop reading the shared input, which then takes every other frame.
 * - `FirstTokenDeadlineLLM`: one provider's attempt with no first token within the chain's attempt
 *   timeout fails and is retried or moved on from (the plugin bounds only the wait for headers).
 * - `HoldingLineLLM`: no first token within the turn's budget speaks a short holding line while
 *   the chain (`llm.FallbackAdapter`, with its attempt timeout) keeps trying; a chain that gives
 *   up before saying anything speaks the failure line instead of leaving the turn unanswered
 *   (the framework drops a failed generation silently, and the patient waits for a reply that
 *   never comes).
 * - `FirstAudioDeadlineTTS`: a stream that has had text for `timeoutMs` with no audio fails, so
 *   `tts.FallbackAdapter` (which has no timeout of its own) moves to the next voice.
 */
import {
  APIConnectionError,
  APIError,
  APITimeoutError,
  llm as llmNs,
  stt as sttNs,
  tts as ttsNs,
  type APIConnectOptions,
} from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';

type AudioBuffer = Parameters<sttNs.STT['recognize']>[0];

export class ReconnectingSTT extends sttNs.STT {
  readonly label: string;
  readonly inner: sttNs.STT;
  readonly #streams = new Set<ReconnectingSpeechStream>();
  /** Streams replaced by `reconnect`, over the instance's life. */
  reconnects = 0;

  constructor(inner: sttNs.STT) {
    super(inner.capabilities);
    this.inner = inner;
    this.label = inner.label;
    // The inner streams report their errors on the inner instance: with no listener there,
    // EventEmitter would throw them. The session listens on this one.
    inner.on('error', (e) => this.emit('error', e));
  }

  override get model(): string {
    return this.inner.model;
  }

  override get provider(): string {
    return this.inner.provider;
  }

  protected _recognize(frame: AudioBuffer, abortSignal?: AbortSignal): Promise<sttNs.SpeechEvent> {
    return this.inner.recognize(frame, abortSignal);
  }

  override _updateSessionKeyterms(keyterms: string[]): void {
    this.inner._updateSessionKeyterms(keyterms);
  }

  stream(options?: { connOptions?: APIConnectOptions }): sttNs.SpeechStream {
    const s = new ReconnectingSpeechStream(this, options?.connOptions, () =>
      this.#streams.delete(s),
    );
    this.#streams.add(s);
    return s;
  }

  /** Replaces every live stream's connection; returns how many were replaced. */
  reconnect(): number {
    let n = 0;
    for (const s of this.#streams) if (s.reconnect()) n += 1;
    this.reconnects += n;
    return n;
  }

  override async close(): Promise<void> {
    await this.inner.close();
  }
}

class ReconnectingSpeechStream extends sttNs.SpeechStream {
  label = 'voicecare.ReconnectingSpeechStream';
  readonly #owner: ReconnectingSTT;
  readonly #connOptions: APIConnectOptions | undefined;
  readonly #onDone: () => void;
  #current: sttNs.SpeechStream | null = null;
  #replace = false;
  #inputEnded = false;

  constructor(
    owner: ReconnectingSTT,
    connOptions: APIConnectOptions | undefined,
    onDone: () => void,
  ) {
    super(owner, undefined, connOptions);
    this.#owner = owner;
    this.#connOptions = connOptions;
    this.#onDone = onDone;
  }

  reconnect(): boolean {
    const current = this.#current;
    if (!current || this.#inputEnded) return false;
    this.#replace = true;
    current.close();
    return true;
  }

  protected async run(): Promise<void> {
    const startedAt = Date.now();
    // One reader of the input, forwarding to whichever inner stream is current.
    const forward = (async () => {
      for await (const item of this.input) {
        if (this.abortSignal.aborted) break;
        const c = this.#current;
        if (!c) continue;
        try {
          if (typeof item === 'symbol') c.flush();
          else c.pushFrame(item as AudioFrame);
        } catch {
          // Closed by a reconnect between the check and the push: the frame is lost.
        }
      }
      this.#inputEnded = true;
      try {
        this.#current?.endInput();
      } catch {
        // already ended
      }
    })();
    try {
      for (;;) {
        if (this.abortSignal.aborted) return;
        const child = this.#owner.inner.stream(
          this.#connOptions ? { connOptions: this.#connOptions } : undefined,
        );
        child.startTimeOffset = this.startTimeOffset + (Date.now() - startedAt) / 1000;
        this.#current = child;
        if (this.#inputEnded) child.endInput();
        try {
          for await (const ev of child) {
            if (this.abortSignal.aborted || this.queue.closed) return;
            this.queue.put(ev);
          }
        } finally {
          child.close();
          this.#current = null;
        }
        if (this.#replace) {
          this.#replace = false;
          continue;
        }
        if (this.#inputEnded || this.abortSignal.aborted) return;
        // Ended on its own with audio still coming: a failure the framework retries (or a
        // FallbackAdapter above moves on from).
        throw new APIConnectionError({ message: 'speech stream ended unexpectedly' });
      }
    } finally {
      if (!this.input.closed) this.input.close();
      await forward.catch(() => undefined);
      this.#onDone();
    }
  }
}

export interface HoldingLineOptions {
  /** No first token this long into a turn: the holding line. */
  holdAfterMs: number;
  /** Spoken as the reply's first words, e.g. "One moment." */
  line: string;
  /** The line went out (for the session's log and tallies). */
  onHold?: () => void;
  /**
   * Spoken when the whole chain failed before its first token, e.g. an apology and a request to
   * say it again. Unset: the failure propagates as before (the turn goes unanswered).
   */
  failureLine?: string;
  /** The chain failed and the failure line went out; `err` is the chain's last error. */
  onFailure?: (err: unknown) => void;
}

export class HoldingLineLLM extends llmNs.LLM {
  readonly inner: llmNs.LLM;
  readonly opts: HoldingLineOptions;

  constructor(inner: llmNs.LLM, opts: HoldingLineOptions) {
    super();
    this.inner = inner;
    this.opts = opts;
  }

  label(): string {
    return this.inner.label();
  }

  override get model(): string {
    return this.inner.model;
  }

  override get provider(): string {
    return this.inner.provider;
  }

  chat(params: Parameters<llmNs.LLM['chat']>[0]): llmNs.LLMStream {
    return new HoldingLineStream(this, params);
  }
}

class HoldingLineStream extends llmNs.LLMStream {
  readonly #owner: HoldingLineLLM;
  readonly #params: Parameters<llmNs.LLM['chat']>[0];

  constructor(owner: HoldingLineLLM, params: Parameters<llmNs.LLM['chat']>[0]) {
    // No retries of the whole chain here: the chain has its own, and each costs silence.
    const connOptions = { ...(params.connOptions ?? ttsDefaults), maxRetry: 0 };
    super(owner, { chatCtx: params.chatCtx, toolCtx: params.toolCtx, connOptions });
    this.#owner = owner;
    this.#params = params;
  }

  protected async run(): Promise<void> {
    const { holdAfterMs, line, onHold, failureLine, onFailure } = this.#owner.opts;
    // One pass of the chain, never a rerun of the whole of it: it has its own per-provider
    // retries, each costs silence, and a rerun after part of a reply was sent repeats it.
    const inner = this.#owner.inner.chat({ ...this.#params, connOptions: this.connOptions });
    let responded = false;
    const timer =
      holdAfterMs > 0
        ? setTimeout(() => {
            if (responded || this.abortSignal.aborted) return;
            this.queue.put({
              id: 'voicecare_hold',
              delta: { role: 'assistant', content: `${line} ` },
            });
            onHold?.();
          }, holdAfterMs)
        : undefined;
    const onAbort = (): void => inner.close();
    this.abortSignal.addEventListener('abort', onAbort, { once: true });
    // A stream that gives up ends its iteration quietly and reports on its LLM's error event.
    let failure: unknown;
    const onError = (ev: { error: unknown; recoverable: boolean }): void => {
      if (!ev.recoverable) failure = ev.error;
    };
    this.#owner.inner.on('error', onError);
    try {
      for await (const chunk of inner) {
        if (this.abortSignal.aborted) break;
        if (llmNs.hasResponse(chunk)) {
          responded = true;
          clearTimeout(timer);
        }
        this.queue.put(chunk);
      }
    } catch (err) {
      failure = err;
    } finally {
      clearTimeout(timer);
      this.abortSignal.removeEventListener('abort', onAbort);
      this.#owner.inner.off('error', onError);
      inner.close();
    }
    // Half a reply already spoken is left as it is; a turn with none gets the failure line.
    if (failure !== undefined && !responded && !this.abortSignal.aborted && failureLine) {
      this.queue.put({
        id: 'voicecare_failure',
        delta: { role: 'assistant', content: failureLine },
      });
      onFailure?.(failure);
    }
  }

  private get abortSignal(): AbortSignal {
    return this.abortController.signal;
  }
}

type ChatParams = Parameters<llmNs.LLM['chat']>[0];

/** How one attempt at a provider ended. */
type AttemptOutcome = { ok: true } | { ok: false; error: unknown; responded: boolean };

/**
 * One provider in the LLM chain, with attempts that must produce a first token in time. The
 * FallbackAdapter hands each provider its attempt timeout and retry count as `connOptions`;
 * the plugin applies the timeout to the wait for response headers only, so a 200 whose stream
 * stays silent holds the turn until something else gives up. Here an attempt with no first
 * token by `timeoutMs` fails.
 *
 * The retries run here, not in the framework's stream base: each gets its own first-token
 * deadline, none follows a reply that already started (it would be said twice), and the chain,
 * which records every error a provider emits (a recoverable one too), hears only the last.
 */
export class FirstTokenDeadlineLLM extends llmNs.LLM {
  readonly inner: llmNs.LLM;

  constructor(inner: llmNs.LLM) {
    super();
    this.inner = inner;
    inner.on('metrics_collected', (m) => this.emit('metrics_collected', m));
    // The inner streams report failures on the inner instance; with no listener there,
    // EventEmitter would throw them. Each attempt listens for its own while it runs.
    inner.on('error', () => undefined);
  }

  label(): string {
    return this.inner.label();
  }

  override get model(): string {
    return this.inner.model;
  }

  override get provider(): string {
    return this.inner.provider;
  }

  chat(params: ChatParams): llmNs.LLMStream {
    return new FirstTokenDeadlineStream(this, params);
  }
}

class FirstTokenDeadlineStream extends llmNs.LLMStream {
  readonly #owner: FirstTokenDeadlineLLM;
  readonly #params: ChatParams;
  /** The chain's settings for this provider: attempt timeout, retries and their interval. */
  readonly #attempts: APIConnectOptions;

  constructor(owner: FirstTokenDeadlineLLM, params: ChatParams) {
    const attempts = params.connOptions ?? ttsDefaults;
    super(owner, {
      chatCtx: params.chatCtx,
      toolCtx: params.toolCtx,
      connOptions: { ...attempts, maxRetry: 0 },
    });
    this.#owner = owner;
    this.#params = params;
    this.#attempts = attempts;
  }

  protected async run(): Promise<void> {
    const { maxRetry, retryIntervalMs } = this.#attempts;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.attempt();
      if (outcome.ok || this.abortSignal.aborted) return;
      // Part of a reply already went out: another attempt would say it again.
      const retryable = outcome.error instanceof APIError ? outcome.error.retryable : false;
      if (outcome.responded || !retryable || attempt >= maxRetry) throw outcome.error;
      await abortableDelay(retryIntervalMs, this.abortSignal);
    }
  }

  private async attempt(): Promise<AttemptOutcome> {
    const llm = this.#owner.inner;
    const { timeoutMs } = this.#attempts;
    const inner = llm.chat({
      ...this.#params,
      connOptions: { ...this.#attempts, maxRetry: 0 },
    });
    let failure: unknown;
    let responded = false;
    // With no retries the inner stream reports each failure once, as not recoverable.
    const onError = (ev: { error: unknown; recoverable: boolean }): void => {
      if (!ev.recoverable) failure ??= ev.error;
    };
    llm.on('error', onError);
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            if (responded) return;
            failure ??= new APITimeoutError({
              message: `no first token within ${timeoutMs} ms`,
              options: { retryable: true },
            });
            inner.close();
          }, timeoutMs)
        : undefined;
    const onAbort = (): void => inner.close();
    this.abortSignal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const chunk of inner) {
        if (this.abortSignal.aborted) break;
        if (!responded && llmNs.hasResponse(chunk)) {
          responded = true;
          clearTimeout(timer);
        }
        this.queue.put(chunk);
      }
    } catch (err) {
      failure ??= err;
    } finally {
      clearTimeout(timer);
      this.abortSignal.removeEventListener('abort', onAbort);
      llm.off('error', onError);
      inner.close();
    }
    return failure === undefined ? { ok: true } : { ok: false, error: failure, responded };
  }

  private get abortSignal(): AbortSignal {
    return this.abortController.signal;
  }
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

const ttsDefaults: APIConnectOptions = { maxRetry: 0, retryIntervalMs: 0, timeoutMs: 10_000 };

export class FirstAudioDeadlineTTS extends ttsNs.TTS {
  readonly inner: ttsNs.TTS;
  readonly timeoutMs: number;
  label: string;

  constructor(inner: ttsNs.TTS, timeoutMs: number) {
    super(inner.sampleRate, inner.numChannels, inner.capabilities);
    this.inner = inner;
    this.timeoutMs = timeoutMs;
    this.label = inner.label;
    inner.on('metrics_collected', (m) => this.emit('metrics_collected', m));
    inner.on('error', (e) => this.emit('error', e));
  }

  override get model(): string {
    return this.inner.model;
  }

  override get provider(): string {
    return this.inner.provider;
  }

  synthesize(
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ): ttsNs.ChunkedStream {
    return this.inner.synthesize(text, connOptions, abortSignal);
  }

  stream(options?: { connOptions?: APIConnectOptions }): ttsNs.SynthesizeStream {
    return new FirstAudioDeadlineStream(this, options?.connOptions);
  }

  override async close(): Promise<void> {
    await this.inner.close();
  }
}

class FirstAudioDeadlineStream extends ttsNs.SynthesizeStream {
  label = 'voicecare.FirstAudioDeadlineStream';
  readonly #owner: FirstAudioDeadlineTTS;

  constructor(owner: FirstAudioDeadlineTTS, connOptions: APIConnectOptions | undefined) {
    super(owner, connOptions);
    this.#owner = owner;
  }

  protected async run(): Promise<void> {
    const { inner: tts, timeoutMs } = this.#owner;
    const inner = tts.stream({ connOptions: { ...this.connOptions, maxRetry: 0 } });
    let heard = false;
    let expired: (() => void) | undefined;
    const deadline = new Promise<'expired'>((resolve) => {
      expired = () => resolve('expired');
    });
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      if (heard || timer) return;
      timer = setTimeout(() => expired?.(), timeoutMs);
    };
    const forward = (async () => {
      for await (const item of this.input) {
        if (this.abortController.signal.aborted) break;
        if (typeof item === 'symbol') inner.flush();
        else {
          inner.pushText(item);
          if (item.trim()) arm();
        }
      }
      inner.endInput();
    })();
    const output = (async () => {
      for await (const audio of inner) {
        if (this.abortController.signal.aborted) break;
        if (audio !== ttsNs.SynthesizeStream.END_OF_STREAM) {
          heard = true;
          clearTimeout(timer);
        }
        this.queue.put(audio);
      }
      return 'done' as const;
    })();
    try {
      const first = await Promise.race([output, deadline]);
      if (first === 'expired') {
        throw new APIConnectionError({
          message: `no audio within ${timeoutMs} ms of text`,
          options: { retryable: true },
        });
      }
    } finally {
      clearTimeout(timer);
      inner.close();
      await Promise.allSettled([forward, output]);
    }
  }
}
