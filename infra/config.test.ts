import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { ConfigError } from './errors.ts';
import { CONFIG_VARIABLES, loadConfig } from './config.ts';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives loopback development defaults with no environment', () => {
    const cfg = loadConfig({});
    expect(cfg.livekit.url).toBe('ws://127.0.0.1:7880');
    expect(cfg.mongo.url).toBe('mongodb://127.0.0.1:27017');
    expect(cfg.agent.drainTimeoutMs + cfg.agent.shutdownTimeoutMs).toBeLessThan(10_000);
    expect(cfg.providers.stt).toEqual(['local']);
    expect(cfg.providers.llm).toEqual(['local']);
    expect(cfg.providers.tts).toEqual(['local']);
  });

  it('prewarms four idle job processes, or one per core on bigger machines, unless told, and honours 0', () => {
    expect(loadConfig({}).agent.numIdleProcesses).toBe(Math.max(4, availableParallelism()));
    expect(loadConfig({ AGENT_MAX_JOBS: '2' }).agent.numIdleProcesses).toBe(2);
    expect(loadConfig({ AGENT_NUM_IDLE_PROCESSES: '3' }).agent.numIdleProcesses).toBe(3);
    expect(loadConfig({ AGENT_NUM_IDLE_PROCESSES: '0' }).agent.numIdleProcesses).toBe(0);
  });

  it('returns a deeply frozen object', () => {
    const cfg = loadConfig({});
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.providers.deepgram)).toBe(true);
    expect(() => {
      (cfg.livekit as { url: string }).url = 'x';
    }).toThrow(TypeError);
  });

  it('reports every bad variable on its own line, by name', () => {
    const problems = problemsOf({
      LIVEKIT_URL: 'not a url',
      DISPATCHER_MAX_IN_FLIGHT: 'many',
      LOG_LEVEL: 'loud',
    });
    expect(problems).toHaveLength(3);
    expect(problems.some((p) => p.startsWith('LIVEKIT_URL:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('DISPATCHER_MAX_IN_FLIGHT:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('LOG_LEVEL:'))).toBe(true);
  });

  it('fails at startup when a configured provider has no key', () => {
    const problems = problemsOf({ STT_PROVIDERS: 'deepgram', TTS_PROVIDERS: 'elevenlabs,openai' });
    expect(problems).toEqual([
      'DEEPGRAM_API_KEY: is required because deepgram is a configured provider',
      'ELEVENLABS_API_KEY: is required because elevenlabs is a configured provider',
      'OPENAI_API_KEY: is required because openai is a configured provider',
    ]);
  });

  it('rejects a time zone that does not exist', () => {
    expect(problemsOf({ AGENT_TIME_ZONE: 'Mars/Olympus' })).toEqual([
      'AGENT_TIME_ZONE: expected an IANA time zone such as America/New_York',
    ]);
  });

  it('rejects an unknown provider name', () => {
    const problems = problemsOf({ STT_PROVIDERS: 'whisper' });
    expect(problems[0]).toMatch(/^STT_PROVIDERS: expected a comma list of deepgram/);
  });

  it('builds the provider chain from the keys that are present', () => {
    const cfg = loadConfig({
      ELEVENLABS_API_KEY: 'k1',
      OPENAI_API_KEY: 'k2',
      DEEPGRAM_API_KEY: 'k3',
    });
    expect(cfg.providers.stt).toEqual(['deepgram', 'local']);
    expect(cfg.providers.llm).toEqual(['openai']);
    expect(cfg.providers.tts).toEqual(['elevenlabs', 'openai', 'local']);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ LIVEKIT_URL: '' }).livekit.url).toBe('ws://127.0.0.1:7880');
  });

  it('parses the dispatcher settings, with its default profile list', () => {
    const defaults = loadConfig({}).dispatcher;
    expect(defaults).toMatchObject({
      httpHost: '127.0.0.1',
      leaseMs: 30_000,
      roomEmptyTimeoutMs: 300_000,
      roomDepartureTimeoutMs: 20_000,
    });
    const cfg = loadConfig({
      DISPATCHER_HTTP_HOST: '0.0.0.0',
      DISPATCHER_LEASE_MS: '12000',
    });
    expect(cfg.dispatcher).toMatchObject({
      httpHost: '0.0.0.0',
      leaseMs: 12_000,
    });
  });

  it('listens on 0.0.0.0:$PORT when the platform sets PORT, unless the service names its own', () => {
    const local = loadConfig({});
    expect(local.dispatcher).toMatchObject({ httpHost: '127.0.0.1', httpPort: 8080 });
    expect(local.agent).toMatchObject({ httpHost: '127.0.0.1', httpPort: 8081 });
    const cloud = loadConfig({ PORT: '9000' });
    expect(cloud.dispatcher).toMatchObject({ httpHost: '0.0.0.0', httpPort: 9000 });
    expect(cloud.agent).toMatchObject({ httpHost: '0.0.0.0', httpPort: 9000 });
    const own = loadConfig({ PORT: '9000', DISPATCHER_HTTP_PORT: '7000', AGENT_HTTP_HOST: '::' });
    expect(own.dispatcher.httpPort).toBe(7000);
    expect(own.agent.httpHost).toBe('::');
  });

  it('names every variable it reads, for deployment manifests to be checked against', () => {
    expect(CONFIG_VARIABLES).toContain('PORT');
    expect(CONFIG_VARIABLES).toContain('AGENT_DRAIN_TIMEOUT_MS');
    expect(CONFIG_VARIABLES).not.toContain('HOME');
  });

  it('rejects a dispatcher lease too short to renew', () => {
    const problems = problemsOf({ DISPATCHER_LEASE_MS: '500' });
    expect(problems).toEqual(['DISPATCHER_LEASE_MS: expected at least 3000 ms']);
  });
});
