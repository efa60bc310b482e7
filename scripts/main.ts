/**
 * The README's first command: brings up the local stack and reports it healthy, then keeps
 * serving until Ctrl-C, when it stops everything it started.
 */
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const services = fileURLToPath(new URL('./services.sh', import.meta.url));

function step(msg: string): void {
  process.stdout.write(`\u001b[1m▸\u001b[0m ${msg}\n`);
}

async function main(): Promise<void> {
  step('starting local services (LiveKit, Pub/Sub emulator, FerretDB)');
  const up = await run('bash', [services, 'up'], { timeout: 180_000 });
  process.stdout.write(up.stderr);
  const status = await run('bash', [services, 'status']);
  process.stdout.write(status.stderr);
  step('all services healthy. Press Ctrl-C to stop.');

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    step('stopping services');
    spawnSync('bash', [services, 'down'], { stdio: 'inherit' });
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  setInterval(() => undefined, 1 << 30);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  spawnSync('bash', [services, 'down'], { stdio: 'inherit' });
  process.exit(1);
});
