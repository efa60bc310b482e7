/**
 * The console end to end, as a clinical team uses it, in Debian's Chromium against the real stack
 * (API serving the built console, dispatcher, agent worker, LiveKit, FerretDB, the Pub/Sub
 * emulator; AI vendors stood in): an admin edits the intake profile's first message in Agent
 * setup and publishes it; a patient opens a join link on a phone and hears the new greeting (the
 * energy of the page's own audio output is measured in the page); the clinician's dashboard shows
 * the greeting in the live transcript; the patient then says a red flag and the escalation shows
 * on the dashboard within 2 s of the agent's spoken response.
 */
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleDir } from '../api/console.ts';
import { readProfile } from '../prompts/loader.ts';
import type { AgentHarness } from './support/agent-harness.ts';
import { launchBrowser, newContext, pageErrors, screenshot } from './support/browser.ts';
import {
  installRemoteAudioProbe,
  installScriptedMicrophone,
  pageNow,
  remoteAudioLevel,
  say,
  spokenAnswer,
} from './support/call-page.ts';
import { json, type ApiFixture } from './support/api.ts';
import { uniqueName } from './support/env.ts';
import { startFullStack, type FullStack } from './support/full-stack.ts';

const intake = await readProfile(fileURLToPath(new URL('../prompts/intake.yaml', import.meta.url)));
/** Long enough that a loaded machine's slow turns never end the call for silence. */
const override = { limits: { ...intake.limits, silenceTimeoutMs: 60_000 } };
const NEW_FIRST_MESSAGE =
  'Hello {{patient.displayName or "there"}}, this is the heart clinic with a short check-in. Is now a good time?';
const NEW_GREETING = 'Hello there, this is the heart clinic with a short check-in.';
const RED_FLAG = 'i have a crushing pain in my chest right now';
/** The start of the chest-pain rule's fixed response (prompts/intake.yaml). */
const SAFETY_RESPONSE = "I'm worried about what you're describing";
/** Placement on a cold, loaded 2-core machine (see tests/api-flow.test.ts). */
const CALL_SETUP_MS = 150_000;

const unexpected = (errors: string[]): string[] =>
  errors.filter((e) => !e.startsWith('Failed to load resource'));

describe('the console end to end, in Chromium', () => {
  let stack: FullStack;
  let h: AgentHarness;
  let f: ApiFixture;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const clips: Record<string, Buffer> = {};

  beforeAll(async () => {
    if (!consoleDir()) throw new Error('the console is not built: run `npm run console:build`');
    const [started, redFlag] = await Promise.all([
      startFullStack([{ file: 'intake.yaml', override }]),
      spokenAnswer('red-flag', RED_FLAG),
    ]);
    stack = started;
    ({ h, api: f } = stack);
    clips['red-flag'] = redFlag.wav;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await Promise.allSettled(contexts.map((c) => c.close()));
    await browser?.close();
    await stack?.close();
  });

  async function signedIn(token: string, phone = false): Promise<{ page: Page; errors: string[] }> {
    const context = await newContext(browser, { baseURL: f.url, phone });
    contexts.push(context);
    await context.addInitScript({
      content: `sessionStorage.setItem('voicecare.staffToken', ${JSON.stringify(token)});`,
    });
    const page = await context.newPage();
    return { page, errors: pageErrors(page) };
  }

  it('an admin publishes a new first message; the patient hears it and the dashboard shows it; a red flag reaches the dashboard within 2 s of the spoken response', async () => {
    // 1. Agent setup: edit the first message in the form and publish it with a note.
    const admin = await signedIn(await f.staffToken(['admin'], { name: 'Dr Ada Admin' }));
    admin.page.on('dialog', (d) => void d.accept());
    await admin.page.goto('/setup/intake');
    await admin.page.getByTestId('edit-draft').click();
    await admin.page.getByTestId('field-first-message').fill(NEW_FIRST_MESSAGE);
    await expect
      .poll(() => admin.page.getByTestId('validation-status').textContent(), { timeout: 15_000 })
      .toBe('Valid');
    await admin.page.getByTestId('publish-note').fill('Heart clinic greeting');
    await admin.page.getByTestId('publish-button').click();
    await expect
      .poll(() => admin.page.getByTestId('publish-success').textContent(), { timeout: 15_000 })
      .toMatch(/Published version 2/);

    // 2. A backend asks for a call and a join link (the console's API, as a service would).
    const backend = `ApiKey ${await f.apiKey(['sessions:create', 'sessions:read'])}`;
    const created = await f.fetch('/v1/sessions', {
      ...json({ profile: { id: 'intake' }, patient: { ref: uniqueName('pt') } }),
      auth: backend,
    });
    expect(created.status).toBe(202);
    const { sessionId } = (await created.json()) as { sessionId: string };
    const link = await f.fetch(`/v1/sessions/${sessionId}/join-link`, {
      method: 'POST',
      auth: backend,
    });
    expect(link.status).toBe(201);
    const { page: patientPath } = (await link.json()) as { page: string };

    // 3. The clinician watches that call on the dashboard.
    const clinician = await signedIn(await f.staffToken(['clinician'], { name: 'RN Lee' }));
    await clinician.page.goto(`/?watch=${encodeURIComponent(sessionId)}`);
    await clinician.page
      .locator('[data-testid="live-status"][data-status="open"]')
      .waitFor({ timeout: 20_000 });

    // 4. The patient opens the link on a phone, presses Start and hears the new greeting.
    const context = await newContext(browser, { baseURL: f.url, phone: true });
    contexts.push(context);
    await installScriptedMicrophone(context, clips);
    await installRemoteAudioProbe(context);
    const patient = await context.newPage();
    const patientErrors = pageErrors(patient);
    await patient.goto(patientPath);
    await patient.getByRole('button', { name: 'Start' }).click();
    await patient.getByTestId('call-view').waitFor({ timeout: CALL_SETUP_MS });
    const assistantSaid = (text: string) =>
      patient.locator('[data-testid="captions"] li[data-speaker="assistant"]', { hasText: text });
    await assistantSaid(NEW_GREETING).waitFor({ timeout: 30_000 });
    await patient
      .locator('[data-testid="agent-state"][data-state="listening"]')
      .waitFor({ timeout: 30_000 });
    const greeting = await remoteAudioLevel(patient);
    const quietFrom = await pageNow(patient);
    await expect
      .poll(async () => (await remoteAudioLevel(patient, quietFrom)).readings, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(40);
    const quiet = await remoteAudioLevel(patient, quietFrom);
    console.log(
      `patient page audio: greeting peak RMS ${greeting.peak.toFixed(4)}, listening median ${quiet.median.toFixed(5)}`,
    );
    expect(greeting.peak).toBeGreaterThan(0.02);
    expect(greeting.peak).toBeGreaterThan(10 * quiet.median);

    // 5. The dashboard's live transcript shows the new first message, with no reload.
    await clinician.page
      .locator('[data-testid="live-transcript-line"]', { hasText: NEW_GREETING })
      .waitFor({ timeout: 20_000 });
    await screenshot(clinician.page, 'flow-dashboard-live');

    // 6. A red flag: the agent's fixed response plays, and the escalation reaches the dashboard.
    const escalation = clinician.page.locator(
      `[data-testid="escalation"][data-session-id="${sessionId}"][data-rule-id="chest-pain"]`,
    );
    h.standins.deepgram.hear(RED_FLAG);
    const spoken = say(patient, 'red-flag');
    const [respondedAt, escalatedAt] = await Promise.all([
      assistantSaid(SAFETY_RESPONSE)
        .waitFor({ timeout: 45_000 })
        .then(() => Date.now()),
      escalation.waitFor({ timeout: 45_000 }).then(() => Date.now()),
    ]);
    await spoken;
    console.log(
      `escalation on the dashboard ${escalatedAt - respondedAt} ms after the response was captioned`,
    );
    expect(escalatedAt - respondedAt).toBeLessThanOrEqual(2000);
    expect(await escalation.textContent()).toContain('chest-pain');
    await screenshot(clinician.page, 'flow-dashboard-escalation');
    await screenshot(patient, 'flow-patient-red-flag');

    // The rule ends the call: the session reaches its terminal state with the escalation on it.
    await expect
      .poll(
        async () => {
          const res = await f.fetch(`/v1/sessions/${sessionId}`, { auth: backend });
          return ((await res.json()) as { state: string }).state;
        },
        { timeout: 60_000 },
      )
      .toMatch(/^(completed|interrupted)$/);
    expect(unexpected(admin.errors)).toEqual([]);
    expect(unexpected(clinician.errors)).toEqual([]);
    expect(unexpected(patientErrors)).toEqual([]);
  }, 300_000);
});
