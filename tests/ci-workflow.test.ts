/**
 * The CI/CD workflow is linted by actionlint (expressions, job graph, action inputs, and the
 * shell in run: steps through shellcheck when it is installed), built by scripts/install-tools.sh.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const version = /ACTIONLINT_VERSION="([^"]+)"/.exec(
  readFileSync(`${ROOT}scripts/install-tools.sh`, 'utf8'),
)?.[1];
const ACTIONLINT = `${process.env.VOICECARE_TOOLS_DIR ?? `${ROOT}.cache/tools`}/actionlint-${version}`;
const WORKFLOW = `${ROOT}.github/workflows/ci-cd.yml`;

describe('the CI/CD workflow', () => {
  it('passes actionlint', async () => {
    const r = await run(ACTIONLINT, ['-no-color', WORKFLOW]).catch(
      (err: { stdout?: string; code?: unknown }) => ({
        stdout: err.stdout ?? String(err),
        failed: err.code,
      }),
    );
    expect(r.stdout).toBe('');
  });

  it('authenticates to Google Cloud with Workload Identity Federation, never a key', () => {
    const text = readFileSync(WORKFLOW, 'utf8');
    expect(text).toMatch(/workload_identity_provider:/);
    expect(text).toMatch(/id-token: write/);
    expect(text).not.toMatch(/credentials_json|GOOGLE_APPLICATION_CREDENTIALS|service_account_key/);
  });

  it('tests, pushes every image target, plans and applies per environment, then places a call', () => {
    const text = readFileSync(WORKFLOW, 'utf8');
    const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');
    const targets = [...dockerfile.matchAll(/^FROM runtime AS (\w+)/gm)].map((m) => m[1]!);
    expect([...targets].sort()).toEqual(['agent', 'api', 'dispatcher']);
    const pushed = /for target in ([\w ]+); do/.exec(text)?.[1]?.split(' ') ?? [];
    expect([...pushed].sort()).toEqual([...targets].sort());
    expect(text).toMatch(/npm test/);
    expect(text).toMatch(/terraform plan/);
    expect(text).toMatch(/terraform apply/);
    expect(text).toMatch(/environment: \[staging, production\]/);
    expect(text).toMatch(/npm run call -- --profile intake/);
  });
});
