/**
 * The vendor stand-ins, driven by the real official plugins (no LiveKit room involved): what the
 * plugins send must be understood, and what the stand-ins answer must parse into the events,
 * chunks and audio frames the agent pipeline consumes.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { tts } from '@livekit/agents';
import {
  APIConnectionError,
  APIError,
  APIStatusError,
  APITimeoutError,
  DEFAULT_API_CONNECT_OPTIONS,
  initializeLogger,
  llm,
  stt,
} from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as elevenlabs from '@livekit/agents-plugin-elevenlabs';
import * as openai from '@livekit/agents-plugin-openai';
import { AudioFrame } from '@livekit/rtc-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import { ValidationError } from '../infra/errors.ts';
import { testConfig } from './support/env.ts';
import {
  DeepgramStandin,
  OPENAI_TTS_SAMPLE_RATE,
  lastUserText,
  rms,
  startStandins,
  syntheticVoiceDefaults,
  waitUntil,
} from './support/standins/index.ts';
import type { Standins } from './support/standins/index.ts';

const SAMPLE_RATE = 16_000;
const noRetry = { ...DEFAULT_API_CONNECT_OPTIONS, maxRetry: 0 };

let standins: Standins;
const speech = new Map<string, Int16Array>();

/** Real speech from espeak-ng, as 16 kHz mono s16 samples. */
async function speak(text: string): Promise<Int16Array> {
  const espeak = spawn('espeak-ng', ['--stdout', text]);
  const sox = spawn('sox', [
    ...['-t', 'wav', '-'],
    ...['-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', '-e', 'signed', '-t', 'raw', '-'],
  ]);
  espeak.stdout.pipe(sox.stdin);
  const chunks: Buffer[] = [];
  sox.stdout.on('data', (c: Buffer) => chunks.push(c));
  const [code] = (await Promise.all([
    new Promise((resolve) => sox.on('close', resolve)),
    new Promise((resolve) => espeak.on('close', resolve)),
  ])) as [number, number];
  if (code !== 0) throw new Error(`sox exited with ${code}`);
  const bytes = Buffer.concat(chunks);
  return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2).slice();
}

function silence(ms: number): Int16Array {
  return new Int16Array((SAMPLE_RATE * ms) / 1000);
}

function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Span from the first to the last loud 10 ms window, the way the stand-in measures speech. */
function loudSpanMs(samples: Int16Array): number {
  const win = SAMPLE_RATE / 100;
  let first = -1;
  let last = -1;
  for (let i = 0; i + win <= samples.length; i += win) {
    if (rms(samples.subarray(i, i + win)) > 0.01) {
      if (first < 0) first = i;
      last = i + win;
    }
  }
  return ((last - first) / SAMPLE_RATE) * 1000;
}

/** Pushes audio in 20 ms frames, `realtimeFactor` times faster than real time. */
async function feed(
  stream: stt.SpeechStream,
  samples: Int16Array,
  realtimeFactor = 4,
): Promise<void> {
  const frameSamples = SAMPLE_RATE / 50;
  for (let i = 0; i < samples.length; i += frameSamples) {
    // slice, not subarray: the plugin reads the frame's whole underlying buffer
    const data = samples.slice(i, i + frameSamples);
    stream.pushFrame(new AudioFrame(data, SAMPLE_RATE, 1, data.length));
    await sleep(20 / realtimeFactor);
  }
}

interface Collected<T> {
  items: (T & { atMs: number })[];
  done: Promise<void>;
}

/** Gathers what an iterable yields, stamped with its arrival time; symbols (END_OF_STREAM) are skipped. */
function collect<T extends object>(iterable: AsyncIterable<T | symbol>): Collected<T> {
  const items: (T & { atMs: number })[] = [];
  const done = (async () => {
    for await (const item of iterable) {
      if (typeof item === 'object') items.push({ ...item, atMs: Date.now() });
    }
  })();
  return { items, done };
}

function sttEvents(stream: stt.SpeechStream) {
  return collect<stt.SpeechEvent>(stream);
}

function finals(events: stt.SpeechEvent[]): string[] {
  return events
    .filter((e) => e.type === stt.SpeechEventType.FINAL_TRANSCRIPT)
    .map((e) => e.alternatives?.[0]?.text ?? '');
}

function newStt(opts: Partial<deepgram.STTOptions> = {}) {
  return new deepgram.STT({
    apiKey: standins.env.DEEPGRAM_API_KEY,
    baseUrl: standins.env.DEEPGRAM_BASE_URL,
    model: 'nova-3',
    language: 'en-US',
    ...opts,
  });
}

/** Concatenated samples and total duration of synthesized frames. */
function audioOf(frames: { frame: AudioFrame }[]): {
  samples: Int16Array;
  durationMs: number;
  sampleRate: number;
} {
  const samples = concat(...frames.map((f) => f.frame.data));
  const sampleRate = frames[0]?.frame.sampleRate ?? 0;
  return { samples, sampleRate, durationMs: sampleRate ? (samples.length / sampleRate) * 1000 : 0 };
}

function errorsOf(emitter: {
  on(event: 'error', listener: (e: { error: Error; recoverable: boolean }) => void): unknown;
}) {
  const errors: { error: Error; recoverable: boolean }[] = [];
  emitter.on('error', (e) => errors.push(e));
  return errors;
}

function chatContext(user: string): llm.ChatContext {
  const ctx = llm.ChatContext.empty();
  ctx.addMessage({ role: 'system', content: 'You are a careful nurse assistant.' });
  ctx.addMessage({ role: 'user', content: user });
  return ctx;
}

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'fatal' });
  standins = await startStandins();
  for (const text of [
    'yes I take it every morning',
    'about two weeks ago',
    'no chest pain',
    'I also take metformin twice a day',
  ]) {
    speech.set(text, await speak(text));
  }
});

afterAll(async () => {
  await standins?.close();
});

beforeEach(() => {
  standins.reset();
  standins.deepgram.configure({ finalDelayMs: 150, audioGapMs: 250 });
  standins.openai.configure({
    ttftMs: 250,
    interTokenMs: 15,
    ttsTtfbMs: 150,
    ttsRealtimeFactor: 5,
  });
  standins.elevenlabs.configure({ ttfbMs: 150, realtimeFactor: 5 });
});

function spoken(text: string): Int16Array {
  const samples = speech.get(text);
  if (!samples) throw new Error(`no speech prepared for "${text}"`);
  return samples;
}

describe('startStandins', () => {
  it('hands out base URLs in the forms the plugins and our config accept', () => {
    const { env } = standins;
    expect(env.DEEPGRAM_BASE_URL).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(env.OPENAI_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(env.ELEVENLABS_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const config = testConfig({ ...env });
    // The local engines come last in each speech chain, as the fallback.
    expect(config.providers.stt).toEqual(['deepgram', 'local']);
    expect(config.providers.tts).toEqual(['elevenlabs', 'openai', 'local']);
    expect(config.providers.openai.baseUrl).toBe(env.OPENAI_BASE_URL);
  });

  it('rejects bad options with every problem listed', async () => {
    const attempt = DeepgramStandin.start({ finalDelayMs: -1, endSilenceMs: 0, host: '0.0.0.0' });
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await attempt.catch((err: ValidationError) => expect(err.issues).toHaveLength(3));
  });
});

describe('Deepgram stand-in with the real deepgram plugin', () => {
  it('hears the next scripted transcript when a spoken segment ends, and records how it was asked', async () => {
    const audio = spoken('yes I take it every morning');
    standins.deepgram.hear('Yes, I take it every morning.');
    const stream = newStt({ keyterm: ['metformin', 'lisinopril'] }).stream();
    const events = sttEvents(stream);

    await feed(stream, concat(silence(300), audio, silence(1200)));
    await waitUntil(() => finals(events.items).length > 0, { what: 'a final transcript' });
    await waitUntil(() => events.items.some((e) => e.type === stt.SpeechEventType.END_OF_SPEECH));

    const types = events.items.map((e) => e.type);
    const final = events.items.find((e) => e.type === stt.SpeechEventType.FINAL_TRANSCRIPT);
    expect(final?.alternatives?.[0]).toMatchObject({ text: 'Yes, I take it every morning.' });
    expect(final?.alternatives?.[0]?.confidence).toBeCloseTo(0.97);
    expect(final?.alternatives?.[0]?.words?.map((w) => w.text)).toEqual([
      'Yes,',
      'I',
      'take',
      'it',
      'every',
      'morning.',
    ]);
    expect(types.indexOf(stt.SpeechEventType.START_OF_SPEECH)).toBeLessThan(
      types.indexOf(stt.SpeechEventType.FINAL_TRANSCRIPT),
    );
    const interims = events.items
      .filter((e) => e.type === stt.SpeechEventType.INTERIM_TRANSCRIPT)
      .map((e) => e.alternatives?.[0]?.text ?? '');
    expect(interims.length).toBeGreaterThan(0);
    for (const partial of interims) {
      expect('Yes, I take it every morning.'.startsWith(partial)).toBe(true);
    }

    const [connection] = standins.deepgram.connections;
    expect(connection).toMatchObject({
      model: 'nova-3',
      language: 'en-US',
      keyterms: ['metformin', 'lisinopril'],
      interimResults: true,
      sampleRate: 16000,
      authorization: `Token ${standins.env.DEEPGRAM_API_KEY}`,
    });
    expect(connection?.query.encoding).toEqual(['linear16']);
    expect(connection?.audioBytes).toBeGreaterThanOrEqual(audio.byteLength);
    expect(connection?.segments).toHaveLength(1);
    const [segment] = connection?.segments ?? [];
    expect(segment?.endReason).toBe('silence');
    expect(segment?.transcript).toBe('Yes, I take it every morning.');
    expect(
      Math.abs((segment?.endAudioMs ?? 0) - (segment?.startAudioMs ?? 0) - loudSpanMs(audio)),
    ).toBeLessThan(30);
    stream.close();
  });

  it('answers each segment with the next queued transcript in order, and stays silent when none is queued', async () => {
    standins.deepgram.hear('About two weeks ago.');
    standins.deepgram.hear('No chest pain.');
    const stream = newStt().stream();
    const events = sttEvents(stream);

    await feed(
      stream,
      concat(
        spoken('about two weeks ago'),
        silence(1200),
        spoken('no chest pain'),
        silence(1200),
        spoken('yes I take it every morning'),
        silence(1200),
      ),
      6,
    );
    await waitUntil(() => standins.deepgram.connections[0]?.finalsSent === 3, {
      what: 'three finals',
    });

    expect(finals(events.items)).toEqual(['About two weeks ago.', 'No chest pain.']);
    const segments = standins.deepgram.connections[0]?.segments ?? [];
    expect(segments.map((s) => s.transcript)).toEqual([
      'About two weeks ago.',
      'No chest pain.',
      null,
    ]);
    expect(standins.deepgram.pending).toEqual([]);
    stream.close();
  });

  it('sends the final no sooner than finalDelayMs after the segment ends', async () => {
    standins.deepgram.configure({ finalDelayMs: 700 });
    standins.deepgram.hear('No chest pain.');
    const stream = newStt().stream();
    const events = sttEvents(stream);

    await feed(stream, concat(spoken('no chest pain'), silence(1200)));
    await waitUntil(() => finals(events.items).length === 1, { what: 'a final transcript' });

    const segment = standins.deepgram.connections[0]?.segments[0];
    const final = events.items.find((e) => e.type === stt.SpeechEventType.FINAL_TRANSCRIPT);
    // Node timers and performance.now() each round to about a millisecond, so a 700 ms hold can
    // measure a hair under 699; allow that granularity, not a real early final.
    const clockSlackMs = 5;
    expect((segment?.finalSentAtMs ?? 0) - (segment?.endedAtMs ?? 0)).toBeGreaterThanOrEqual(
      700 - clockSlackMs,
    );
    expect((final?.atMs ?? 0) - (segment?.endedAtMs ?? Infinity)).toBeGreaterThanOrEqual(
      700 - clockSlackMs,
    );
    stream.close();
  });

  it('ends the segment at once when the plugin sends Finalize on flush', async () => {
    // a long gap allowance, so only the Finalize can end the segment even on a loaded machine
    standins.deepgram.configure({ audioGapMs: 5_000 });
    standins.deepgram.hear('I also take metformin twice a day.');
    const stream = newStt().stream();
    const events = sttEvents(stream);

    await feed(stream, spoken('I also take metformin twice a day'), 8);
    stream.flush();
    await waitUntil(() => finals(events.items).length === 1, { what: 'a final transcript' });

    const connection = standins.deepgram.connections[0];
    expect(connection?.controlMessages.map((m) => m.type)).toContain('Finalize');
    expect(connection?.segments[0]?.endReason).toBe('finalize');
    expect(finals(events.items)).toEqual(['I also take metformin twice a day.']);
    stream.close();
  });

  it('answers CloseStream with Metadata and a clean close, so the plugin stream ends', async () => {
    const stream = newStt().stream();
    const events = sttEvents(stream);
    await waitUntil(() => standins.deepgram.connections.length === 1, { what: 'a connection' });

    stream.endInput();
    await events.done;

    const connection = standins.deepgram.connections[0];
    expect(connection?.controlMessages.map((m) => m.type)).toContain('CloseStream');
    await waitUntil(() => connection?.closedAtMs !== null, { what: 'the socket to close' });
  });

  it('transcribes a pre-recorded buffer through POST /v1/listen with the next queued transcript', async () => {
    standins.deepgram.hear('About two weeks ago.');
    const audio = spoken('about two weeks ago');
    const event = await newStt().recognize([new AudioFrame(audio, SAMPLE_RATE, 1, audio.length)]);

    expect(event.type).toBe(stt.SpeechEventType.FINAL_TRANSCRIPT);
    expect(event.alternatives?.[0]?.text).toBe('About two weeks ago.');
    expect(event.alternatives?.[0]?.endTime).toBeCloseTo(audio.length / SAMPLE_RATE, 1);
    expect(standins.deepgram.restRequests[0]?.query.model).toEqual(['nova-3']);
  });

  it('refuses a wrong API key with 401, which the plugin reports as an APIStatusError', async () => {
    const plugin = newStt({ apiKey: 'not-the-key' });
    const errors = errorsOf(plugin);
    const stream = plugin.stream({ connOptions: noRetry });

    await waitUntil(() => errors.length > 0, { what: 'an stt error' });
    expect(errors[0]?.error).toBeInstanceOf(APIStatusError);
    expect((errors[0]?.error as APIStatusError).statusCode).toBe(401);
    expect(standins.deepgram.connections).toHaveLength(0);
    expect(standins.deepgram.refusals.map((r) => r.status)).toEqual([401]);
    stream.close();
  });

  it('kills the socket on an injected drop, which plugin 1.9 only logs: no error, no reconnect', async () => {
    // Worth knowing for the agent: after a dropped Deepgram socket the 1.9 plugin keeps writing
    // into the dead socket (its close monitor is not awaited), so transcripts just stop and no
    // error reaches the session or a FallbackAdapter.
    standins.deepgram.injectFault({ kind: 'drop' });
    standins.deepgram.hear('No chest pain.');
    const plugin = newStt();
    const errors = errorsOf(plugin);
    const stream = plugin.stream();
    const events = sttEvents(stream);

    await feed(stream, concat(silence(300), spoken('no chest pain'), silence(1200)), 8);
    const [connection] = standins.deepgram.connections;
    await waitUntil(() => connection?.closedAtMs != null, { what: 'the socket to die' });
    await sleep(1_000);

    expect(connection?.dropped).toBe(true);
    expect(connection?.segments).toEqual([]);
    expect(standins.deepgram.connections).toHaveLength(1);
    expect(finals(events.items)).toEqual([]);
    expect(errors).toEqual([]);
    expect(standins.deepgram.pending).toEqual(['No chest pain.']);
    stream.close();
  });
});

describe('OpenAI stand-in with the real openai plugin', () => {
  const newLlm = () =>
    new openai.LLM({
      apiKey: standins.env.OPENAI_API_KEY,
      baseURL: standins.env.OPENAI_BASE_URL,
      model: 'gpt-4.1-mini',
    });

  it('streams the scripted reply token by token, then usage, and records the request', async () => {
    standins.openai.reply('Thank you. When did you last take your blood pressure pill?');
    const chunks = collect(newLlm().chat({ chatCtx: chatContext('I feel fine today.') }));
    await chunks.done;

    const text = chunks.items.map((c) => c.delta?.content ?? '').join('');
    expect(text).toBe('Thank you. When did you last take your blood pressure pill?');
    expect(chunks.items.filter((c) => c.delta?.content).length).toBeGreaterThan(5);
    expect(chunks.items.at(-1)?.usage?.completionTokens).toBeGreaterThan(0);

    const [request] = standins.openai.chatRequests;
    expect(request).toMatchObject({ model: 'gpt-4.1-mini', stream: true, outcome: 'completed' });
    expect(request?.body.stream_options).toEqual({ include_usage: true });
    expect(request?.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(lastUserText(request?.messages ?? [])).toBe('I feel fine today.');
    expect(request?.authorization).toBe(`Bearer ${standins.env.OPENAI_API_KEY}`);
  });

  it('streams a scripted tool call that the plugin assembles into one function call', async () => {
    standins.openai.reply({
      toolCalls: [{ name: 'record_answer', arguments: { step: 'adherence', answer: 'daily' } }],
    });
    const recordAnswer = llm.tool({
      description: 'Record the patient answer for a protocol step',
      parameters: z.object({ step: z.string(), answer: z.string() }),
      execute: async () => 'recorded',
    });
    const chunks = collect(
      newLlm().chat({
        chatCtx: chatContext('Every day.'),
        toolCtx: { record_answer: recordAnswer },
      }),
    );
    await chunks.done;

    const calls = chunks.items.flatMap((c) => c.delta?.toolCalls ?? []);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.name).toBe('record_answer');
    expect(JSON.parse(calls[0]?.args ?? '{}')).toEqual({ step: 'adherence', answer: 'daily' });
    const request = standins.openai.chatRequests[0];
    expect(request?.tools.map((t) => t.function.name)).toEqual(['record_answer']);
    expect(request?.tools[0]?.function.parameters).toMatchObject({
      properties: { step: { type: 'string' }, answer: { type: 'string' } },
    });
  });

  it('replies through the respond function once the queue is empty', async () => {
    standins.openai.configure({
      respond: (req) => `You said: ${lastUserText(req.messages) ?? ''}`,
    });
    try {
      const chunks = collect(newLlm().chat({ chatCtx: chatContext('no chest pain') }));
      await chunks.done;
      expect(chunks.items.map((c) => c.delta?.content ?? '').join('')).toBe(
        'You said: no chest pain',
      );
    } finally {
      standins.openai.configure({ respond: null });
    }
  });

  it('holds the first token back for ttftMs', async () => {
    standins.openai.configure({ ttftMs: 600 });
    standins.openai.reply('Okay.');
    const startedAt = Date.now();
    const chunks = collect(newLlm().chat({ chatCtx: chatContext('hello') }));
    await chunks.done;

    const first = chunks.items.find((c) => c.delta?.content);
    expect((first?.atMs ?? 0) - startedAt).toBeGreaterThanOrEqual(600);
  });

  it('answers the next request with an injected 500, which surfaces as APIStatusError', async () => {
    standins.openai.injectFault({ kind: 'status', status: 500 });
    const plugin = newLlm();
    const errors = errorsOf(plugin);
    const chunks = collect(plugin.chat({ chatCtx: chatContext('hello'), connOptions: noRetry }));
    await chunks.done;

    expect(errors).toHaveLength(1);
    expect(errors[0]?.error).toBeInstanceOf(APIStatusError);
    expect((errors[0]?.error as APIStatusError).statusCode).toBe(500);
    expect(standins.openai.chatRequests[0]?.outcome).toBe('fault');

    const after = collect(plugin.chat({ chatCtx: chatContext('hello'), connOptions: noRetry }));
    await after.done;
    expect(after.items.map((c) => c.delta?.content ?? '').join('')).toBe('Okay.');
  });

  it('lets the plugin retry past a 429 and succeed', async () => {
    standins.openai.injectFault({ kind: 'status', status: 429 });
    standins.openai.reply('Retried fine.');
    const plugin = newLlm();
    const errors = errorsOf(plugin);
    const chunks = collect(plugin.chat({ chatCtx: chatContext('hello') }));
    await chunks.done;

    expect(chunks.items.map((c) => c.delta?.content ?? '').join('')).toBe('Retried fine.');
    expect(standins.openai.chatRequests.map((r) => r.outcome)).toEqual(['fault', 'completed']);
    expect(errors.map((e) => e.recoverable)).toEqual([true]);
  });

  it('drops the connection mid-stream, which surfaces as a non-retryable APIConnectionError', async () => {
    standins.openai.injectFault({ kind: 'drop', afterChunks: 2 });
    standins.openai.reply('This reply will be cut off after two tokens.');
    const plugin = newLlm();
    const errors = errorsOf(plugin);
    const chunks = collect(plugin.chat({ chatCtx: chatContext('hello') }));
    await chunks.done;

    expect(chunks.items.map((c) => c.delta?.content ?? '').join('')).toBe('This reply');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.error).toBeInstanceOf(APIConnectionError);
    expect((errors[0]?.error as APIConnectionError).retryable).toBe(false);
    expect(standins.openai.chatRequests).toHaveLength(1);
  });

  it('hangs a request until the plugin times out with APITimeoutError', async () => {
    standins.openai.injectFault({ kind: 'hang' });
    const plugin = newLlm();
    const errors = errorsOf(plugin);
    const chunks = collect(
      plugin.chat({ chatCtx: chatContext('hello'), connOptions: { ...noRetry, timeoutMs: 500 } }),
    );
    await chunks.done;

    expect(errors[0]?.error).toBeInstanceOf(APITimeoutError);
    await waitUntil(() => standins.openai.chatRequests[0]?.outcome === 'fault');
  });

  it('answers the models prewarm', async () => {
    const plugin = newLlm();
    plugin.prewarm();
    await waitUntil(() => standins.openai.modelsRequests === 1, { what: 'GET /v1/models' });
  });
});

describe('OpenAI TTS stand-in with the real openai plugin', () => {
  const newTts = () =>
    new openai.TTS({
      apiKey: standins.env.OPENAI_API_KEY,
      baseURL: standins.env.OPENAI_BASE_URL,
      model: 'gpt-4o-mini-tts',
      voice: 'alloy',
    });

  it('returns 24 kHz speech-level audio whose length tracks the text, after ttsTtfbMs', async () => {
    standins.openai.configure({ ttsTtfbMs: 500 });
    const text = 'Good morning. This is your care team calling about your new prescription.';
    const startedAt = Date.now();
    const frames = collect(newTts().synthesize(text));
    await frames.done;

    const audio = audioOf(frames.items);
    expect(audio.sampleRate).toBe(OPENAI_TTS_SAMPLE_RATE);
    const msPerChar = audio.durationMs / text.length;
    expect(msPerChar).toBeGreaterThanOrEqual(55);
    expect(msPerChar).toBeLessThanOrEqual(70);
    expect(rms(audio.samples)).toBeGreaterThan(0.03);
    expect((frames.items[0]?.atMs ?? 0) - startedAt).toBeGreaterThanOrEqual(500);
    expect(standins.openai.speechRequests[0]).toMatchObject({
      input: text,
      model: 'gpt-4o-mini-tts',
      voice: 'alloy',
      responseFormat: 'pcm',
      outcome: 'completed',
    });
  });

  it('gives a long utterance long audio, so there is time to barge in', async () => {
    standins.openai.configure({ ttsRealtimeFactor: 40 });
    const sentence = 'Please remember to take your medication with food every single morning. ';
    const text = sentence.repeat(4).trim();
    const frames = collect(newTts().synthesize(text));
    await frames.done;

    const audio = audioOf(frames.items);
    expect(audio.durationMs).toBeGreaterThan(15_000);
    // the plugin drops the final partial 100 ms frame (it never flushes its AudioByteStream)
    const expectedMs = text.length * syntheticVoiceDefaults.msPerChar;
    expect(audio.durationMs).toBeGreaterThan(expectedMs - 100);
    expect(audio.durationMs).toBeLessThanOrEqual(expectedMs);
    // energy is spread across the utterance, not bunched at the start
    const quarter = Math.floor(audio.samples.length / 4);
    for (let q = 0; q < 4; q++) {
      expect(rms(audio.samples.subarray(q * quarter, (q + 1) * quarter))).toBeGreaterThan(0.03);
    }
  });

  it('answers with an injected 500, which the plugin reports without retrying', async () => {
    // @livekit/agents 1.9 ChunkedStream rethrows a failed attempt from a promise nobody awaits;
    // this listener keeps that unhandled rejection from failing the run (Vitest treats any extra
    // listener as "handled by user code").
    const swallow = () => undefined;
    process.on('unhandledRejection', swallow);
    onTestFinished(async () => {
      await sleep(100);
      process.off('unhandledRejection', swallow);
    });
    standins.openai.injectFault({ kind: 'status', status: 500, endpoint: 'speech' });
    const plugin = newTts();
    const errors = errorsOf(plugin);
    const frames = collect(plugin.synthesize('Hello there.'));
    await frames.done.catch(() => undefined);

    expect(frames.items).toHaveLength(0);
    expect(errors).toHaveLength(1);
    expect((errors[0]?.error as { status?: number }).status).toBe(500);
    expect(standins.openai.speechRequests).toHaveLength(1);
  });
});

describe('ElevenLabs stand-in with the real elevenlabs plugin', () => {
  const newTts = (opts: Partial<elevenlabs.TTSOptions> = {}) =>
    new elevenlabs.TTS({
      apiKey: standins.env.ELEVENLABS_API_KEY,
      baseURL: standins.env.ELEVENLABS_BASE_URL,
      voiceId: 'voice-under-test',
      model: 'eleven_flash_v2_5',
      ...opts,
    });

  it('streams one context per plugin stream, 22.05 kHz speech with word timings, ended by isFinal', async () => {
    const plugin = newTts();
    const text =
      'Good morning, this is your care team. We are calling to check on your new medication.';
    const stream = plugin.stream();
    const frames = collect<tts.SynthesizedAudio>(stream);
    stream.pushText(text);
    stream.endInput();
    await frames.done;

    const audio = audioOf(frames.items);
    expect(audio.sampleRate).toBe(22050);
    expect(audio.durationMs / text.length).toBeGreaterThanOrEqual(55);
    expect(audio.durationMs / text.length).toBeLessThanOrEqual(70);
    expect(rms(audio.samples)).toBeGreaterThan(0.03);
    const words = frames.items.flatMap((f) => f.timedTranscripts ?? []);
    expect(
      words
        .map((w) => w.text)
        .join('')
        .replace(/\s+/g, ' ')
        .trim(),
    ).toBe(text);
    const starts = words.map((w) => w.startTime ?? -1);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(starts.at(-1)).toBeGreaterThan(3);

    const [connection] = standins.elevenlabs.connections;
    expect(connection).toMatchObject({
      voiceId: 'voice-under-test',
      modelId: 'eleven_flash_v2_5',
      outputFormat: 'pcm_22050',
      apiKey: standins.env.ELEVENLABS_API_KEY,
      protocolErrors: [],
    });
    const [context] = connection?.contexts ?? [];
    expect(context?.chunks[0]).toMatchObject({ text: ' ', flush: false });
    expect(context?.chunks.at(-1)).toMatchObject({ text: '', flush: true });
    expect(context?.text.replace(/\s+/g, ' ').trim()).toBe(text);
    expect(context?.closeRequestedAtMs).not.toBeNull();
    expect(context?.finalSentAtMs).not.toBeNull();
    await plugin.close();
  });

  it('reuses one socket for consecutive streams, one context each', async () => {
    const plugin = newTts();
    for (const text of ['First question.', 'Second question.']) {
      const stream = plugin.stream();
      const frames = collect<tts.SynthesizedAudio>(stream);
      stream.pushText(text);
      stream.endInput();
      await frames.done;
      expect(frames.items.length).toBeGreaterThan(0);
    }
    expect(standins.elevenlabs.connections).toHaveLength(1);
    expect(standins.elevenlabs.contexts.map((c) => c.text.trim())).toEqual([
      'First question.',
      'Second question.',
    ]);
    await plugin.close();
  });

  it('holds the first audio back for ttfbMs', async () => {
    standins.elevenlabs.configure({ ttfbMs: 600 });
    const plugin = newTts();
    const stream = plugin.stream();
    const frames = collect<tts.SynthesizedAudio>(stream);
    const startedAt = Date.now();
    stream.pushText('How are you feeling today?');
    stream.endInput();
    await frames.done;

    expect((frames.items[0]?.atMs ?? 0) - startedAt).toBeGreaterThanOrEqual(600);
    const generation = standins.elevenlabs.contexts[0]?.generations[0];
    expect(
      (generation?.firstAudioAtMs ?? 0) - (generation?.triggeredAtMs ?? Infinity),
    ).toBeGreaterThanOrEqual(599);
    await plugin.close();
  });

  it('speaks faster, so shorter, when the voice settings ask for speed 1.2', async () => {
    const text = 'Please take one tablet with water.';
    const durations: number[] = [];
    for (const speed of [1, 1.2]) {
      const plugin = newTts({ voiceSettings: { stability: 0.5, similarity_boost: 0.75, speed } });
      const stream = plugin.stream();
      const frames = collect<tts.SynthesizedAudio>(stream);
      stream.pushText(text);
      stream.endInput();
      await frames.done;
      durations.push(audioOf(frames.items).durationMs);
      await plugin.close();
    }
    expect(standins.elevenlabs.contexts.map((c) => c.voiceSettings)).toMatchObject([
      { speed: 1 },
      { speed: 1.2 },
    ]);
    expect((durations[1] ?? 0) / (durations[0] ?? 1)).toBeCloseTo(1 / 1.2, 1);
  });

  it('synthesize() goes through the HTTP stream endpoint and returns the same voice', async () => {
    const plugin = newTts();
    const text = 'Your next appointment is on Tuesday.';
    const frames = collect(plugin.synthesize(text));
    await frames.done;

    const audio = audioOf(frames.items);
    expect(audio.sampleRate).toBe(22050);
    expect(audio.durationMs / text.length).toBeGreaterThanOrEqual(55);
    expect(rms(audio.samples)).toBeGreaterThan(0.03);
    expect(standins.elevenlabs.httpRequests[0]).toMatchObject({
      path: '/v1/text-to-speech/voice-under-test/stream',
      text,
      modelId: 'eleven_flash_v2_5',
      outcome: 'completed',
    });
    expect(standins.elevenlabs.httpRequests[0]?.query.output_format).toBe('pcm_22050');
  });

  it('closes the socket mid-utterance on an injected fault, which surfaces as APIStatusError', async () => {
    standins.elevenlabs.injectFault({ kind: 'close', code: 1011, afterAudioChunks: 1 });
    const plugin = newTts();
    const errors = errorsOf(plugin);
    const stream = plugin.stream({ connOptions: noRetry });
    const frames = collect<tts.SynthesizedAudio>(stream);
    stream.pushText('This sentence is cut off by the server.');
    stream.endInput();
    await frames.done;

    expect(errors).toHaveLength(1);
    expect(errors[0]?.error).toBeInstanceOf(APIStatusError);
    expect((errors[0]?.error as APIStatusError).statusCode).toBe(1011);
    await waitUntil(() => standins.elevenlabs.connections[0]?.closeCode === 1011, {
      what: 'the socket to close with 1011',
    });
    await plugin.close();
  });

  it('answers a context with an injected error message, which surfaces as an APIError', async () => {
    standins.elevenlabs.injectFault({ kind: 'error', message: 'quota exceeded' });
    const plugin = newTts();
    const errors = errorsOf(plugin);
    const stream = plugin.stream({ connOptions: noRetry });
    const frames = collect<tts.SynthesizedAudio>(stream);
    stream.pushText('This sentence never gets audio.');
    stream.endInput();
    await frames.done;

    expect(frames.items).toHaveLength(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.error).toBeInstanceOf(APIError);
    expect(standins.elevenlabs.contexts[0]?.error).toBe('quota exceeded');
    await plugin.close();
  });
});
