/**
 * Places one more call against a running stack (`npm start` in another terminal).
 *
 *   npm run call -- --profile medication-adherence
 *   npm run call -- --profile intake --line yes --line "my back hurts" --line no
 *   npm run call -- --profile post-discharge --wav answer.wav
 */
import { parseArgs } from 'node:util';
import { configWithDefaults } from '../infra/config.ts';
import { connectMongo } from '../infra/mongo.ts';
import { MongoSessionStore, MongoUtteranceStore } from '../sessions/mongo-store.ts';
import { shutdownRtc } from '../sim/patient.ts';
import { placeCall } from './lib/call.ts';
import { DEMO_DEFAULTS, printCallSummary } from './lib/demo.ts';

const { values: args } = parseArgs({
  options: {
    profile: { type: 'string', default: 'intake' },
    line: { type: 'string', multiple: true },
    wav: { type: 'string' },
    name: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const out = (line: string) => process.stdout.write(`${line}\n`);

if (args.help) {
  out('usage: npm run call -- [--profile ID] [--line TEXT]... [--wav FILE] [--name NAME]');
  out('  --profile  intake | medication-adherence | post-discharge (default intake)');
  out("  --line     what the patient says, one per agent turn (default: the profile's script)");
  out("  --wav      a recording (any rate, mono) played as the patient's first answer");
  process.exit(0);
}

async function main(): Promise<number> {
  const cfg = configWithDefaults(DEMO_DEFAULTS);
  const mongo = await connectMongo(cfg.mongo);
  try {
    const result = await placeCall({
      cfg,
      sessions: new MongoSessionStore({ db: mongo.db }),
      utterances: new MongoUtteranceStore({ db: mongo.db }),
      profile: args.profile,
      ...(args.line ? { lines: args.line } : {}),
      ...(args.wav ? { wav: args.wav } : {}),
      ...(args.name ? { patientName: args.name } : {}),
      out,
    });
    printCallSummary(result, cfg, out);
    return result.session?.state === 'completed' ? 0 : 1;
  } finally {
    await mongo.close();
    await shutdownRtc();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`call failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.stderr.write('is the stack running? Start it with: npm start\n');
    process.exit(1);
  },
);
