import { describe, expect, it } from 'vitest';
import type { AgentAudioFrame } from '../../sim/patient.ts';
import { chooseSetting, replyStartWithin, type SettingResult } from './turns.ts';

const result = (
  name: string,
  v2v: number | undefined,
  cutOffs: number,
  paused = 6,
): SettingResult => ({
  name,
  vadMinSilenceMs: 0,
  endpointingMinDelayMs: 0,
  v2vMedianMs: v2v,
  v2vP95Ms: v2v,
  v2vSamples: [],
  pausedTurns: paused,
  cutOffs,
  cutOffRate: paused ? cutOffs / paused : undefined,
  cutOffAt: [],
  failures: [],
});

describe('chooseSetting', () => {
  it('takes the quickest setting that cuts patients off no more often than the default', () => {
    expect(
      chooseSetting([result('default', 900, 1), result('quicker', 700, 1), result('fast', 550, 3)]),
    ).toBe('quicker');
    expect(chooseSetting([result('default', 900, 0), result('fast', 550, 1)])).toBe('default');
  });

  it('chooses nothing without a measured default, and skips settings with no voice-to-voice', () => {
    expect(chooseSetting([result('fast', 550, 0)])).toBeUndefined();
    expect(chooseSetting([result('default', 900, 0, 0), result('fast', 550, 0)])).toBeUndefined();
    expect(chooseSetting([result('default', 900, 1), result('fast', undefined, 0)])).toBe(
      'default',
    );
  });
});

describe('replyStartWithin', () => {
  /** 10 ms frames from `t0`, loud where `pattern` has an x. */
  const frames = (t0: number, pattern: string): AgentAudioFrame[] =>
    [...pattern].map((c, i) => ({
      at: t0 + i * 10,
      dbfs: c === 'x' ? -20 : -90,
      samplesPerChannel: 480,
      sampleRate: 48_000,
      participantIdentity: 'agent-1',
    }));

  it('counts a reply that began before the patient finished, not a short blip', () => {
    const reply = 'x'.repeat(30);
    expect(replyStartWithin(frames(1000, `...${reply}`), -45, 1000, 1100)).toBe(1030);
    // A 60 ms blip during the sentence, the reply after it.
    const blip = frames(1000, `..xxxxxx${'.'.repeat(40)}${reply}`);
    expect(replyStartWithin(blip, -45, 1000, 1200)).toBeUndefined();
    // Short gaps inside a reply do not split it.
    expect(replyStartWithin(frames(1000, `xxxxxxxx..xxxxxxxx..xxxxxxxxxx`), -45, 999, 1010)).toBe(
      1000,
    );
    expect(replyStartWithin(frames(1000, `..${reply}`), -45, 1000, 1015)).toBeUndefined();
  });
});
