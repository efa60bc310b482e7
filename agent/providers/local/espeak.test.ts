import { describe, expect, it } from 'vitest';
import {
  BASE_WORDS_PER_MINUTE,
  WavStreamParser,
  parseVariantList,
  parseVoice,
  speedToWordsPerMinute,
} from './espeak.ts';

describe('voice speed', () => {
  it('maps the profile speed onto espeak-ng words per minute around 175', () => {
    expect(speedToWordsPerMinute(1)).toBe(BASE_WORDS_PER_MINUTE);
    expect(speedToWordsPerMinute(0.7)).toBe(123);
    expect(speedToWordsPerMinute(0.95)).toBe(166);
    expect(speedToWordsPerMinute(1.2)).toBe(210);
  });

  it('refuses speeds outside what every provider supports', () => {
    for (const speed of [0.69, 1.21, 0, Number.NaN]) {
      expect(() => speedToWordsPerMinute(speed)).toThrow(RangeError);
    }
  });
});

describe('voice names', () => {
  it('splits a voice from its variant', () => {
    expect(parseVoice('en-us')).toEqual({ name: 'en-us', variant: undefined });
    expect(parseVoice('en-us+f3')).toEqual({ name: 'en-us', variant: 'f3' });
    expect(parseVoice('en-gb-x-rp')).toEqual({ name: 'en-gb-x-rp', variant: undefined });
  });

  it('refuses anything that could be read as an option or a path', () => {
    for (const voice of ['', '-q', 'en us', '../en', 'en-us+f3+m1', 'en-us+', '+f3']) {
      expect(() => parseVoice(voice)).toThrow(RangeError);
    }
  });

  it('reads variant names from the espeak-ng variant listing', () => {
    const listing = [
      'Pty Language       Age/Gender VoiceName          File                 Other Languages',
      ' 5  variant         --/M      Alex               !v/Alex              ',
      ' 5  variant         --/F      female3            !v/f3                ',
    ].join('\n');
    expect([...parseVariantList(listing)]).toEqual(['Alex', 'f3']);
  });
});

/** A WAV header as espeak-ng writes it to a pipe: sizes unknown, so 0x7ffff000. */
function wavHeader(sampleRate: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(0x7ffff024, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(0x7ffff000, 40);
  return h;
}

describe('WAV stream from espeak-ng', () => {
  it('yields the PCM after the header however the bytes are split', () => {
    const pcm = Buffer.from([1, 0, 2, 0, 3, 0]);
    const bytes = Buffer.concat([wavHeader(22_050), pcm]);
    const parser = new WavStreamParser();
    const out: Buffer[] = [];
    for (const b of bytes) out.push(parser.push(Buffer.from([b])));
    expect(Buffer.concat(out)).toEqual(pcm);
    expect(parser.format).toEqual({ sampleRate: 22_050, channels: 1, bitsPerSample: 16 });
  });

  it('skips chunks before the data', () => {
    const header = wavHeader(16_000);
    const list = Buffer.concat([
      Buffer.from('LIST', 'ascii'),
      Buffer.from([4, 0, 0, 0]),
      Buffer.alloc(4),
    ]);
    const bytes = Buffer.concat([
      header.subarray(0, 36),
      list,
      header.subarray(36),
      Buffer.from([9, 0]),
    ]);
    const parser = new WavStreamParser();
    expect(parser.push(bytes)).toEqual(Buffer.from([9, 0]));
    expect(parser.format?.sampleRate).toBe(16_000);
  });

  it('rejects a stream that is not a WAV', () => {
    expect(() => new WavStreamParser().push(Buffer.from('Error: voice not found'))).toThrow(
      /not a WAV/,
    );
  });
});
