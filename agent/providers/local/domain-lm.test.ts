import { describe, expect, it } from 'vitest';
import { arpaWords, buildArpa, domainSentences } from './domain-lm.ts';
import type { Profile } from '../../../prompts/schema.ts';

const dict = { has: (w: string) => /^[a-z']+$/.test(w) && w !== 'metformin' };

/** Parses the n-gram tables of an ARPA model: order → (n-gram → [log10 p, log10 backoff]). */
function tables(arpa: string): Map<number, Map<string, [number, number]>> {
  const out = new Map<number, Map<string, [number, number]>>();
  let order = 0;
  for (const line of arpa.split('\n')) {
    const head = /^\\(\d)-grams:$/.exec(line);
    if (head) {
      order = Number(head[1]);
      out.set(order, new Map());
    } else if (line.startsWith('\\')) order = 0;
    else if (order && line.trim()) {
      const f = line.split(' ');
      const words = f.slice(1, 1 + order).join(' ');
      out.get(order)!.set(words, [Number(f[0]), Number(f[1 + order] ?? 0)]);
    }
  }
  return out;
}

describe('buildArpa', () => {
  const arpa = buildArpa(['my chest hurts', 'my knee hurts', 'I take metformin', 'yes'], dict);

  it('writes a header whose counts match its tables', () => {
    const t = tables(arpa);
    for (const n of [1, 2, 3]) {
      expect(arpa).toContain(`ngram ${n}=${t.get(n)!.size}`);
    }
    expect(arpa.trimEnd().endsWith('\\end\\')).toBe(true);
  });

  it('leaves out sentences with words the recogniser cannot hear', () => {
    expect(arpaWords(arpa)).toEqual(['chest', 'hurts', 'knee', 'my', 'yes']);
  });

  it('gives each history a proper distribution: seen words plus backed-off mass sum to one', () => {
    const t = tables(arpa);
    const uni = t.get(1)!;
    const bi = t.get(2)!;
    const p1 = (w: string) => 10 ** (uni.get(w)?.[0] ?? -99);
    const vocab = [...uni.keys()].filter((w) => w !== '<s>');
    const sumUni = vocab.reduce((a, w) => a + p1(w), 0);
    expect(sumUni).toBeCloseTo(1, 3);
    for (const h of ['my', '<s>']) {
      const bo = 10 ** (uni.get(h)?.[1] ?? 0);
      const total = vocab.reduce((a, w) => {
        const seen = bi.get(`${h} ${w}`);
        return a + (seen ? 10 ** seen[0] : bo * p1(w));
      }, 0);
      expect(total, h).toBeCloseTo(1, 3);
    }
  });
});

describe('domainSentences', () => {
  it('holds the profile’s questions, choices and red flags inside everyday carriers', () => {
    const profile = {
      endPhrases: ['goodbye'],
      protocol: [
        {
          ask: 'How would you like us to contact you?',
          capture: { type: 'choice', choices: ['phone call', 'email'] },
        },
      ],
      safety: [{ id: 'chest-pain', phrases: ['chest pain'] }],
    } as unknown as Profile;
    const s = domainSentences([profile]);
    for (const want of [
      'goodbye',
      'How would you like us to contact you?',
      'email',
      'I have chest pain',
      'my knee hurts',
    ]) {
      expect(s).toContain(want);
    }
  });
});
