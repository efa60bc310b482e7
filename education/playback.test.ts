import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { encodeWav } from '../prompts/preview.ts';
import { MemoryEducationStore } from './memory-store.ts';
import { clipFrames, decodeWav, loadClips } from './playback.ts';
import { draftScript } from './draft.ts';
import { loadConfig } from '../infra/config.ts';

const logger = pino({ level: 'silent' });

describe('education clips in a call', () => {
  it('decodes the WAV it renders and plays it as 20 ms frames', async () => {
    const samples = new Int16Array(22_050).map((_, i) => (i % 100) * 10);
    const pcm = decodeWav(encodeWav(samples, 22_050, 1));
    expect(pcm.sampleRate).toBe(22_050);
    expect([...pcm.samples]).toEqual([...samples]);
    const frames = [];
    for await (const f of clipFrames(pcm)) frames.push(f);
    expect(frames).toHaveLength(Math.ceil(22_050 / 441));
    expect(frames[0]?.samplesPerChannel).toBe(441);
    expect(frames.reduce((n, f) => n + f.samplesPerChannel, 0)).toBe(22_050);
    expect(() => decodeWav(Buffer.from('not a wav file at all'))).toThrow(/not a WAV/);
  });

  it('loads only playable clips, and leaves a script without one out', async () => {
    const store = new MemoryEducationStore();
    const at = new Date();
    for (const id of ['ready', 'unapproved']) {
      await store.addScriptVersion({
        scriptId: id,
        title: id,
        text: `Words of ${id}.`,
        profiles: ['p'],
        created: { by: 'dr', at },
      });
      await store.approveScript(id, 1, { by: 'gov', at });
      const clipId = `clip_${id.padEnd(12, 'x')}`;
      await store.addClip({
        clipId,
        scriptId: id,
        scriptVersion: 1,
        voice: { provider: 'local', voiceId: 'en-us', speed: 1 },
        requested: { by: 'dr', at },
      });
      const wav = encodeWav(new Int16Array(2205), 22_050, 1);
      const fileId = await store.saveAudio(clipId, wav, { mimeType: 'audio/wav' });
      await store.reportClip(clipId, {
        state: 'ready',
        audio: {
          fileId,
          format: 'wav',
          mimeType: 'audio/wav',
          sampleRate: 22_050,
          channels: 1,
          durationMs: 100,
          bytes: wav.length,
          sha256: 'x',
        },
        renderedAt: at,
      });
      if (id === 'ready') await store.approveClip(clipId, { by: 'gov', at });
    }
    const loaded = await loadClips(store, ['ready', 'unapproved', 'missing'], { logger });
    expect([...loaded.keys()]).toEqual(['ready']);
    expect(loaded.get('ready')).toMatchObject({ text: 'Words of ready.', durationMs: 100 });
  });

  it('refuses to draft with no LLM configured', async () => {
    await expect(
      draftScript(loadConfig({}).providers.openai, { topic: 'x', documents: [] }),
    ).rejects.toMatchObject({ code: 'llm_not_configured' });
  });
});
