/**
 * What a browser test of a call needs around Chromium: a microphone the test speaks into on cue,
 * a meter on the audio the page plays, spoken answers as WAV files, and an axe-core check.
 *
 * The microphone: Chromium's fake device plays a WAV from the moment the page opens it, and the
 * agent framework discards what a patient says in the first 3 s of its first speech
 * (`aecWarmupDuration`), so a file's timing would race the greeting on a loaded machine. Instead
 * the page's `getUserMedia` still runs for real (so a refused permission or a missing device
 * fails as it would), and the stream it hands the page is a WebAudio one that stays silent
 * until the test plays a WAV into it (`say`), once the agent is listening. INFRA.md suggests the
 * same for more than one turn.
 *
 * The meter: Chromium feeds remote WebRTC audio to WebAudio only while an element plays it, so
 * the probe taps the page's own `<audio>` elements (LiveKit's RoomAudioRenderer) with an
 * AnalyserNode and records the RMS of each 50 ms.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { concatPcm, silence, synthesize, type Pcm } from '../../sim/speech.ts';

const WAV_DIR = new URL('../../.run/call-audio/', import.meta.url).pathname;

/** A 16-bit mono WAV of `pcm`. */
export function wavBytes(pcm: Pcm): Buffer {
  const data = Buffer.from(pcm.samples.buffer, pcm.samples.byteOffset, pcm.samples.byteLength);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(pcm.sampleRate, 24);
  h.writeUInt32LE(pcm.sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** `text` spoken by espeak-ng (sim/speech.ts) with a little silence around it, as a WAV file. */
export async function spokenAnswer(
  name: string,
  text: string,
): Promise<{ path: string; wav: Buffer }> {
  const speech = await synthesize(text, { sampleRate: 48_000 });
  const wav = wavBytes(concatPcm(silence(200, 48_000), speech, silence(600, 48_000)));
  await mkdir(WAV_DIR, { recursive: true });
  const path = join(WAV_DIR, `${name}.wav`);
  await writeFile(path, wav);
  return { path, wav };
}

const pageScript = (name: string): Promise<string> =>
  readFile(new URL(`./page-scripts/${name}`, import.meta.url), 'utf8');

/** Installs the scripted microphone in every page of `context`, with these clips to say. */
export async function installScriptedMicrophone(
  context: BrowserContext,
  clips: Record<string, Buffer>,
): Promise<void> {
  const encoded = Object.fromEntries(
    Object.entries(clips).map(([k, v]) => [k, v.toString('base64')]),
  );
  const src = await pageScript('scripted-microphone.js');
  await context.addInitScript({
    content: `window.__microphoneClips = ${JSON.stringify(encoded)};\n${src}`,
  });
}

/** Plays a clip into the page's microphone; resolves when it has played, with its length. */
export const say = (page: Page, clip: string): Promise<number> =>
  page.evaluate(
    (name) =>
      (
        globalThis as unknown as { __microphone: { say(n: string): Promise<number> } }
      ).__microphone.say(name),
    clip,
  );

/** Records the RMS level of whatever the page's `<audio>` elements play, every 50 ms. */
export async function installRemoteAudioProbe(context: BrowserContext): Promise<void> {
  await context.addInitScript({ content: await pageScript('remote-audio-probe.js') });
}

interface ProbeWindow {
  __remoteAudio?: { samples: { t: number; rms: number }[]; tracks: number };
}

/** The page's clock, to mark moments for {@link remoteAudioLevel}. */
export const pageNow = (page: Page): Promise<number> => page.evaluate(() => performance.now());

/** RMS of the page's played audio between two page times: peak, median, and how many readings. */
export async function remoteAudioLevel(
  page: Page,
  from = 0,
  to = Number.POSITIVE_INFINITY,
): Promise<{ peak: number; median: number; readings: number; tracks: number }> {
  const { levels, tracks } = await page.evaluate(
    ([a, b]) => {
      const probe = (globalThis as unknown as ProbeWindow).__remoteAudio;
      const levels = (probe?.samples ?? []).filter((x) => x.t >= a && x.t <= b).map((x) => x.rms);
      return { levels, tracks: probe?.tracks ?? 0 };
    },
    [from, to === Number.POSITIVE_INFINITY ? 1e15 : to] as const,
  );
  const sorted = [...levels].sort((x, y) => x - y);
  return {
    peak: sorted.at(-1) ?? 0,
    median: sorted[Math.floor(sorted.length / 2)] ?? 0,
    readings: levels.length,
    tracks,
  };
}

export { seriousA11yViolations } from './browser.ts';
