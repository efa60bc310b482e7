/**
 * The whole product on the real local servers, for end-to-end tests: an agent worker (vendors
 * stood in), a dispatcher and the API, sharing one set of topics, so a session created through
 * the API is placed, joined and recorded exactly as in production.
 */
import { runDispatcher, type RunningDispatcher } from '../../dispatcher/index.ts';
import { AgentHarness, type HarnessOptions } from './agent-harness.ts';
import type { AgentWorker } from './agent-worker.ts';
import { startApi, type ApiFixture } from './api.ts';
import { testConfig, uniqueName } from './env.ts';

export interface FullStack {
  h: AgentHarness;
  worker: AgentWorker;
  dispatcher: RunningDispatcher;
  api: ApiFixture;
  close(): Promise<void>;
}

/** Starts worker, dispatcher and API together; `profiles` as for {@link AgentHarness.start}. */
export async function startFullStack(profiles: HarnessOptions['profiles']): Promise<FullStack> {
  const h = await AgentHarness.start({
    profiles,
    // This machine is shared: importing a job process has taken 20-30 s under load here.
    workerEnv: { AGENT_INITIALIZE_PROCESS_TIMEOUT_MS: '90000' },
  });
  const shared = {
    ...h.env,
    AGENT_NAME: h.agentName,
    PUBSUB_REQUESTS_TOPIC: uniqueName('requests'),
    PUBSUB_REQUESTS_SUBSCRIPTION: uniqueName('requests-sub'),
    PUBSUB_DEAD_LETTER_TOPIC: uniqueName('dead'),
    DISPATCHER_HTTP_PORT: '0',
    // A cold worker on a busy 2-core machine can take a while to take its first job.
    DISPATCHER_JOIN_TIMEOUT_MS: '120000',
  };
  const [worker, dispatcher, api] = await Promise.all([
    h.startWorker(),
    runDispatcher(testConfig(shared), { processMetrics: false }),
    startApi(shared),
  ]);
  return {
    h,
    worker,
    dispatcher,
    api,
    close: async () => {
      await api.stop();
      await dispatcher.stop();
      await h.close();
    },
  };
}
