/**
 * The bounded-silence wrappers against small fakes in the framework's own types: a holding
 * line when no first token comes, the LLM chain moving on after its attempt timeout, and the
 * TTS chain moving on when a voice has text and no audio.
 */
import {
  APIConnectionError,
  APIStatusError,
  APITimeoutError,
  initializeLogger,
  llm as llmNs,
  tts as ttsNs,
  type APIConnectOptions,
} from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { FirstAudioDeadlineTTS, FirstTokenDeadlineLLM, HoldingLineLLM } from './resilience.ts';

initializeLogger({ pretty: false, level: 'silent' });

/** Answers `text` after `delayMs`; `hang` answers nothing until its attempt timeout. */
class FakeLLM extends llmNs.LLM {
  calls = 0;
  constructor(
    readonly text: string,
    readonly delayMs: number,
    readonly hang = false,
  ) {
    super();
  }
  label(): string {
    return `fake(${this.text})`;
  }
  chat(p: Parameters<llmNs.LLM['chat']>[0]): llmNs.LLMStream {
    this.calls += 1;
    return new FakeLLMStream(this, p.chatCtx, p.connOptions);
  }
}

class FakeLLMStream extends llmNs.LLMStream {
  constructor(
    readonly owner: FakeLLM,
    chatCtx: llmNs.ChatContext,
    connOptions: APIConnectOptions | undefined,
  ) {
    super(owner, {
      chatCtx,
      connOptions: connOptions ?? { maxRetry: 0, retryIntervalMs: 0, timeoutMs: 10_000 },
    });
  }
  protected async run(): Promise<void> {
    const signal = this.abortController.signal;
    const waitMs = this.owner.hang ? this.connOptions.timeoutMs : this.owner.delayMs;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, waitMs);
      signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
    if (signal.aborted) return;
    if (this.owner.hang) throw new APITimeoutError({ options: { retryable: true } });
    this.queue.put({ id: 'c1', delta: { role: 'assistant', content: this.owner.text } });
  }
}

async function collect(stream: llmNs.LLMStream): Promise<{ texts: string[]; atMs: number[] }> {
  const started = performance.now();
  const texts: string[] = [];
  const atMs: number[] = [];
  for await (const chunk of stream) {
    if (chunk.delta?.content) {
      texts.push(chunk.delta.content);
      atMs.push(performance.now() - started);
    }
  }
  return { texts, atMs };
}

const ctx = () => llmNs.ChatContext.empty();

describe('HoldingLineLLM', () => {
  it('speaks the holding line first when no token came within holdAfterMs', async () => {
    let holds = 0;
    const llm = new HoldingLineLLM(new FakeLLM('Here is your answer.', 400), {
      holdAfterMs: 100,
      line: 'One moment.',
      onHold: () => void (holds += 1),
    });
    const { texts, atMs } = await collect(llm.chat({ chatCtx: ctx() }));
    expect(texts).toEqual(['One moment. ', 'Here is your answer.']);
    expect(atMs[0]).toBeLessThan(350);
    expect(holds).toBe(1);
  });

  it('says nothing extra when the first token is in time', async () => {
    const llm = new HoldingLineLLM(new FakeLLM('Quick.', 10), {
      holdAfterMs: 300,
      line: 'One moment.',
    });
    expect((await collect(llm.chat({ chatCtx: ctx() }))).texts).toEqual(['Quick.']);
  });

  it('with a hung primary, holds, then the chain answers from the next LLM after the attempt timeout', async () => {
    const hung = new FakeLLM('never', 0, true);
    const backup = new FakeLLM('From the backup.', 20);
    const chain = new llmNs.FallbackAdapter({
      llms: [hung, backup],
      attemptTimeout: 0.4,
      maxRetryPerLLM: 0,
    });
    const llm = new HoldingLineLLM(chain, { holdAfterMs: 150, line: 'One moment.' });
    const { texts, atMs } = await collect(llm.chat({ chatCtx: ctx() }));
    expect(texts).toEqual(['One moment. ', 'From the backup.']);
    expect(atMs[1]).toBeGreaterThanOrEqual(380);
    expect(atMs[1]).toBeLessThan(3000);
    // The adapter probes the failed primary again in the background (its recovery check).
    expect(hung.calls).toBeGreaterThanOrEqual(1);
    expect(backup.calls).toBe(1);
  });
});

describe('HoldingLineLLM when the whole chain fails', () => {
  const failing = () =>
    new llmNs.FallbackAdapter({
      llms: [new FakeLLM('never', 0, true), new FakeLLM('never either', 0, true)],
      attemptTimeout: 0.2,
      maxRetryPerLLM: 0,
      retryInterval: 0,
    });

  it('speaks the failure line instead of leaving the turn unanswered, and reports it', async () => {
    const failures: unknown[] = [];
    const llm = new HoldingLineLLM(failing(), {
      holdAfterMs: 100,
      line: 'One moment.',
      failureLine: 'Sorry, could you say that again?',
      onFailure: (err) => failures.push(err),
    });
    const { texts, atMs } = await collect(llm.chat({ chatCtx: ctx() }));
    // The holding line while the chain tried, then the failure line once it gave up.
    expect(texts).toEqual(['One moment. ', 'Sorry, could you say that again?']);
    expect(atMs[1]).toBeLessThan(3000);
    expect(failures).toHaveLength(1);
  });

  it('without a failure line, the turn stays unanswered as before', async () => {
    const llm = new HoldingLineLLM(failing(), { holdAfterMs: 0, line: 'One moment.' });
    expect((await collect(llm.chat({ chatCtx: ctx() }))).texts).toEqual([]);
  });

  it('a reply already under way is not apologised over', async () => {
    class HalfThenFail extends FakeLLM {
      override chat(p: Parameters<llmNs.LLM['chat']>[0]): llmNs.LLMStream {
        return new (class extends FakeLLMStream {
          protected override async run(): Promise<void> {
            this.queue.put({ id: 'c1', delta: { role: 'assistant', content: 'Your next' } });
            await new Promise((r) => setTimeout(r, 20));
            throw new APITimeoutError({ options: { retryable: false } });
          }
        })(this, p.chatCtx, p.connOptions);
      }
    }
    const failures: unknown[] = [];
    const llm = new HoldingLineLLM(new HalfThenFail('x', 0), {
      holdAfterMs: 0,
      line: 'One moment.',
      failureLine: 'Sorry, could you say that again?',
      onFailure: (err) => failures.push(err),
    });
    expect((await collect(llm.chat({ chatCtx: ctx() }))).texts).toEqual(['Your next']);
    expect(failures).toEqual([]);
  });
});

/**
 * A provider whose attempts go as scripted, one step per request: `ok` answers, `fail` is a
 * retryable 503 before any token, `silent` opens and never sends a token, `drop` sends part of
 * the reply and then fails.
 */
type Step = 'ok' | 'fail' | 'silent' | 'drop';

class ScriptedLLM extends llmNs.LLM {
  requests = 0;
  constructor(
    readonly text: string,
    readonly steps: Step[],
  ) {
    super();
  }
  label(): string {
    return `scripted(${this.steps.join(',')})`;
  }
  chat(p: Parameters<llmNs.LLM['chat']>[0]): llmNs.LLMStream {
    return new ScriptedStream(this, p.chatCtx, p.connOptions);
  }
}

class ScriptedStream extends llmNs.LLMStream {
  constructor(
    readonly owner: ScriptedLLM,
    chatCtx: llmNs.ChatContext,
    connOptions: APIConnectOptions | undefined,
  ) {
    super(owner, {
      chatCtx,
      connOptions: connOptions ?? { maxRetry: 0, retryIntervalMs: 0, timeoutMs: 10_000 },
    });
  }
  protected async run(): Promise<void> {
    const step = this.owner.steps[this.owner.requests] ?? 'ok';
    this.owner.requests += 1;
    const signal = this.abortController.signal;
    await new Promise((r) => setTimeout(r, 10));
    if (step === 'fail') {
      throw new APIStatusError({ message: 'unavailable', options: { statusCode: 503 } });
    }
    if (step === 'silent') {
      await new Promise<void>((resolve) =>
        signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      return;
    }
    const [head, tail] = [this.owner.text.slice(0, 5), this.owner.text.slice(5)];
    this.queue.put({ id: 'c1', delta: { role: 'assistant', content: head } });
    if (step === 'drop') {
      throw new APIConnectionError({ message: 'socket closed' });
    }
    this.queue.put({ id: 'c1', delta: { role: 'assistant', content: tail } });
  }
}

/** The production shape: holding line over the fallback chain over bounded providers. */
function guarded(providers: llmNs.LLM[], opts: { attemptTimeoutS: number; retries: number }) {
  const failures: unknown[] = [];
  const llm = new HoldingLineLLM(
    new llmNs.FallbackAdapter({
      llms: providers.map((p) => new FirstTokenDeadlineLLM(p)),
      attemptTimeout: opts.attemptTimeoutS,
      maxRetryPerLLM: opts.retries,
      retryInterval: 0,
    }),
    {
      holdAfterMs: 0,
      line: 'One moment.',
      failureLine: 'Sorry, could you say that again?',
      onFailure: (err) => failures.push(err),
    },
  );
  return { llm, failures };
}

describe('FirstTokenDeadlineLLM in the chain', () => {
  it('a reply after a failed first attempt is said once', async () => {
    const { llm, failures } = guarded([new ScriptedLLM('Noted, thank you.', ['fail', 'ok'])], {
      attemptTimeoutS: 1,
      retries: 1,
    });
    expect((await collect(llm.chat({ chatCtx: ctx() }))).texts.join('')).toBe('Noted, thank you.');
    expect(failures).toEqual([]);
  });

  it('an attempt that opens and stays silent fails at the attempt timeout and is retried', async () => {
    const provider = new ScriptedLLM('Here you are.', ['silent', 'ok']);
    const { llm } = guarded([provider], { attemptTimeoutS: 0.3, retries: 1 });
    const { texts, atMs } = await collect(llm.chat({ chatCtx: ctx() }));
    expect(texts.join('')).toBe('Here you are.');
    expect(atMs[0]).toBeGreaterThanOrEqual(280);
    expect(atMs[0]).toBeLessThan(1500);
    expect(provider.requests).toBeGreaterThanOrEqual(2);
  });

  it('a silent primary with no retries moves on to the next provider', async () => {
    const primary = new ScriptedLLM('never', ['silent', 'silent', 'silent']);
    const backup = new ScriptedLLM('From the backup.', ['ok']);
    const { llm } = guarded([primary, backup], { attemptTimeoutS: 0.3, retries: 0 });
    const { texts, atMs } = await collect(llm.chat({ chatCtx: ctx() }));
    expect(texts.join('')).toBe('From the backup.');
    expect(atMs[0]).toBeLessThan(1500);
  });

  it('a reply that broke off is not asked again, and is not apologised over', async () => {
    const provider = new ScriptedLLM('Your next dose is at noon.', ['drop', 'ok']);
    const { llm, failures } = guarded([provider], { attemptTimeoutS: 1, retries: 1 });
    expect((await collect(llm.chat({ chatCtx: ctx() }))).texts.join('')).toBe('Your ');
    expect(provider.requests).toBe(1);
    expect(failures).toEqual([]);
  });

  it('when every attempt fails, the failure line is said once, in one pass of the chain', async () => {
    const provider = new ScriptedLLM('never', ['fail', 'fail', 'fail', 'fail', 'fail']);
    const { llm, failures } = guarded([provider], { attemptTimeoutS: 1, retries: 1 });
    const { texts, atMs } = await collect(llm.chat({ chatCtx: ctx() }));
    expect(texts).toEqual(['Sorry, could you say that again?']);
    expect(atMs[0]).toBeLessThan(1000);
    expect(failures).toHaveLength(1);
    // Two attempts (one retry); the adapter's recovery probe may add one in the background.
    expect(provider.requests).toBeGreaterThanOrEqual(2);
    expect(provider.requests).toBeLessThanOrEqual(3);
  });
});

const RATE = 24_000;

/** Streams 100 ms of a constant sample per flushed segment; `silent` never sends any. */
class FakeTTS extends ttsNs.TTS {
  label: string;
  constructor(
    readonly sample: number,
    readonly silent: boolean,
  ) {
    super(RATE, 1, { streaming: true });
    this.label = `fake-tts(${sample})`;
  }
  synthesize(): ttsNs.ChunkedStream {
    throw new Error('not used');
  }
  stream(options?: { connOptions?: APIConnectOptions }): ttsNs.SynthesizeStream {
    return new FakeSynthStream(this, options?.connOptions);
  }
}

class FakeSynthStream extends ttsNs.SynthesizeStream {
  label = 'fake-synth';
  constructor(
    readonly owner: FakeTTS,
    connOptions: APIConnectOptions | undefined,
  ) {
    super(owner, connOptions);
  }
  protected async run(): Promise<void> {
    let text = '';
    for await (const item of this.input) {
      if (typeof item === 'string') {
        text += item;
        continue;
      }
      if (!text.trim()) continue;
      if (this.owner.silent) {
        await new Promise<void>((resolve) =>
          this.abortController.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
        return;
      }
      const samples = RATE / 10;
      const data = new Int16Array(samples).fill(this.owner.sample);
      this.queue.put({
        requestId: 'r',
        segmentId: 's',
        frame: new AudioFrame(data, RATE, 1, samples),
        final: true,
      });
      text = '';
    }
    this.queue.put(ttsNs.SynthesizeStream.END_OF_STREAM);
  }
}

describe('FirstAudioDeadlineTTS', () => {
  it('lets the TTS chain fail over when a voice has text and no audio by the deadline', async () => {
    const chain = new ttsNs.FallbackAdapter({
      ttsInstances: [
        new FirstAudioDeadlineTTS(new FakeTTS(111, true), 300),
        new FirstAudioDeadlineTTS(new FakeTTS(222, false), 300),
      ],
      maxRetryPerTTS: 0,
    });
    chain.on('error', () => undefined);
    const stream = chain.stream();
    const started = performance.now();
    stream.pushText('Hello there.');
    stream.flush();
    stream.endInput();
    const firstSamples: number[] = [];
    let firstAt: number | undefined;
    for await (const audio of stream) {
      if (audio === ttsNs.SynthesizeStream.END_OF_STREAM) break;
      firstAt ??= performance.now() - started;
      firstSamples.push(audio.frame.data[0]!);
    }
    expect(firstSamples[0]).toBe(222);
    expect(firstAt).toBeGreaterThanOrEqual(280);
    expect(firstAt).toBeLessThan(2000);
    await chain.close();
  });

  it('passes audio through untouched when the voice answers in time', async () => {
    const tts = new FirstAudioDeadlineTTS(new FakeTTS(333, false), 300);
    const stream = tts.stream();
    stream.pushText('Hi.');
    stream.flush();
    stream.endInput();
    const samples: number[] = [];
    for await (const audio of stream) {
      if (audio === ttsNs.SynthesizeStream.END_OF_STREAM) break;
      samples.push(audio.frame.data[0]!);
    }
    expect(samples).toEqual([333]);
  });
});
