/**
 * The stand-ins' stall faults the chaos suite needs (npm run chaos): a WebSocket handshake that
 * is never answered (Deepgram, ElevenLabs), and a chat completion that answers 200, opens its
 * event stream and sends nothing. Driven with plain clients: what is checked is the wire.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startStandins, type Standins } from './support/standins/index.ts';

let standins: Standins;

beforeAll(async () => {
  standins = await startStandins();
});

afterAll(async () => {
  await standins?.close();
});

/** Opens a socket; resolves 'open' or the handshake error's message. */
function connect(url: string, headers: Record<string, string>, timeoutMs: number) {
  return new Promise<string>((resolve) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: timeoutMs });
    ws.once('open', () => {
      ws.close();
      resolve('open');
    });
    ws.once('error', (err) => resolve(err.message));
  });
}

const deepgramUrl = () =>
  `${standins.urls.deepgram}/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000&channels=1`;
const elevenlabsUrl = () =>
  `${standins.urls.elevenlabs.replace(/^http/, 'ws')}/text-to-speech/v1-voice/multi-stream-input?model_id=eleven_flash_v2_5&output_format=pcm_22050`;

describe('handshake hang', () => {
  it('leaves the next Deepgram handshake unanswered until the client times out, then accepts again', async () => {
    const auth = { authorization: `Token ${standins.env.DEEPGRAM_API_KEY}` };
    standins.deepgram.injectFault({ kind: 'hang' });
    const t0 = performance.now();
    expect(await connect(deepgramUrl(), auth, 600)).toMatch(/handshake has timed out/);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(550);
    expect(standins.deepgram.connections).toHaveLength(0);
    expect(await connect(deepgramUrl(), auth, 2000)).toBe('open');
  });

  it('leaves the next ElevenLabs handshake unanswered, then accepts again', async () => {
    const key = { 'xi-api-key': standins.env.ELEVENLABS_API_KEY };
    standins.elevenlabs.injectFault({ kind: 'hang' });
    expect(await connect(elevenlabsUrl(), key, 600)).toMatch(/handshake has timed out/);
    expect(await connect(elevenlabsUrl(), key, 2000)).toBe('open');
    expect(standins.elevenlabs.connections).toHaveLength(1);
  });

  it('frees a held handshake when the stand-in closes', async () => {
    const own = await startStandins();
    own.deepgram.injectFault({ kind: 'hang' });
    const auth = { authorization: `Token ${own.env.DEEPGRAM_API_KEY}` };
    const url = `${own.urls.deepgram}/v1/listen?sample_rate=16000&channels=1`;
    const pending = connect(url, auth, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    await own.close();
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(await pending).not.toBe('open');
  });
});

describe('silent chat stream', () => {
  const chat = (signal: AbortSignal) =>
    fetch(`${standins.urls.openai}/chat/completions`, {
      method: 'POST',
      signal,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${standins.env.OPENAI_API_KEY}`,
      },
      body: JSON.stringify({
        model: 'gpt-4.1-mini',
        stream: true,
        messages: [{ role: 'user', content: 'hello' }],
      }),
    });

  it('answers 200 with an event stream and sends nothing on it; the next request streams', async () => {
    standins.openai.injectFault({ kind: 'silent', endpoint: 'chat' });
    const abort = new AbortController();
    const res = await chat(abort.signal);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const first = await Promise.race([
      reader.read().then(() => 'data'),
      new Promise((r) => setTimeout(() => r('nothing'), 1000)),
    ]);
    expect(first).toBe('nothing');
    expect(standins.openai.chatRequests.at(-1)?.outcome).toBe('fault');
    abort.abort();
    await reader.cancel().catch(() => undefined);

    const next = await chat(AbortSignal.timeout(5000));
    expect(await next.text()).toContain('[DONE]');
  });
});
