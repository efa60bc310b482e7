// The real agent worker as a child process, started from the tests' loopback environment. The
// runner itself is product code (sim/agent-worker.ts, also used by `npm start`).
import {
  startAgentWorker as startWorker,
  type AgentWorker,
  type AgentWorkerOptions,
} from '../../sim/agent-worker.ts';
import { TEST_ENV } from './env.ts';

export type { AgentWorker, AgentWorkerOptions };

export function startAgentWorker(options: AgentWorkerOptions): Promise<AgentWorker> {
  return startWorker({
    ...options,
    baseEnv: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...TEST_ENV,
      ...options.baseEnv,
    },
  });
}
