/**
 * Configuration for tests: the same loader production uses, fed an explicit loopback environment.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig, type Config } from '../../infra/config.ts';
import { LOCAL_STACK_ENV } from '../../sim/local-env.ts';

export const TEST_ENV: Readonly<Record<string, string>> = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  ...LOCAL_STACK_ENV,
};

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ ...TEST_ENV, ...overrides });
}

/** A short unique name for rooms, topics, databases: `prefix-<8 hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
