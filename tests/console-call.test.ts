/**
 * The patient page and the clinician's Patient Test page in Debian's Chromium, against the real
 * stack: the API serving the built console, the real dispatcher and agent worker, LiveKit, with
 * the AI vendors stood in (tests/support/standins) as in tests/api-flow.test.ts.
 *
 * Each test reads like a visit: open the link on a phone, press Start, hear the greeting (the
 * level of the page's own audio output is measured in the page), read it in the captions,
 * answer aloud, see both sides captioned. The answer is spoken into the page's microphone once
 * the agent is listening: the framework discards what a patient says during the first 3 s of its
 * first speech (see tests/support/call-page.ts for how the microphone is scripted).
 */
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleDir } from '../api/console.ts';
import { JOIN_LINK_USES_COLLECTION, JoinLinks } from '../api/join/links.ts';
import { readProfile } from '../prompts/loader.ts';
import type { AgentHarness } from './support/agent-harness.ts';
import { launchBrowser, newContext, pageErrors, screenshot } from './support/browser.ts';
import {
  installRemoteAudioProbe,
  installScriptedMicrophone,
  pageNow,
  remoteAudioLevel,
  say,
  seriousA11yViolations,
  spokenAnswer,
} from './support/call-page.ts';
import { json, type ApiFixture } from './support/api.ts';
import { uniqueName } from './support/env.ts';
import { startFullStack, type FullStack } from './support/full-stack.ts';

const intake = await readProfile(fileURLToPath(new URL('../prompts/intake.yaml', import.meta.url)));
const GREETING = 'Hi there, is now a good time?';
const override = {
  firstMessage: 'Hi {{patient.displayName or "there"}}, is now a good time?',
  limits: { ...intake.limits, silenceTimeoutMs: 60_000 },
};
const YES = 'yes this is a good time';
const YES_REPLY = 'Great. What is the main reason for your visit?';
const KNEE = 'my knee hurts when I walk';
const KNEE_REPLY =
  'Thank you. Have any of your medicines changed since your last visit, including new ones or ones you have stopped?';
const AGAIN = 'sorry can you say that again';
const AGAIN_REPLY = 'Of course. Have any of your medicines changed?';
/** Placement on a cold, loaded 2-core machine (see tests/api-flow.test.ts). */
const CALL_SETUP_MS = 150_000;

/**
 * Page errors other than the browser's note on each non-2xx answer: the 409s while the call is
 * set up and the 410 for a used link are answers the page handles.
 */
const unexpected = (errors: string[]): string[] =>
  errors.filter((e) => !e.startsWith('Failed to load resource'));

describe('the patient page and the Patient Test page, in Chromium', () => {
  let stack: FullStack;
  let h: AgentHarness;
  let f: ApiFixture;
  let browser: Browser;
  let backend: string;
  const clips: Record<string, Buffer> = {};
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (!consoleDir()) throw new Error('the console is not built: run `npm run console:build`');
    const [started] = await Promise.all([
      startFullStack([{ file: 'intake.yaml', override }]),
      ...[
        ['yes', YES],
        ['knee', KNEE],
        ['again', AGAIN],
      ].map(async ([name, text]) => {
        clips[name!] = (await spokenAnswer(name!, text!)).wav;
      }),
    ]);
    stack = started;
    ({ h, api: f } = stack);
    backend = `ApiKey ${await f.apiKey(['sessions:create', 'sessions:read'])}`;
    // Permission prompts follow each context's grants, so a context can be refused the microphone.
    browser = await launchBrowser({ acceptPermissionPrompts: false });
    h.standins.openai.configure({ respond: scriptedReplies });
  });

  afterAll(async () => {
    await Promise.allSettled(contexts.map((c) => c.close()));
    await browser?.close();
    await stack?.close();
  });

  /** The LLM stand-in answers by what the patient said (preemptive requests may come early). */
  function scriptedReplies(req: { messages: readonly { role: string; content?: unknown }[] }) {
    const last = req.messages.at(-1);
    const user = [...req.messages].reverse().find((m) => m.role === 'user');
    const said = String(user?.content ?? '');
    if (said === YES) return YES_REPLY;
    if (said === AGAIN) return AGAIN_REPLY;
    if (said === KNEE) {
      if (last?.role === 'tool') return KNEE_REPLY;
      return {
        toolCalls: [
          {
            name: 'record_answer',
            arguments: { field: 'visitReason', value: 'knee pain when walking' },
          },
        ],
      };
    }
    return undefined;
  }

  async function open(
    opts: { phone?: boolean; microphone?: boolean; staffToken?: string } = {},
  ): Promise<{ page: Page; errors: string[]; joinPosts: () => number }> {
    const context = await newContext(browser, {
      phone: opts.phone ?? true,
      baseURL: f.url,
      grantMicrophone: opts.microphone ?? true,
    });
    contexts.push(context);
    await installScriptedMicrophone(context, clips);
    await installRemoteAudioProbe(context);
    if (opts.staffToken) {
      // Signed in, as the login page leaves it (console/src/api.ts keeps the token there).
      await context.addInitScript({
        content: `sessionStorage.setItem('voicecare.staffToken', ${JSON.stringify(opts.staffToken)});`,
      });
    }
    const page = await context.newPage();
    let posts = 0;
    page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname.startsWith('/v1/join/')) posts += 1;
    });
    return { page, errors: pageErrors(page), joinPosts: () => posts };
  }

  async function createSession(): Promise<string> {
    const res = await f.fetch('/v1/sessions', {
      ...json({ profile: { id: 'intake' }, patient: { ref: uniqueName('pt') } }),
      auth: backend,
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { sessionId: string }).sessionId;
  }

  async function joinLink(sessionId: string): Promise<string> {
    const res = await f.fetch(`/v1/sessions/${sessionId}/join-link`, {
      method: 'POST',
      auth: backend,
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { code: string }).code;
  }

  async function readSession(sessionId: string): Promise<Record<string, unknown>> {
    const res = await f.fetch(`/v1/sessions/${sessionId}`, { auth: backend });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  }

  const linkUses = (sessionId: string) =>
    f.api.mongo.db.collection(JOIN_LINK_USES_COLLECTION).countDocuments({ sessionId });

  const caption = (page: Page, speaker: 'assistant' | 'you', text: string) =>
    page.locator(`[data-testid="captions"] li[data-speaker="${speaker}"]`, { hasText: text });

  /** Until the agent has said its piece and listens (its `lk.agent.state`, shown on the page). */
  async function untilListening(page: Page, timeoutMs = 30_000): Promise<void> {
    await page
      .locator('[data-testid="agent-state"][data-state="listening"]')
      .waitFor({ timeout: timeoutMs });
  }

  async function expectAccessible(page: Page, state: string): Promise<void> {
    expect(await seriousA11yViolations(page), `axe-core on the ${state} state`).toEqual([]);
  }

  it('a patient opens the link on a phone and presses Start; after a failed connection Try again joins without the spent link; they hear the greeting, are heard, read both sides; the used link says so; the clinic ends the call', async () => {
    const sessionId = await createSession();
    const code = await joinLink(sessionId);
    const { page, errors, joinPosts } = await open();
    await page.goto(`/join/${code}`);

    const start = page.getByRole('button', { name: 'Start' });
    await start.waitFor();
    expect(await page.getByRole('heading', { name: 'We need your microphone' }).isVisible()).toBe(
      true,
    );
    await expectAccessible(page, 'start');
    await screenshot(page, 'patient-page');
    // Opening the page spends nothing: the single-use link is used by Start alone.
    expect(joinPosts()).toBe(0);
    expect(await linkUses(sessionId)).toBe(0);
    const box = await start.boundingBox();
    expect(box?.height).toBeGreaterThanOrEqual(64);

    // LiveKit is out of reach at first (a network that blocks WebSockets, say): the page says
    // so, and Try again reconnects with the grant it already has, since the link is now used.
    let livekitReachable = false;
    const livekitPort = new URL(h.cfg.livekit.url).port;
    await page.routeWebSocket(
      (url) => url.port === livekitPort,
      (ws) => {
        if (livekitReachable) ws.connectToServer();
        else void ws.close({ code: 1011, reason: 'unreachable in this test' });
      },
    );
    await start.click();
    const cutOff = page.getByTestId('call-failure');
    await cutOff.waitFor({ timeout: CALL_SETUP_MS });
    expect(await cutOff.getAttribute('data-kind')).toBe('network');
    expect(await cutOff.textContent()).toContain('We could not connect the call');
    await expectAccessible(page, 'could not connect');
    await screenshot(page, 'patient-network-failure');
    expect(await linkUses(sessionId)).toBe(1);

    const postsBeforeRetry = joinPosts();
    // What the client logged about the outage we made is expected; what comes after is not.
    const outageErrors = errors.length;
    livekitReachable = true;
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByTestId('call-view').waitFor({ timeout: 60_000 });
    expect(joinPosts()).toBe(postsBeforeRetry);

    // The greeting: heard in the page's audio and read in the captions.
    await caption(page, 'assistant', GREETING).waitFor({ timeout: 30_000 });
    await untilListening(page);
    const greeting = await remoteAudioLevel(page);
    const quietFrom = await pageNow(page);
    // Two seconds of the agent listening, for the level of its silence. Its median, because the
    // first readings may still carry the greeting's tail: the page plays audio a jitter buffer
    // behind the agent, which turns to listening when its own playout ends.
    await expect
      .poll(async () => (await remoteAudioLevel(page, quietFrom)).readings, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(40);
    const quiet = await remoteAudioLevel(page, quietFrom);
    console.log(
      `remote audio in the page: greeting peak RMS ${greeting.peak.toFixed(4)} (${greeting.readings} readings), ` +
        `listening median RMS ${quiet.median.toFixed(5)} (peak ${quiet.peak.toFixed(5)}, ${quiet.readings} readings)`,
    );
    expect(greeting.tracks).toBeGreaterThanOrEqual(1);
    expect(greeting.peak).toBeGreaterThan(0.02);
    expect(quiet.median).toBeLessThan(0.005);
    expect(greeting.peak).toBeGreaterThan(10 * quiet.median);

    // The patient answers; the meter says they are heard, and both sides are captioned.
    h.standins.deepgram.hear(YES);
    const spoken = say(page, 'yes');
    await page.locator('[data-testid="mic-meter"][data-heard="true"]').waitFor({ timeout: 5000 });
    await screenshot(page, 'patient-speaking');
    await spoken;
    await caption(page, 'you', YES).waitFor({ timeout: 20_000 });
    await caption(page, 'assistant', YES_REPLY).waitFor({ timeout: 20_000 });
    await expectAccessible(page, 'in-call');
    await screenshot(page, 'patient-in-call');

    // The same link, opened again (a forwarded message, a second tab): used, in plain words.
    const second = await open();
    await second.page.goto(`/join/${code}`);
    await second.page.getByRole('button', { name: 'Start' }).click();
    const failure = second.page.getByTestId('call-failure');
    await failure.waitFor({ timeout: 15_000 });
    expect(await failure.getAttribute('data-kind')).toBe('link_gone');
    expect(await failure.textContent()).toContain('This link has expired or was already used');
    expect(await second.page.getByRole('button', { name: 'Try again' }).count()).toBe(0);
    await expectAccessible(second.page, 'link used');
    await screenshot(second.page, 'patient-link-used');

    // Nothing went wrong in the page during the call. (After the cancel below, the client logs
    // its data channels closing with the deleted room, which is what a cancel does.)
    expect(unexpected(errors.slice(outageErrors))).toEqual([]);

    // The clinic ends the call (the console's cancel): the page says who ended it.
    const clinician = `Bearer ${await f.staffToken(['clinician'])}`;
    const cancel = await f.fetch(`/v1/sessions/${sessionId}/cancel`, {
      method: 'POST',
      auth: clinician,
    });
    expect(cancel.status).toBe(200);
    const ended = page.getByTestId('call-ended');
    await ended.waitFor({ timeout: 15_000 });
    expect(await ended.getAttribute('data-ending')).toBe('clinic_ended');
    expect(await ended.textContent()).toContain('Your care team ended the call');
    await expectAccessible(page, 'ended by the clinic');
    await screenshot(page, 'patient-ended-by-clinic');
    expect(await readSession(sessionId)).toMatchObject({
      state: 'interrupted',
      endReason: 'cancelled',
    });
  }, 240_000);

  it('an expired link, a refused microphone and a missing one each get plain words, and neither microphone problem spends the link', async () => {
    const links = new JoinLinks({ db: f.api.mongo.db, ttlMs: 1000 });
    const expired = await links.create(uniqueName('ses'), 'test', new Date(Date.now() - 60_000));
    const { page } = await open();
    await page.goto(`/join/${expired.code}`);
    await page.getByRole('button', { name: 'Start' }).click();
    const failure = page.getByTestId('call-failure');
    await failure.waitFor({ timeout: 15_000 });
    expect(await failure.textContent()).toContain('This link has expired or was already used');
    await expectAccessible(page, 'link expired');
    await screenshot(page, 'patient-link-expired');

    // The person says no to the browser's microphone question.
    const sessionId = uniqueName('ses');
    const fresh = await links.create(sessionId, 'test', new Date());
    const refused = await open({ microphone: false });
    await refused.page.goto(`/join/${fresh.code}`);
    await refused.page.getByRole('button', { name: 'Start' }).click();
    const denied = refused.page.getByTestId('call-failure');
    await denied.waitFor({ timeout: 15_000 });
    expect(await denied.getAttribute('data-kind')).toBe('microphone_denied');
    expect(await denied.textContent()).toContain("We can't hear your microphone");
    expect(await denied.textContent()).toContain('Allow');
    expect(await refused.page.getByRole('button', { name: 'Try again' }).isVisible()).toBe(true);
    await expectAccessible(refused.page, 'microphone refused');
    await screenshot(refused.page, 'patient-microphone-denied');
    expect(refused.joinPosts()).toBe(0);

    // A phone with no working microphone at all.
    const bare = await launchBrowser({ fakeMicrophone: false });
    try {
      const context = await newContext(bare, { phone: true, baseURL: f.url });
      const p = await context.newPage();
      await p.goto(`/join/${fresh.code}`);
      await p.getByRole('button', { name: 'Start' }).click();
      const missing = p.getByTestId('call-failure');
      await missing.waitFor({ timeout: 15_000 });
      expect(await missing.getAttribute('data-kind')).toBe('microphone_missing');
      expect(await missing.textContent()).toContain("We can't hear your microphone");
      await expectAccessible(p, 'no microphone');
    } finally {
      await bare.close();
    }
    expect(await linkUses(sessionId)).toBe(0);
  }, 60_000);

  it('a clinician runs a test call from the Patient Test page: captions for both sides, barge-in, and the answer filling in', async () => {
    const token = await f.staffToken(['clinician']);
    const { page, errors } = await open({ phone: false, staffToken: token });
    await page.goto('/test');
    await expect
      .poll(() => page.getByTestId('profile-select').inputValue(), { timeout: 15_000 })
      .toBe('intake');
    const startButton = page.getByRole('button', { name: 'Start test call' });
    await expect.poll(() => startButton.isEnabled(), { timeout: 15_000 }).toBe(true);
    const visitReason = page.locator('[data-testid="answers"] tr[data-field="visitReason"]');
    expect(await visitReason.getAttribute('data-answered')).toBe('false');
    await screenshot(page, 'patient-test-start');

    await startButton.click();
    await page.getByTestId('call-view').waitFor({ timeout: CALL_SETUP_MS });
    await caption(page, 'assistant', GREETING).waitFor({ timeout: 30_000 });
    await untilListening(page);

    h.standins.deepgram.hear(KNEE);
    await say(page, 'knee');
    await caption(page, 'you', KNEE).waitFor({ timeout: 20_000 });
    // The answer fills in while the agent moves on.
    await expect
      .poll(() => visitReason.getAttribute('data-answered'), { timeout: 20_000 })
      .toBe('true');
    expect(await visitReason.textContent()).toContain('knee pain when walking');

    // Barge-in: talking over the agent's long question stops it.
    await page
      .locator('[data-testid="agent-state"][data-state="speaking"]')
      .waitFor({ timeout: 20_000 });
    h.standins.deepgram.hear(AGAIN);
    const interrupting = say(page, 'again');
    await page
      .locator('[data-testid="agent-state"]:not([data-state="speaking"])')
      .waitFor({ timeout: 10_000 });
    await interrupting;
    await caption(page, 'you', AGAIN).waitFor({ timeout: 20_000 });
    await caption(page, 'assistant', AGAIN_REPLY).waitFor({ timeout: 20_000 });
    // The interrupted question was cut off: its caption stops short of the whole sentence.
    const cut = await page
      .locator('[data-testid="captions"] li[data-speaker="assistant"]', { hasText: 'Thank you' })
      .textContent();
    expect(cut).not.toContain('ones you have stopped');
    await untilListening(page);
    await screenshot(page, 'patient-test');

    await expectAccessible(page, 'Patient Test in call');

    // The clinician hangs up: the session completes as a patient leaving would.
    await page.getByRole('button', { name: 'End call' }).click();
    await page.getByTestId('call-ended').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('call-ended').getAttribute('data-ending')).toBe('you_hung_up');
    await expect
      .poll(() => page.getByTestId('session-state').textContent(), { timeout: 30_000 })
      .toContain('completed');
    expect(unexpected(errors)).toEqual([]);
  }, 240_000);
});
