import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../infra/config.ts';
import { ConfigError } from '../../infra/errors.ts';
import { usableProviders, type LocalEngineProbe } from './local-engines.ts';

const none: LocalEngineProbe = {
  stt: () => 'pocketsphinx is not installed',
  tts: () => 'espeak-ng is not installed',
};
const testConfigFrom = (env: Record<string, string>) => loadConfig(env).providers;
const all: LocalEngineProbe = { stt: () => undefined, tts: () => undefined };

describe('which providers can run on this machine', () => {
  it('keeps the local engines where they are installed', () => {
    const cfg = testConfigFrom({ DEEPGRAM_API_KEY: 'k', OPENAI_API_KEY: 'k' });
    const r = usableProviders(cfg, all);
    expect(r.providers.stt).toEqual(['deepgram', 'local']);
    expect(r.providers.tts).toEqual(['openai', 'local']);
    expect(r.dropped).toEqual([]);
  });

  it('drops missing local fallbacks from the cloud chains at startup, with a reason to warn', () => {
    const cfg = testConfigFrom({ DEEPGRAM_API_KEY: 'k', OPENAI_API_KEY: 'k' });
    const r = usableProviders(cfg, none);
    expect(r.providers.stt).toEqual(['deepgram']);
    expect(r.providers.tts).toEqual(['openai']);
    expect(r.providers.llm).toEqual(['openai']);
    expect(r.dropped.map((d) => d.stage)).toEqual(['stt', 'tts']);
    expect(r.dropped[0]?.reason).toMatch(/pocketsphinx/);
  });

  it('refuses to start when a missing engine is the only provider of a stage', () => {
    const cfg = testConfigFrom({});
    expect(() => usableProviders(cfg, none)).toThrow(ConfigError);
    try {
      usableProviders(cfg, none);
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        'STT_PROVIDERS: only the local engine is configured, and pocketsphinx is not installed',
        'TTS_PROVIDERS: only the local engine is configured, and espeak-ng is not installed',
      ]);
    }
  });

  it('keeps the dialogue engine, which needs nothing installed', () => {
    const cfg = testConfigFrom({ DEEPGRAM_API_KEY: 'k', ELEVENLABS_API_KEY: 'k' });
    expect(usableProviders(cfg, none).providers.llm).toEqual(['local']);
  });
});
