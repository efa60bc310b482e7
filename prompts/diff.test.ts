import { describe, expect, it } from 'vitest';
import { diffProfiles, formatDiff } from './diff.ts';
import { minimalProfile } from './testing.ts';

describe('diffProfiles', () => {
  it('finds nothing between identical profiles, whatever their version numbers', () => {
    expect(diffProfiles(minimalProfile(), minimalProfile({ version: 2 }))).toEqual([]);
    expect(formatDiff([])).toEqual(['  no differences']);
  });

  it('reports changed, added and removed fields by path', () => {
    const a = minimalProfile();
    const b = minimalProfile({
      voice: { provider: 'local', voiceId: 'en-us', speed: 0.9 },
      closingMessage: 'Goodbye.',
      stt: { model: 'nova-3', keyTerms: ['metformin'] },
    });
    expect(formatDiff(diffProfiles(a, b))).toEqual([
      '  ~ voice.speed: 1 → 0.9',
      '  ~ stt.keyTerms: added "metformin"',
      '  + closingMessage: "Goodbye."',
    ]);
  });

  it('matches steps and rules by id, so an inserted step is one change', () => {
    const a = minimalProfile();
    const [feeling, pain] = a.protocol;
    if (!feeling || !pain) throw new Error('fixture changed');
    const sleep = {
      id: 'sleep',
      ask: 'How did you sleep?',
      intent: 'Sleep.',
      capture: { field: 'sleep', type: 'text' as const },
    };
    const b = minimalProfile({
      protocol: [feeling, sleep, { ...pain, ask: 'Pain, zero to ten?' }],
    });
    const changes = diffProfiles(a, b);
    expect(changes.map((c) => `${c.kind} ${c.path}`)).toEqual([
      'changed protocol[id=pain].ask',
      'added protocol[id=sleep]',
    ]);
  });

  it('reports a reordering of steps', () => {
    const a = minimalProfile();
    const b = minimalProfile({ protocol: [...a.protocol].reverse() });
    expect(formatDiff(diffProfiles(a, b))).toEqual([
      '  ~ protocol order: feeling, pain → pain, feeling',
    ]);
  });

  it('shows long text as before and after lines', () => {
    const a = minimalProfile({ instructions: 'Line one.\nLine two.' });
    const b = minimalProfile({ instructions: 'Line one.\nLine 2.' });
    expect(formatDiff(diffProfiles(a, b))).toEqual([
      '  ~ instructions:',
      '      - Line one.',
      '      - Line two.',
      '      + Line one.',
      '      + Line 2.',
    ]);
  });
});
