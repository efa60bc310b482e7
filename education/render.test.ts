import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryEducationStore } from './memory-store.ts';
import { ClipRenderer, joinPcm, sentencesOf } from './render.ts';
import { providerSynthesizer, VoiceFailedError, type Synthesizer } from './voices.ts';
import { loadConfig } from '../infra/config.ts';

const logger = pino({ level: 'silent' });
const VOICE = { provider: 'local' as const, voiceId: 'en-us', speed: 1 };

async function setup(text: string, synthesizer: Synthesizer) {
  const store = new MemoryEducationStore();
  await store.addScriptVersion({
    scriptId: 'knee',
    title: 'Knee',
    text,
    profiles: ['p'],
    created: { by: 'dr', at: new Date() },
  });
  const clip = await store.addClip({
    clipId: 'clip_aaaaaaaaaaaa',
    scriptId: 'knee',
    scriptVersion: 1,
    voice: VOICE,
    requested: { by: 'dr', at: new Date() },
  });
  return { store, clip, renderer: new ClipRenderer({ store, synthesizer, logger }) };
}

describe('education clip rendering', () => {
  it('cuts a script into sentences and joins their audio with a pause', () => {
    expect(sentencesOf('Bend your knee. Hold it! Now rest\nThen walk.  ...')).toEqual([
      'Bend your knee.',
      'Hold it!',
      'Now rest',
      'Then walk.',
    ]);
    const joined = joinPcm(
      [
        { samples: new Int16Array([1, 2]), sampleRate: 1000 },
        { samples: new Int16Array([3]), sampleRate: 1000 },
      ],
      2,
    );
    expect([...joined.samples]).toEqual([1, 2, 0, 0, 3]);
  });

  it('reports progress per sentence, then stores a WAV with its duration and rate', async () => {
    const seen: number[] = [];
    const fake: Synthesizer = {
      synthesize: async () => ({ samples: new Int16Array(1000).fill(500), sampleRate: 10_000 }),
    };
    const { store, clip, renderer } = await setup('One. Two. Three. Four.', fake);
    const report = store.reportClip.bind(store);
    store.reportClip = async (id, p) => {
      if (p.state === 'rendering') seen.push(p.progress);
      return report(id, p);
    };
    renderer.enqueue(clip.clipId);
    await renderer.idle();
    const done = await store.getClip(clip.clipId);
    expect(seen).toEqual([0, 0.24, 0.48, 0.71, 0.95]);
    expect(done).toMatchObject({ state: 'ready', progress: 1 });
    // 4 × 100 ms of speech and 3 × 250 ms of pause.
    expect(done?.audio).toMatchObject({ sampleRate: 10_000, durationMs: 1150, format: 'wav' });
    const bytes: Buffer[] = [];
    for await (const b of store.readAudio(done?.audio?.fileId ?? '')) bytes.push(b);
    const wav = Buffer.concat(bytes);
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.length).toBe(44 + 11_500 * 2);
  });

  it('fails the job with the voice error, never the script text', async () => {
    const broken: Synthesizer = {
      synthesize: async () => {
        throw new VoiceFailedError('elevenlabs could not synthesise: 500');
      },
    };
    const { store, clip, renderer } = await setup('Secret words here.', broken);
    renderer.enqueue(clip.clipId);
    await renderer.idle();
    const failed = await store.getClip(clip.clipId);
    expect(failed).toMatchObject({
      state: 'failed',
      error: { code: 'voice_failed', message: 'elevenlabs could not synthesise: 500' },
    });
  });

  it('renders in the embedded espeak-ng voice, and refuses a voice it does not have', async () => {
    const synth = providerSynthesizer(loadConfig({}).providers);
    const pcm = await synth.synthesize('Bend your knee.', VOICE, new AbortController().signal);
    expect(pcm.sampleRate).toBe(22_050);
    expect(pcm.samples.length).toBeGreaterThan(22_050 * 0.5);
    await expect(
      synth.synthesize('Hello.', { ...VOICE, voiceId: 'xx-nope' }, new AbortController().signal),
    ).rejects.toMatchObject({ code: 'voice_unavailable' });
  });

  it('takes up the jobs a stopped process left queued', async () => {
    const fake: Synthesizer = {
      synthesize: async () => ({ samples: new Int16Array(10), sampleRate: 8000 }),
    };
    const { store, clip } = await setup('Hello.', fake);
    const next = new ClipRenderer({ store, synthesizer: fake, logger });
    expect(await next.resume()).toBe(1);
    await next.idle();
    expect((await store.getClip(clip.clipId))?.state).toBe('ready');
  });
});
