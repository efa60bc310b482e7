/**
 * Debian's Chromium driven by playwright-core (it never downloads a browser). One browser per
 * test file; each actor (clinician, patient) gets its own context. A WAV file can stand in for
 * the microphone, and screenshots go to .run/screenshots/ (git-ignored) for people to look at.
 */
import { mkdirSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = new URL('../../.run/screenshots/', import.meta.url).pathname;

/** Flags that keep Chromium off the closed network and let WebRTC run on loopback. */
const BASE_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
];

export interface LaunchOptions {
  /**
   * A WAV file the fake microphone plays (once, then silence). Without one, the fake device
   * plays Chromium's beep. Chromium takes the file per browser, so one browser per voice.
   */
  microphoneWav?: string;
  /** false: no fake microphone device, so getUserMedia finds none. @defaultValue true */
  fakeMicrophone?: boolean;
  /**
   * true: every permission prompt is accepted, whatever the context granted. false: the
   * context's `permissions` decide, so a context without `microphone` is refused
   * (NotAllowedError), as when a person taps "Don't allow". @defaultValue true
   */
  acceptPermissionPrompts?: boolean;
}

export async function launchBrowser(opts: LaunchOptions = {}): Promise<Browser> {
  const args = [...BASE_FLAGS];
  if (opts.fakeMicrophone ?? true) {
    if (opts.acceptPermissionPrompts ?? true) args.push('--use-fake-ui-for-media-stream');
    args.push('--use-fake-device-for-media-stream');
    if (opts.microphoneWav)
      args.push(`--use-file-for-fake-audio-capture=${opts.microphoneWav}%noloop`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/** A fresh context (its own storage, like a separate person's browser), phone-sized if asked. */
export async function newContext(
  browser: Browser,
  opts: { phone?: boolean; baseURL?: string; grantMicrophone?: boolean } = {},
): Promise<BrowserContext> {
  return browser.newContext({
    ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
    ...(opts.phone
      ? {
          viewport: { width: 390, height: 844 },
          deviceScaleFactor: 2,
          isMobile: true,
          hasTouch: true,
        }
      : { viewport: { width: 1366, height: 900 } }),
    permissions: (opts.grantMicrophone ?? true) ? ['microphone'] : [],
  });
}

/** Saves a full-page screenshot as .run/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Collects the page's console errors and uncaught exceptions, for a test to assert on. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  return errors;
}

/**
 * axe-core's serious and critical findings on the page as it is now, as readable lines; only
 * the WCAG A and AA rules with `wcag: true`.
 */
export async function seriousA11yViolations(
  page: Page,
  opts: { wcag?: boolean } = {},
): Promise<string[]> {
  const builder = new AxeBuilder({ page });
  if (opts.wcag) builder.withTags(['wcag2a', 'wcag2aa']);
  const result = await builder.analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    );
}
