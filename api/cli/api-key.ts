/**
 * Creates a backend API key and prints it once (only its salted hash is stored):
 *
 *   npm run api:key -- --name billing-backend --scope sessions:create --scope sessions:read
 */
import { parseArgs } from 'node:util';
import { config } from '../../infra/config.ts';
import { ConfigError } from '../../infra/errors.ts';
import { connectMongo } from '../../infra/mongo.ts';
import { ApiKeyStore } from '../auth/api-keys.ts';
import { API_KEY_SCOPES, type ApiKeyScope } from '../auth/permissions.ts';

const USAGE = `Usage: npm run api:key -- --name NAME --scope <${API_KEY_SCOPES.join('|')}> [--scope ...]\n`;

async function main(): Promise<number> {
  let values: { name?: string; scope?: string[] };
  try {
    ({ values } = parseArgs({
      options: { name: { type: 'string' }, scope: { type: 'string', multiple: true } },
    }));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  const scopes = values.scope ?? [];
  const bad = scopes.filter((s) => !API_KEY_SCOPES.includes(s as ApiKeyScope));
  if (!values.name?.trim() || !scopes.length || bad.length) {
    process.stderr.write(`${bad.length ? `unknown scope ${bad.join(', ')}\n` : ''}${USAGE}`);
    return 2;
  }
  const cfg = config();
  const mongo = await connectMongo(cfg.mongo);
  try {
    const created = await new ApiKeyStore(mongo.db).create(
      values.name.trim(),
      scopes as ApiKeyScope[],
    );
    process.stdout.write(`${created.key}\n`);
    process.stderr.write(
      `key ${created.keyId} (${created.scopes.join(', ')}): shown once, store it now\n`,
    );
    return 0;
  } finally {
    await mongo.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `${err instanceof ConfigError ? err.message : err instanceof Error ? err.stack : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
