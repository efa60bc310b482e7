/**
 * The console's Education audio page in Debian's Chromium against the real API and FerretDB: an
 * admin writes a script, approves it, renders it in an embedded voice (watching the job finish),
 * listens to the clip in the page's player, approves the clip and makes a patient link, which
 * then plays without sign-in.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiFixture } from './support/api.ts';
import {
  launchBrowser,
  newContext,
  pageErrors,
  screenshot,
  seriousA11yViolations,
} from './support/browser.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const TEXT = 'Keep the dressing dry for two days. Walk a little every hour.';

interface PageGlobals {
  sessionStorage: { setItem(key: string, value: string): void };
  scrollTo(x: number, y: number): void;
  document: { querySelector(s: string): { duration: number; readyState: number } | null };
}

let f: ApiFixture;
let browser: Browser;
let admin: string;
/** The patient link made in the first case, for the phone case after it. */
let patientLink = '';

beforeAll(async () => {
  // Always rebuilt: a console built before this page existed would not have it.
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
  [f, browser] = await Promise.all([startApi(), launchBrowser({ fakeMicrophone: false })]);
  admin = await f.staffToken(['admin'], { name: 'Dr Ada Admin' });
});

afterAll(async () => {
  await browser?.close();
  await f?.stop();
});

describe('the Education audio page', () => {
  it('writes, approves, renders, plays, approves the clip and links it to a patient', async () => {
    const ctx = await newContext(browser, { baseURL: f.url, grantMicrophone: false });
    await ctx.addInitScript((t) => {
      (globalThis as unknown as PageGlobals).sessionStorage.setItem('voicecare.staffToken', t);
      (globalThis as unknown as PageGlobals).sessionStorage.setItem('voicecare.signedInOnce', '1');
    }, admin);
    const page = await ctx.newPage();
    const errors = pageErrors(page);
    try {
      await page.goto('/education');
      await page.getByRole('heading', { name: 'Education audio', level: 1 }).waitFor();
      await page.getByText('No scripts yet').waitFor();

      await page.getByLabel('Title').fill('Knee wound care');
      await page.getByRole('checkbox', { name: 'intake' }).check();
      await page.getByLabel('What the patient hears').fill(TEXT);
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('status').filter({ hasText: 'waiting for approval' }).waitFor();

      const detail = page.getByTestId('education-detail');
      await detail.getByTestId('script-text').filter({ hasText: TEXT }).waitFor();
      await detail.getByRole('button', { name: 'Approve v1' }).click();
      const list = page.getByTestId('education-list');
      await expect.poll(() => list.getByText('v1 in use').count(), { timeout: 8000 }).toBe(1);

      await detail.getByLabel('Voice').selectOption({ label: 'Embedded: US English' });
      await detail.getByRole('button', { name: 'Render v1' }).click();
      await detail.getByTestId('clip-ready').waitFor({ timeout: 60_000 });

      await detail.getByRole('button', { name: 'Listen' }).click();
      await detail.getByTestId('clip-audio').waitFor();
      const duration = await page.waitForFunction(() => {
        const a = (globalThis as unknown as PageGlobals).document.querySelector(
          '[data-testid="clip-audio"]',
        );
        return a && a.readyState >= 1 ? a.duration : 0;
      });
      expect(await duration.jsonValue()).toBeGreaterThan(2);

      expect(await seriousA11yViolations(page, { wcag: true })).toEqual([]);

      await detail.getByRole('button', { name: 'Approve clip' }).click();
      await detail.getByText('plays in calls').waitFor({ timeout: 8000 });
      await detail.getByRole('button', { name: 'Patient link' }).click();
      const link = await detail.getByTestId('patient-link').textContent();
      expect(link).toMatch(/\/listen\/[\w.-]+$/);
      await page.evaluate(() => (globalThis as unknown as PageGlobals).scrollTo(0, 0));
      await screenshot(page, 'education');
      expect(errors).toEqual([]);
      patientLink = new URL(link ?? '', f.url).pathname;
    } finally {
      await ctx.close();
    }
  });

  it("plays on the patient's phone from the link, with no sign-in, and says plainly when it no longer works", async () => {
    expect(patientLink, 'the clip was linked in the case above').toBeTruthy();
    // A phone, and no staff token anywhere.
    const ctx = await newContext(browser, {
      baseURL: f.url,
      grantMicrophone: false,
      phone: true,
    });
    const page = await ctx.newPage();
    const errors = pageErrors(page);
    try {
      await page.goto(patientLink);
      await page.getByRole('heading', { name: 'Knee wound care', level: 1 }).waitFor();
      expect(await page.getByTestId('listen-text').textContent()).toBe(TEXT);
      await page.getByText(/This link works until/).waitFor();
      const duration = await page.waitForFunction(() => {
        const a = (globalThis as unknown as PageGlobals).document.querySelector(
          '[data-testid="listen-audio"]',
        );
        return a && a.readyState >= 1 ? a.duration : 0;
      });
      expect(await duration.jsonValue()).toBeGreaterThan(2);
      // Phone-sized: nothing wider than the screen.
      expect(
        await page.evaluate(
          () =>
            (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } })
              .document.documentElement.scrollWidth,
        ),
      ).toBeLessThanOrEqual(390);
      expect(await seriousA11yViolations(page, { wcag: true })).toEqual([]);
      await screenshot(page, 'education-patient');

      // An altered link: the page says what to do, not an error code.
      await page.goto(`${patientLink.slice(0, -4)}AAAA`);
      await page.getByRole('heading', { name: 'This recording is not available' }).waitFor();
      expect(await page.getByTestId('listen-gone').textContent()).toMatch(/Ask your care team/);
      // The browser reports the refused request itself; nothing else may go wrong.
      expect(errors).toEqual([
        'Failed to load resource: the server responded with a status of 410 (Gone)',
      ]);
    } finally {
      await ctx.close();
    }
  });
});
