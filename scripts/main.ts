/**
 * The README's first command: the whole stack on this machine, then a real patient call.
 *
 *   1. the local servers (LiveKit, Pub/Sub emulator, FerretDB) and the clinician profiles;
 *   2. the dispatcher and an agent worker;
 *   3. a session request for the `intake` profile, published to Pub/Sub;
 *   4. a simulated patient takes the call; the conversation prints as MongoDB stores it;
 *   5. the captured answers, and where the transcript lives;
 *   6. keeps serving until Ctrl-C (place more calls with `npm run call`).
 *
 * `--once` exits after the first call (what the headless test and CI use).
 */
import { parseArgs } from 'node:util';
import { configWithDefaults } from '../infra/config.ts';
import { ConfigError } from '../infra/errors.ts';
import { shutdownRtc } from '../sim/patient.ts';
import { placeCall } from './lib/call.ts';
import { DEMO_DEFAULTS, printCallSummary, workerEnvFor } from './lib/demo.ts';
import { StackTeardown, startStack } from './lib/stack.ts';

const { values: args } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    profile: { type: 'string', default: 'intake' },
    name: { type: 'string', default: 'Ann' },
  },
});

const out = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  const started = Date.now();
  const cfg = configWithDefaults(DEMO_DEFAULTS);
  out(`\u001b[1mVoiceCare Agents\u001b[0m: local stack, no cloud keys needed`);
  out(
    `  speech-to-text: ${cfg.providers.stt.join(' → ')}   dialogue: ${cfg.providers.llm.join(' → ')}   text-to-speech: ${cfg.providers.tts.join(' → ')}`,
  );

  const teardown = new StackTeardown();
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    out('▸ stopping the agent worker, the dispatcher and the local servers…');
    await shutdownRtc().catch(() => undefined);
    await teardown.stop();
    out('  stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(130));
  process.on('SIGTERM', () => void shutdown(143));

  const stack = await startStack({ cfg, workerEnv: workerEnvFor(cfg), progress: out }, teardown);
  out(`  ready in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  out(`▸ placing a call: profile ${args.profile}, patient "${args.name}"`);
  const result = await placeCall({
    cfg,
    sessions: stack.sessions,
    utterances: stack.utterances,
    profile: args.profile,
    patientName: args.name,
    out,
  });
  printCallSummary(result, cfg, out);
  const ok = result.session?.state === 'completed';

  if (args.once) {
    await shutdown(ok ? 0 : 1);
    return ok ? 0 : 1;
  }
  out('\nThe stack keeps serving. Place another call from a second terminal:');
  out('  npm run call -- --profile medication-adherence');
  out('  npm run call -- --profile intake --line yes --line "my back hurts" --line no');
  out('  npm run call -- --profile post-discharge --wav my-answer.wav');
  out('Press Ctrl-C to stop everything.');
  return new Promise<number>(() => undefined);
}

main().catch(async (err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`start failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  await shutdownRtc().catch(() => undefined);
  process.exit(1);
});
