import { describe, expect, it } from 'vitest';
import { loadConfig } from '../infra/config.ts';
import { serverOptions } from './worker.ts';

describe('serverOptions', () => {
  it('passes the configured idle processes to the framework, 0 included (its default would be min(cores, 4))', () => {
    for (const n of [0, 1, 3]) {
      const cfg = loadConfig({ AGENT_NUM_IDLE_PROCESSES: String(n) });
      expect(serverOptions(cfg).numIdleProcesses).toBe(n);
    }
  });
});
