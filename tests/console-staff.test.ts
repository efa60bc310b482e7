/**
 * The clinician console's staff pages in Debian's Chromium, against a real API, FerretDB and the
 * Pub/Sub emulator: signing in, the profile editor (an error at its line, publishing refused,
 * publishing a first message edited in the form), roles, the conversation logs and their export,
 * the dashboard updating from the event stream without a reload, and an accessibility check of
 * every page. Screenshots of each page go to .run/screenshots/.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import AxeBuilder from '@axe-core/playwright';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleDir } from '../api/console.ts';
import { createPubSub } from '../infra/pubsub.ts';
import { PubSubEventPublisher } from '../sessions/events.ts';
import { MongoSessionStore, MongoUtteranceStore } from '../sessions/mongo-store.ts';
import { startApi, type ApiFixture } from './support/api.ts';
import { launchBrowser, newContext, pageErrors, screenshot as save } from './support/browser.ts';
import { SAMPLE_CALL, seedSession } from './support/console-seed.ts';
import { OidcStandin } from './support/standins/oidc.ts';

/**
 * The page's globals that the callbacks below touch: typed here, because the tests compile
 * without the DOM library. The callbacks run in the page, so they name `globalThis` directly.
 */
interface PageGlobals {
  sessionStorage: {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
  };
  localStorage: { getItem(key: string): string | null };
  scrollTo(x: number, y: number): void;
  stillHere?: boolean;
}

const root = fileURLToPath(new URL('..', import.meta.url));

let f: ApiFixture;
let browser: Browser;
let admin: string;
let clinician: string;
const contexts: BrowserContext[] = [];
const pubsub = createPubSub({
  projectId: 'voicecare-local',
  emulatorHost: '127.0.0.1:8085',
  requestsTopic: '',
  requestsSubscription: '',
  eventsTopic: '',
  deadLetterTopic: '',
  maxDeliveryAttempts: 5,
});

beforeAll(async () => {
  // The API serves the built console; build it once if this checkout has no build yet.
  if (!consoleDir()) {
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
      {
        cwd: root,
        stdio: 'inherit',
      },
    );
  }
  [f, browser] = await Promise.all([startApi(), launchBrowser({ fakeMicrophone: false })]);
  admin = await f.staffToken(['admin'], { name: 'Dr Ada Admin' });
  clinician = await f.staffToken(['clinician'], { name: 'RN Lee' });
});

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close().catch(() => undefined)));
  await browser?.close();
  await pubsub.close();
  await f?.stop();
});

/** A fresh browser; with a token, one that signed in earlier in this tab. */
async function visitor(token?: string): Promise<{ page: Page; errors: string[] }> {
  const ctx = await newContext(browser, { baseURL: f.url, grantMicrophone: false });
  contexts.push(ctx);
  if (token) {
    await ctx.addInitScript((t) => {
      if (
        !(globalThis as unknown as PageGlobals).sessionStorage.getItem('voicecare.signedInOnce')
      ) {
        (globalThis as unknown as PageGlobals).sessionStorage.setItem('voicecare.staffToken', t);
        (globalThis as unknown as PageGlobals).sessionStorage.setItem(
          'voicecare.signedInOnce',
          '1',
        );
      }
    }, token);
  }
  const page = await ctx.newPage();
  return { page, errors: pageErrors(page) };
}

/** From the top: the sticky header would otherwise be drawn mid-page in a full-page shot. */
async function screenshot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => (globalThis as unknown as PageGlobals).scrollTo(0, 0));
  await save(page, name);
}

async function expectAccessible(page: Page, name: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa']).analyze();
  const bad = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${name}: ${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    );
  expect(bad).toEqual([]);
}

/** Waits for what a person would see; generous, as this machine is shared and at times slow. */
const poll = <T>(fn: () => T | Promise<T>, opts: { timeout?: number } = {}) =>
  expect.poll(fn, { timeout: 8000, ...opts });

const apiJson = async (path: string, token = admin): Promise<Record<string, unknown>> => {
  const res = await f.fetch(path, { auth: `Bearer ${token}` });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
};

describe('signing in', () => {
  it('sends a visitor to sign in, takes a dev token, and returns them to the page they asked for', async () => {
    const { page, errors } = await visitor();
    await page.goto('/logs');
    await page.waitForURL(/\/login$/);
    await poll(() => page.getByText('npm run token -- --role clinician').count()).toBe(1);
    await screenshot(page, 'login');
    await expectAccessible(page, 'login');

    await page.getByLabel('Staff token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => page.getByTestId('login-error').textContent()).toMatch(/staff token/);

    await page.getByLabel('Staff token').fill(clinician);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/logs');
    expect(await page.getByTestId('user-role').textContent()).toBe('Clinician');
    expect(await page.getByTestId('user-name').textContent()).toBe('RN Lee');
    expect(errors).toEqual([]);
  });

  it('goes back to sign-in when the API refuses the stored token', async () => {
    const { page } = await visitor(clinician);
    await page.goto('/logs');
    // Same claims, someone else's signature: only the API can tell, and it says 401.
    const [head = '', body = ''] = clinician.split('.');
    await page.evaluate(
      (forged) =>
        (globalThis as unknown as PageGlobals).sessionStorage.setItem(
          'voicecare.staffToken',
          forged,
        ),
      `${head}.${body}.AAAA`,
    );
    await page.goto('/');
    await page.waitForURL(/\/login$/);
    await poll(() => page.getByText('Your session has ended').count()).toBe(1);
    expect(
      await page.evaluate(() =>
        (globalThis as unknown as PageGlobals).sessionStorage.getItem('voicecare.staffToken'),
      ),
    ).toBeNull();
  });
});

describe('signing in with the organisation (OIDC)', () => {
  let oidc: OidcStandin;
  let api: ApiFixture;

  beforeAll(async () => {
    oidc = await new OidcStandin({
      clientId: 'voicecare-console',
      audience: 'voicecare-api',
      user: { subject: 'dr-okafor', name: 'Dr Okafor', roles: ['admin'] },
    }).start();
    api = await startApi(oidc.apiEnv());
  });

  afterAll(async () => {
    await api?.stop();
    await oidc?.close();
  });

  it('signs in through the issuer with authorization code and PKCE, and the API takes its token', async () => {
    const ctx = await newContext(browser, { baseURL: api.url, grantMicrophone: false });
    contexts.push(ctx);
    const page = await ctx.newPage();
    const errors = pageErrors(page);
    await page.goto('/logs');
    await page.waitForURL(/\/login$/);
    const button = page.getByRole('button', { name: 'Sign in with your organisation' });
    await poll(() => button.count()).toBe(1);
    // No dev tokens where an issuer signs them.
    expect(await page.getByLabel('Staff token').count()).toBe(0);
    await screenshot(page, 'login-oidc');

    await button.click();
    await page.waitForURL((u) => u.pathname === '/logs');
    expect(await page.getByTestId('user-name').textContent()).toBe('Dr Okafor');
    expect(await page.getByTestId('user-role').textContent()).toBe('Admin');
    // The list loaded: the API accepted the issuer's token.
    await poll(() =>
      page.getByTestId('session-list').or(page.getByText('No sessions match')).count(),
    ).toBe(1);
    expect(oidc.record.authorizations).toEqual([
      {
        clientId: 'voicecare-console',
        redirectUri: `${api.url}/login`,
        scope: 'openid profile',
        method: 'S256',
      },
    ]);
    expect(oidc.record.tokens).toEqual([{ outcome: 'ok' }]);
    expect(new URL(page.url()).search).toBe('');
    expect(errors).toEqual([]);
  });
});

describe('agent setup', () => {
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    ({ page, errors } = await visitor(admin));
    page.on('dialog', (d) => void d.accept());
    await page.goto('/setup/intake');
  });

  const draftYaml = () =>
    page.evaluate(
      () =>
        (
          JSON.parse(
            (globalThis as unknown as PageGlobals).localStorage.getItem('voicecare.draft.intake') ??
              '{}',
          ) as { yaml?: string }
        ).yaml ?? '',
    );

  it('shows a bad line’s error at that line as it is typed, and publishing it is refused', async () => {
    const editor = page.getByTestId('yaml-editor');
    await poll(() => page.getByTestId('published-banner').count()).toBe(1);
    expect(await editor.locator('.cm-content').getAttribute('contenteditable')).toBe('false');
    await screenshot(page, 'setup-published');
    await page.getByTestId('edit-draft').click();
    await poll(() => page.getByTestId('validation-status').textContent()).toBe('Valid');

    // A field the profile schema does not have, typed on the empty last line of the YAML.
    await editor.locator('.cm-content').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type('bedsideManner: warm');
    const lines = (await draftYaml()).split('\n');
    const badLine = lines.findIndex((l) => l.startsWith('bedsideManner:')) + 1;
    expect(badLine).toBeGreaterThan(100);

    const issue = page.getByTestId('issue');
    await poll(() => issue.count()).toBe(1);
    expect(await issue.getAttribute('data-line')).toBe(String(badLine));
    expect(await issue.textContent()).toContain(`Line ${badLine}`);
    // The gutter marks the same line: its marker sits level with that line's number.
    const marker = editor.locator('.cm-lint-marker-error');
    await poll(() => marker.count()).toBe(1);
    const number = editor.locator('.cm-lineNumbers .cm-gutterElement', {
      hasText: new RegExp(`^${badLine}$`),
    });
    const [m, n] = await Promise.all([marker.boundingBox(), number.boundingBox()]);
    expect(
      Math.abs((m?.y ?? 0) + (m?.height ?? 0) / 2 - ((n?.y ?? 0) + (n?.height ?? 0) / 2)),
    ).toBeLessThan(4);
    await screenshot(page, 'setup-error');

    await page.getByTestId('publish-note').fill('Should not go out');
    await page.getByTestId('publish-button').click();
    await poll(() => page.getByTestId('publish-error').textContent()).toMatch(
      /Not published: 1 problem/,
    );
    const profile = await apiJson('/v1/profiles/intake');
    expect(profile['version']).toBe(1);
    // The refusal is the only error the page saw.
    expect(errors).toEqual([expect.stringContaining('422')]);
    errors.length = 0;
  });

  it('publishes a first message edited in the form as a new version, and the draft survives a reload', async () => {
    // Take the bad line out again in the editor, then edit the first message in the form.
    const editor = page.getByTestId('yaml-editor');
    await editor.locator('.cm-content').click();
    await page.keyboard.press('Control+End');
    await page.keyboard.press('Shift+Home');
    await page.keyboard.press('Backspace');
    await poll(() => page.getByTestId('validation-status').textContent()).toBe('Valid');

    const firstMessage =
      'Hello {{patient.displayName or "there"}}, this is your clinic calling with three quick questions.';
    await page.getByTestId('field-first-message').fill(firstMessage);
    expect(await draftYaml()).toContain('this is your clinic calling');
    await page.reload();
    await poll(() => page.getByTestId('field-first-message').inputValue()).toBe(firstMessage);
    await poll(() => page.getByTestId('validation-status').textContent()).toBe('Valid');
    // Play speaks the draft's first message: the API answers with a WAV and the page plays it.
    const [preview] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/v1/profiles/preview')),
      page.getByTestId('preview-play').click(),
    ]);
    expect(preview.status()).toBe(200);
    expect(preview.headers()['content-type']).toBe('audio/wav');
    await poll(() => page.getByTestId('preview-play').textContent()).not.toBe('Preparing…');
    expect(await page.getByText('The preview could not be played').count()).toBe(0);
    await screenshot(page, 'setup-draft');
    await expectAccessible(page, 'setup (draft)');

    await page.getByTestId('publish-note').fill('Shorter greeting');
    await page.getByTestId('publish-button').click();
    await poll(() => page.getByTestId('publish-success').textContent()).toMatch(
      /Published version 2/,
    );

    const latest = await apiJson('/v1/profiles/intake');
    expect(latest).toMatchObject({ version: 2, note: 'Shorter greeting', author: 'Dr Ada Admin' });
    expect((latest['profile'] as { firstMessage: string }).firstMessage).toBe(firstMessage);
    const v1 = await apiJson('/v1/profiles/intake/versions/1');
    expect((v1['profile'] as { firstMessage: string }).firstMessage).not.toBe(firstMessage);

    // Now shown read-only, with the history and a side-by-side diff.
    expect(
      await page.getByTestId('yaml-editor').locator('.cm-content').getAttribute('contenteditable'),
    ).toBe('false');
    await page.getByTestId('tab-history').click();
    await poll(() => page.getByTestId('version-item').count()).toBe(2);
    await page.getByRole('button', { name: 'Compare with v1' }).click();
    await poll(() => page.getByTestId('diff-fields').textContent()).toContain('firstMessage');
    await poll(() =>
      page.getByTestId('yaml-diff').locator('.cm-changedLine').count(),
    ).toBeGreaterThan(0);
    await screenshot(page, 'setup-diff');
    expect(errors).toEqual([]);
  });

  it('does not offer Publish to a clinician, and the API refuses one anyway', async () => {
    const { page: p, errors: e } = await visitor(clinician);
    await p.goto('/setup/intake');
    await p.getByTestId('edit-draft').click();
    await poll(() => p.getByTestId('publish-not-allowed').count()).toBe(1);
    expect(await p.getByTestId('publish-button').count()).toBe(0);
    const res = await f.fetch('/v1/profiles', {
      method: 'POST',
      auth: `Bearer ${clinician}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ yaml: 'id: intake\n', note: 'x' }),
    });
    expect(res.status).toBe(403);
    expect(e).toEqual([]);
  });
});

describe('conversation logs', () => {
  it('finds a seeded session by state and profile, shows it, and exports the JSON the API gives', async () => {
    const sessionId = await seedSession(f.api.mongo.db, {
      ...SAMPLE_CALL,
      state: 'interrupted',
      escalations: [
        {
          ruleId: 'chest-pain',
          severity: 'emergency',
          status: 'confirmed',
          seq: 5,
          channel: 'speech',
          trigger: { detector: 'rules', kind: 'phrase', value: 'chest pain' },
        },
      ],
    });
    const other = await seedSession(f.api.mongo.db, { state: 'completed' });
    const { page, errors } = await visitor(clinician);
    await page.goto('/logs');
    await page.getByLabel('State').selectOption('interrupted');
    await page.getByLabel('Profile').selectOption('intake');
    await page.getByRole('button', { name: 'Search' }).click();
    const row = page.locator(`[data-testid=session-row][data-session-id="${sessionId}"]`);
    const otherRow = page.locator(`[data-testid=session-row][data-session-id="${other}"]`);
    // Both at once: the unfiltered list shown before the search answers holds both sessions.
    await poll(async () => [await row.count(), await otherRow.count()]).toEqual([1, 0]);
    await screenshot(page, 'logs');
    await expectAccessible(page, 'logs');

    await row.click();
    await page.waitForURL(new RegExp(`/logs/${sessionId}$`));
    await poll(() => page.getByTestId('log-turn').count()).toBe(SAMPLE_CALL.turns?.length);
    // A bar for each turn with a latency (all of them here), carrying the stored figure.
    const bars = page.getByTestId('turn-latency');
    expect(await bars.count()).toBe(SAMPLE_CALL.turns?.filter((t) => t.latency).length);
    expect(await bars.last().getAttribute('data-ms')).toBe('2680');
    expect(
      await page
        .locator('[data-testid=answer][data-field=painScore]')
        .getAttribute('data-needs-review'),
    ).toBe('true');
    expect(
      await page
        .locator('[data-testid=answer][data-field=visitReason]')
        .getAttribute('data-needs-review'),
    ).toBe('false');
    expect(await page.getByTestId('log-escalation').textContent()).toContain('chest-pain');
    expect(await page.getByTestId('profile-version').textContent()).toBe('version 1');
    const timeline = await page
      .getByTestId('timeline')
      .locator('li')
      .evaluateAll((li) => li.map((l) => l.getAttribute('data-state')));
    expect(timeline).toEqual(['requested', 'dispatching', 'active', 'interrupted']);
    await screenshot(page, 'log-session');
    await expectAccessible(page, 'log session');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('export-json').click(),
    ]);
    expect(download.suggestedFilename()).toBe(`session-${sessionId}.json`);
    const exported = JSON.parse(readFileSync((await download.path()) ?? '', 'utf8')) as unknown;
    const session = await apiJson(`/v1/sessions/${sessionId}`, clinician);
    const transcript = await apiJson(`/v1/sessions/${sessionId}/transcript`, clinician);
    expect(exported).toEqual({ session, utterances: transcript['utterances'] });
    expect(errors).toEqual([]);
  });
});

describe('dashboard', () => {
  it('shows an escalation, a new line of transcript and a finished call as they happen, without a reload', async () => {
    const db = f.api.mongo.db;
    const sessionId = await seedSession(db, {
      state: 'active',
      turns: SAMPLE_CALL.turns?.slice(0, 2),
    });
    const { page, errors } = await visitor(clinician);
    await page.goto('/');
    await poll(() => page.getByTestId('live-status').getAttribute('data-status')).toBe('open');
    const row = page.locator(`[data-testid=live-session][data-session-id="${sessionId}"]`);
    await poll(() => row.count()).toBe(1);
    const completedBefore = Number(
      await page.getByTestId('outcome-completed').getAttribute('data-count'),
    );
    // Marks this document: a reload would make a new one without the mark.
    await page.evaluate(() => ((globalThis as unknown as PageGlobals).stillHere = true));

    await row.getByTestId('watch-session').click();
    const lines = page.getByTestId('live-transcript-line');
    await poll(() => lines.count()).toBe(2);
    await new MongoUtteranceStore({ db }).writeUtterances([
      {
        sessionId,
        seq: 2,
        role: 'agent',
        text: 'Thank you. Your care team has been told.',
        startedAt: new Date(),
        endedAt: new Date(),
        interrupted: false,
      },
    ]);
    await poll(() => lines.last().textContent()).toContain('Your care team has been told');

    const events = new PubSubEventPublisher({ topic: pubsub.topic(f.cfg.pubsub.eventsTopic) });
    const at = new Date().toISOString();
    await events.publish({
      type: 'session.escalation',
      sessionId,
      at,
      escalationId: `${sessionId}:3:breathing-difficulty:confirmed`,
      ruleId: 'breathing-difficulty',
      severity: 'emergency',
      status: 'confirmed',
      channel: 'speech',
      trigger: { detector: 'rules', kind: 'phrase', value: "can't breathe" },
    });
    const card = page.locator(`[data-testid=escalation][data-session-id="${sessionId}"]`);
    await poll(() => card.count()).toBe(1);
    expect(await card.textContent()).toContain('breathing-difficulty');
    await screenshot(page, 'dashboard');
    await expectAccessible(page, 'dashboard');

    // The agent ends the call: the store first, then the event.
    await new MongoSessionStore({ db }).transition(sessionId, 'completed', new Date(), {
      endReason: 'safety',
    });
    await events.publish({
      type: 'session.completed',
      sessionId,
      at: new Date().toISOString(),
      state: 'completed',
      reason: 'safety',
    });
    await poll(() => row.count()).toBe(0);
    await poll(async () =>
      Number(await page.getByTestId('outcome-completed').getAttribute('data-count')),
    ).toBe(completedBefore + 1);
    // The escalation stays on top after the call has ended.
    expect(await card.count()).toBe(1);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).stillHere)).toBe(true);
    expect(errors).toEqual([]);
  });
});
