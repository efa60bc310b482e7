import { describe, expect, it } from 'vitest';
import { PreviewError, encodeWav, localVoiceFor, wavDurationMs } from './preview.ts';

describe('WAV helpers', () => {
  it('encodes PCM that decodes to the right duration', () => {
    const wav = encodeWav(new Int16Array(24_000 * 2), 24_000, 1);
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.length).toBe(44 + 96_000);
    expect(wavDurationMs(wav)).toBe(2000);
    expect(wavDurationMs(encodeWav(new Int16Array(22_050 * 2), 22_050, 2))).toBe(1000);
  });

  it('reads a streamed WAV whose data size was never filled in', () => {
    const wav = encodeWav(new Int16Array(16_000), 16_000, 1);
    wav.writeUInt32LE(0xffffffff, 40);
    expect(wavDurationMs(wav)).toBe(1000);
  });

  it('refuses something that is not a WAV', () => {
    expect(() => wavDurationMs(Buffer.from('hello world, not audio'))).toThrow(PreviewError);
  });
});

describe('localVoiceFor', () => {
  it('maps a language tag to an espeak-ng voice', () => {
    expect(localVoiceFor('en-US')).toBe('en-us');
    expect(localVoiceFor('es')).toBe('es');
  });
});
