/**
 * The console's Knowledge page in Debian's Chromium against the real API and FerretDB: an admin
 * uploads a leaflet, previews the passages it was cut into, and approves it; the API then
 * serves it to the profile's calls.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleDir } from '../api/console.ts';
import { json, startApi, type ApiFixture } from './support/api.ts';
import {
  launchBrowser,
  newContext,
  pageErrors,
  screenshot,
  seriousA11yViolations,
} from './support/browser.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const LEAFLET = fileURLToPath(new URL('../knowledge/samples/apixaban-leaflet.md', import.meta.url));

interface PageGlobals {
  sessionStorage: { setItem(key: string, value: string): void };
  scrollTo(x: number, y: number): void;
}

let f: ApiFixture;
let browser: Browser;
let admin: string;

beforeAll(async () => {
  // The source folder holds an index.html too: look for the built console itself.
  if (!consoleDir() || !existsSync(`${root}/dist/console/index.html`)) {
    execFileSync(
      process.execPath,
      [
        'node_modules/vite/bin/vite.js',
        'build',
        '--config',
        'console/vite.config.ts',
        '--logLevel',
        'warn',
      ],
      { cwd: root, stdio: 'inherit' },
    );
  }
  [f, browser] = await Promise.all([startApi(), launchBrowser({ fakeMicrophone: false })]);
  admin = await f.staffToken(['admin'], { name: 'Dr Ada Admin' });
});

afterAll(async () => {
  await browser?.close();
  await f?.stop();
});

describe('the Knowledge page', () => {
  it('uploads a leaflet, shows its passages, and approves it for the profile it is attached to', async () => {
    const ctx = await newContext(browser, { baseURL: f.url, grantMicrophone: false });
    await ctx.addInitScript((t) => {
      (globalThis as unknown as PageGlobals).sessionStorage.setItem('voicecare.staffToken', t);
      (globalThis as unknown as PageGlobals).sessionStorage.setItem('voicecare.signedInOnce', '1');
    }, admin);
    const page = await ctx.newPage();
    const errors = pageErrors(page);
    try {
      await page.goto('/knowledge');
      await page.getByRole('heading', { name: 'Knowledge', level: 1 }).waitFor();
      await page.getByText('No documents yet').waitFor();

      await page.getByLabel('Title').fill('Apixaban leaflet');
      await page.getByRole('checkbox', { name: 'intake' }).check();
      await page.getByLabel('File (.md, .txt or .pdf)').setInputFiles(LEAFLET);
      await page.getByRole('button', { name: 'Upload' }).click();
      await page.getByRole('status').filter({ hasText: 'waiting for approval' }).waitFor();

      const list = page.getByTestId('knowledge-list');
      await expect.poll(() => list.getByText('Apixaban leaflet').count()).toBe(1);
      await expect.poll(() => list.getByText('Pending').count()).toBe(1);

      await list.getByRole('button', { name: 'Apixaban leaflet' }).click();
      const passages = page.getByTestId('passages');
      await passages.getByText('apixaban-leaflet@v1#4').waitFor();
      expect(await passages.getByText(/Do not take ibuprofen, naproxen, aspirin/).count()).toBe(1);

      expect(await seriousA11yViolations(page, { wcag: true })).toEqual([]);

      await page.getByRole('button', { name: 'Approve v1' }).click();
      await expect.poll(() => list.getByText('v1 in use').count(), { timeout: 8000 }).toBe(1);
      // From the top: the sticky header would otherwise be drawn mid-page in a full-page shot.
      await page.evaluate(() => (globalThis as unknown as PageGlobals).scrollTo(0, 0));
      await screenshot(page, 'knowledge');

      // What calls on the profile now find.
      const res = await f.fetch('/v1/knowledge/search', {
        ...json({ profile: 'intake', question: 'Can I take ibuprofen with this?' }),
        auth: `Bearer ${admin}`,
      });
      const { hits } = (await res.json()) as { hits: { passageId: string; strong: boolean }[] };
      expect(hits[0]).toMatchObject({ passageId: 'apixaban-leaflet@v1#4', strong: true });
      const doc = (await (
        await f.fetch('/v1/knowledge/apixaban-leaflet', { auth: `Bearer ${admin}` })
      ).json()) as { versions: { approved?: { by: string }; uploaded: { by: string } }[] };
      expect(doc.versions[0]?.uploaded.by).toBe('Dr Ada Admin');
      expect(doc.versions[0]?.approved?.by).toBe('Dr Ada Admin');
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
