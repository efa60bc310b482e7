import { defineConfig } from 'vitest/config';

// Two projects: unit tests sit next to the source and need no servers; integration tests in
// tests/ talk to the real local servers, which the global setup starts once per run.
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
          // Its own project until its node-death and dispatcher-kill cases hold (issue 18).
          exclude: ['node_modules/**', 'tests/multinode.test.ts'],
          globalSetup: ['tests/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // The machine has 2 cores and each agent session costs most of one; run files serially.
          fileParallelism: false,
        },
      },
      {
        // Several LiveKit nodes sharing a Redis, two dispatchers (issue 18). Not in `npm test`
        // yet: two of its four cases fail some runs here (see the issue note); run it with
        // `npm run test:multinode`.
        test: {
          name: 'multinode',
          include: ['tests/multinode.test.ts'],
          globalSetup: ['tests/support/global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 240_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
