/**
 * Render jobs: a clip request becomes audio, sentence by sentence (each sentence done moves the
 * progress on), joined with a short pause, encoded as 16-bit PCM WAV (what every browser and the
 * agent play without a decoder; no encoder library is needed) and kept in GridFS.
 *
 * Jobs run in the API process, one at a time by default (a cloud voice is network-bound, espeak-ng
 * takes most of a core). Their state is in the store, not in memory: `resume()` takes up the jobs a
 * stopped process left queued or rendering, so a restart loses none. Every job is tracked and
 * aborted on `close()`, which waits for them within its deadline.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../infra/logger.ts';
import { settlesWithin } from '../infra/time.ts';
import { VoiceCareError } from '../infra/errors.ts';
import { encodeWav } from '../prompts/preview.ts';
import type { ClipAudio } from './schema.ts';
import type { EducationStore } from './store.ts';
import type { Pcm, Synthesizer } from './voices.ts';

/** Pause between sentences, in ms: espeak-ng and the cloud voices end each one abruptly. */
export const SENTENCE_GAP_MS = 250;

/** Sentences (and the words after the last full stop), for per-sentence synthesis. */
export function sentencesOf(text: string): string[] {
  const found = text.match(/[^.!?\n]+(?:[.!?]+["')\]]*|\n|$)/g) ?? [];
  return found.map((s) => s.trim()).filter((s) => /[\p{L}\p{N}]/u.test(s));
}

/** Joins PCM pieces of one rate with `gapMs` of silence between them. */
export function joinPcm(parts: readonly Pcm[], gapMs: number): Pcm {
  const rate = parts[0]?.sampleRate;
  if (rate === undefined) throw new RangeError('joinPcm: nothing to join');
  if (parts.some((p) => p.sampleRate !== rate)) {
    throw new RangeError('joinPcm: the voice changed its sample rate mid-script');
  }
  const gap = Math.round((rate * gapMs) / 1000);
  const total = parts.reduce((n, p) => n + p.samples.length, 0) + gap * (parts.length - 1);
  const out = new Int16Array(total);
  let at = 0;
  parts.forEach((p, i) => {
    out.set(p.samples, at);
    at += p.samples.length + (i < parts.length - 1 ? gap : 0);
  });
  return { samples: out, sampleRate: rate };
}

export interface ClipRendererOptions {
  store: EducationStore;
  synthesizer: Synthesizer;
  logger: Logger;
  /** Jobs at once. @defaultValue 1 */
  concurrency?: number;
  /** @defaultValue `() => new Date()` */
  now?: () => Date;
}

export class ClipRenderer {
  readonly #o: Required<Omit<ClipRendererOptions, 'logger'>> & { logger: Logger };
  readonly #waiting: string[] = [];
  readonly #running = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();

  constructor(opts: ClipRendererOptions) {
    const concurrency = opts.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError('ClipRenderer: concurrency must be a whole number of at least 1');
    }
    this.#o = { now: () => new Date(), ...opts, concurrency };
  }

  /** Starts (or queues) the job of a clip already stored as `queued`. */
  enqueue(clipId: string): void {
    if (this.#abort.signal.aborted) return;
    if (this.#running.has(clipId) || this.#waiting.includes(clipId)) return;
    this.#waiting.push(clipId);
    this.#pump();
  }

  /** Takes up the jobs a previous process left unfinished. */
  async resume(): Promise<number> {
    const left = await this.#o.store.listClips({ states: ['queued', 'rendering'] });
    for (const c of [...left].reverse()) this.enqueue(c.clipId);
    return left.length;
  }

  /** Resolves when no job is running or waiting (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  /** Aborts the jobs; they stay `rendering` in the store and the next process resumes them. */
  async close(deadlineMs = 3000): Promise<void> {
    this.#waiting.length = 0;
    this.#abort.abort(new Error('the renderer is closing'));
    await settlesWithin(this.idle(), deadlineMs, 'closing the clip renderer');
  }

  #pump(): void {
    while (this.#running.size < this.#o.concurrency && this.#waiting.length > 0) {
      const clipId = this.#waiting.shift() as string;
      const job = this.#render(clipId).finally(() => {
        this.#running.delete(clipId);
        this.#pump();
      });
      this.#running.set(clipId, job);
    }
  }

  async #render(clipId: string): Promise<void> {
    const { store, synthesizer, logger } = this.#o;
    const signal = this.#abort.signal;
    const started = Date.now();
    try {
      const clip = await store.getClip(clipId);
      if (!clip || clip.state === 'ready' || clip.state === 'failed') return;
      const script = await store.getScript(clip.scriptId);
      const version = script?.versions.find((v) => v.version === clip.scriptVersion);
      if (!version) {
        await store.reportClip(clipId, {
          state: 'failed',
          error: { code: 'script_missing', message: 'the script version is gone' },
        });
        return;
      }
      const sentences = sentencesOf(version.text);
      if (sentences.length === 0) {
        await store.reportClip(clipId, {
          state: 'failed',
          error: { code: 'script_empty', message: 'the script has no words to speak' },
        });
        return;
      }
      await store.reportClip(clipId, { state: 'rendering', progress: 0 });
      const parts: Pcm[] = [];
      for (const [i, sentence] of sentences.entries()) {
        parts.push(await synthesizer.synthesize(sentence, clip.voice, signal));
        if (signal.aborted) return;
        await store.reportClip(clipId, {
          state: 'rendering',
          // The last step (storing) is the remaining few percent.
          progress: Math.round(((i + 1) / sentences.length) * 95) / 100,
        });
      }
      const pcm = joinPcm(parts, SENTENCE_GAP_MS);
      const wav = encodeWav(pcm.samples, pcm.sampleRate, 1);
      const fileId = await store.saveAudio(clipId, wav, { mimeType: 'audio/wav' });
      const audio: ClipAudio = {
        fileId,
        format: 'wav',
        mimeType: 'audio/wav',
        sampleRate: pcm.sampleRate,
        channels: 1,
        durationMs: Math.round((pcm.samples.length / pcm.sampleRate) * 1000),
        bytes: wav.length,
        sha256: createHash('sha256').update(wav).digest('hex'),
      };
      await store.reportClip(clipId, { state: 'ready', audio, renderedAt: this.#o.now() });
      logger.info(
        {
          clipId,
          provider: clip.voice.provider,
          sentences: sentences.length,
          durationMs: audio.durationMs,
          renderMs: Date.now() - started,
        },
        'education clip rendered',
      );
    } catch (err) {
      if (signal.aborted) return;
      const code = err instanceof VoiceCareError ? err.code : 'render_failed';
      // Messages are ours or the synthesiser's (stderr, HTTP status): never the script text.
      const message = err instanceof Error ? err.message : String(err);
      logger.warn({ clipId, code, err }, 'education clip render failed');
      await store
        .reportClip(clipId, { state: 'failed', error: { code, message: message.slice(0, 300) } })
        .catch((e: unknown) => logger.error({ clipId, err: e }, 'education clip state not saved'));
    }
  }
}
