/**
 * The console's build. `npm run console:build` writes dist/console, which the API serves at `/`;
 * `npm run console:dev` serves it with hot reload and forwards /v1 to a running API.
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    proxy: { '/v1': 'http://127.0.0.1:8090' },
  },
});
