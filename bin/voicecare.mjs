#!/usr/bin/env node
// The `voicecare` command: runs the CLI (the TypeScript source through tsx, or the compiled one
// when tsx is absent) in a child Node process, passing arguments, standard streams, signals
// and the exit code straight through.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Resolved from this file, not the working directory, so the command works from anywhere.
let args;
try {
  const tsx = import.meta.resolve('tsx');
  args = ['--import', tsx, fileURLToPath(new URL('../prompts/cli.ts', import.meta.url))];
} catch {
  // A production install has no tsx: run the compiled CLI (`npm run build`).
  args = [fileURLToPath(new URL('../dist/prompts/cli.js', import.meta.url))];
}

const child = spawn(process.execPath, [...args, ...process.argv.slice(2)], {
  stdio: 'inherit',
});

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}

child.on('error', (err) => {
  process.stderr.write(`voicecare: could not start node: ${err.message}\n`);
  process.exitCode = 1;
});

child.on('exit', (code, signal) => {
  // Mirror a signal death the way a shell reports it (128 + signal number).
  process.exitCode = code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1);
});
