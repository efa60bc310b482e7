/**
 * Prints a staff token signed with the local dev key (created on first use):
 *
 *   npm run token -- --role clinician [--role admin] [--sub rn-lee] [--name "RN Lee"] [--ttl-ms 3600000]
 *
 * Only for this machine: in production staff tokens come from the OIDC issuer.
 */
import { parseArgs } from 'node:util';
import { config } from '../../infra/config.ts';
import { ConfigError } from '../../infra/errors.ts';
import { loadOrCreateDevKey, signDevToken } from '../auth/jwt.ts';
import { STAFF_ROLES, type StaffRole } from '../auth/permissions.ts';
import { assertAuthConfig, devKeyPath } from '../main.ts';

const USAGE = `Usage: npm run token -- --role <${STAFF_ROLES.join('|')}> [--role ...] [--sub ID] [--name NAME] [--ttl-ms MS]\n`;

async function main(): Promise<number> {
  let values: { role?: string[]; sub?: string; name?: string; 'ttl-ms'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        role: { type: 'string', multiple: true },
        sub: { type: 'string' },
        name: { type: 'string' },
        'ttl-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const roles = values.role ?? [];
  const bad = roles.filter((r) => !STAFF_ROLES.includes(r as StaffRole));
  if (!roles.length || bad.length) {
    process.stderr.write(`${bad.length ? `unknown role ${bad.join(', ')}\n` : ''}${USAGE}`);
    return 2;
  }
  const ttlMs = values['ttl-ms'] === undefined ? undefined : Number(values['ttl-ms']);
  if (ttlMs !== undefined && (!Number.isInteger(ttlMs) || ttlMs <= 0)) {
    process.stderr.write(`--ttl-ms: expected a positive whole number\n`);
    return 2;
  }
  const cfg = config();
  assertAuthConfig(cfg);
  if (cfg.api.jwt.jwksUrl) {
    process.stderr.write('API_JWKS_URL is set: tokens come from your issuer, not the dev key\n');
    return 1;
  }
  const key = await loadOrCreateDevKey(devKeyPath(cfg));
  const token = await signDevToken(key, cfg.api.jwt, {
    subject: values.sub ?? `dev-${roles[0]}`,
    roles: roles as StaffRole[],
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(ttlMs !== undefined ? { ttlMs } : {}),
  });
  process.stdout.write(`${token}\n`);
  return 0;
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
