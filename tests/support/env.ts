/**
 * Configuration for tests: the same loader production uses, fed an explicit loopback environment.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig, type Config } from '../../infra/config.ts';

export const TEST_ENV: Readonly<Record<string, string>> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  LIVEKIT_URL: 'ws://127.0.0.1:7880',
  LIVEKIT_API_KEY: 'devkey',
  LIVEKIT_API_SECRET: 'secret',
  GOOGLE_CLOUD_PROJECT: 'voicecare-local',
  PUBSUB_EMULATOR_HOST: '127.0.0.1:8085',
  MONGODB_URL: 'mongodb://127.0.0.1:27017',
};

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ ...TEST_ENV, ...overrides });
}

/** A short unique name for rooms, topics, databases: `prefix-<8 hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
