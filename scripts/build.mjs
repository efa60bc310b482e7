#!/usr/bin/env node
// `npm run build`: the production build. tsc compiles every service to dist/ (imports rewritten
// from .ts to .js), then the non-TypeScript files the code reads at run time are copied beside
// the compiled modules that read them, so `new URL('.', import.meta.url)` finds them from dist/.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');

/**
 * Run-time assets: [source folder, file suffix]. prompts/cli.ts reads its profiles beside itself,
 * the loader expands safety concepts from the library in prompts/concepts/, and the safety
 * context model reads its weights (context-model.json) beside itself.
 */
export const ASSETS = [
  ['prompts', '.yaml'],
  ['prompts/concepts', '.yaml'],
  ['agent/safety', '.json'],
];

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
});
for (const [folder, suffix] of ASSETS) {
  for (const name of readdirSync(join(root, folder)).filter((n) => n.endsWith(suffix))) {
    const to = join(dist, folder, name);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(join(root, folder, name), to);
  }
}
// The console (React, Vite) into dist/console, which the API serves.
execFileSync(
  process.execPath,
  [
    join(root, 'node_modules/vite/bin/vite.js'),
    'build',
    '--config',
    join(root, 'console/vite.config.ts'),
    '--logLevel',
    'warn',
  ],
  { cwd: root, stdio: 'inherit' },
);
process.stderr.write(`[build] dist/ ready\n`);
