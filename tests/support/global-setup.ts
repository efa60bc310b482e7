/**
 * Vitest global setup for integration tests: makes sure the real local servers are up, once per
 * run. Servers that were already running (started by `scripts/test.sh` or by hand) are reused and
 * left running; servers this setup started are stopped when the run ends.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const services = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url));

async function allHealthy(): Promise<boolean> {
  try {
    await run('bash', [services, 'status']);
    return true;
  } catch {
    return false;
  }
}

export default async function setup(): Promise<() => Promise<void>> {
  if (await allHealthy()) return async () => {};
  const started = await run('bash', [services, 'up'], { timeout: 180_000 }).catch(
    (err: unknown) => {
      const stderr = (err as { stderr?: string }).stderr ?? String(err);
      throw new Error(`local services did not start:\n${stderr}`);
    },
  );
  process.stderr.write(started.stderr);
  return async () => {
    await run('bash', [services, 'down']);
  };
}
