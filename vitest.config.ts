import { defineConfig } from 'vitest/config';

// Two projects: unit tests sit next to the source and need no servers; integration tests in
// tests/ talk to the real local servers, which the global setup starts once per run
// (tests/multinode.test.ts also starts the multi-node stack beside them, in its beforeAll).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            '{agent,dispatcher,prompts,sessions,sim,infra,scripts,bench,eval,api,knowledge,education}/**/*.test.ts',
          ],
          exclude: ['**/*.int.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/**/*.test.ts', '**/*.int.test.ts'],
          exclude: ['node_modules/**'],
          globalSetup: ['tests/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // The machine has 2 cores and each agent session costs most of one; run files serially.
          fileParallelism: false,
        },
      },
    ],
  },
});
