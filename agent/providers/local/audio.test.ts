import { AudioFrame } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { PcmFramer, RECOGNIZER_SAMPLE_RATE, toRecognizerAudio } from './audio.ts';

function sine(rate: number, ms: number, channels = 1): AudioFrame {
  const n = (rate * ms) / 1000;
  const data = new Int16Array(n * channels);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < channels; c++) {
      data[i * channels + c] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate));
    }
  }
  return new AudioFrame(data, rate, channels, n);
}

describe('audio for the recogniser', () => {
  it('passes 16 kHz mono through untouched, joining frames', () => {
    const a = sine(16_000, 10);
    const b = sine(16_000, 20);
    const out = toRecognizerAudio([a, b]);
    expect(out.length).toBe(480);
    expect(out.subarray(0, 160)).toEqual(a.data);
  });

  it('resamples 48 kHz stereo to 16 kHz mono of the same duration', () => {
    const frames = Array.from({ length: 50 }, () => sine(48_000, 10, 2));
    const out = toRecognizerAudio(frames);
    // 500 ms; the resampler may hold back a few samples of filter delay.
    expect(out.length).toBeGreaterThan(0.49 * RECOGNIZER_SAMPLE_RATE);
    expect(out.length).toBeLessThanOrEqual(0.5 * RECOGNIZER_SAMPLE_RATE);
    expect(Math.max(...out.subarray(2000, 4000))).toBeGreaterThan(6000);
  });

  it('makes nothing of nothing', () => {
    expect(toRecognizerAudio([])).toHaveLength(0);
  });
});

describe('PCM framer', () => {
  it('cuts bytes into whole frames whatever their chunking, keeping the rest', () => {
    const framer = new PcmFramer(22_050, 4);
    const bytes = Buffer.alloc(22);
    for (let i = 0; i < 11; i++) bytes.writeInt16LE(i * 100 - 500, i * 2);
    const frames = [
      ...framer.push(bytes.subarray(0, 3)),
      ...framer.push(bytes.subarray(3, 17)),
      ...framer.push(bytes.subarray(17)),
    ];
    expect(frames.map((f) => [...f.data])).toEqual([
      [-500, -400, -300, -200],
      [-100, 0, 100, 200],
    ]);
    expect(frames[0]?.sampleRate).toBe(22_050);
    expect([...(framer.flush()?.data ?? [])]).toEqual([300, 400, 500]);
    expect(framer.flush()).toBeUndefined();
  });
});
