/**
 * The speech-level safety eval on a few lines, in two voices, through the real LiveKit server
 * and the embedded recogniser. It checks the pipeline and its report, not accuracy: the figures
 * of a full run belong in a report, and synthetic voices vary too much for a threshold here.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSpeechEval } from '../eval/safety/speech.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'speech-eval-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('speech-level safety eval', () => {
  it('speaks every line in every voice through LiveKit and reports counts and a JSON summary', async () => {
    const file = join(dir, 'lines.tsv');
    await writeFile(
      file,
      [
        '# two red flags, two innocent lines',
        'chest-pain\tI have chest pain',
        'breathing-difficulty\tI can not breathe',
        'none\tyes',
        'none\tmy knee hurts',
        '',
      ].join('\n'),
    );
    const out: string[] = [];
    const report = await runSpeechEval({
      files: [file],
      voices: ['espeak:en-us', 'flite:slt'],
      profileId: 'intake',
      write: (t) => out.push(t),
    });

    expect(report.trials).toHaveLength(8);
    expect(report.overall.redFlags).toBe(4);
    expect(report.overall.innocent).toBe(4);
    expect(Object.keys(report.byVoice).sort()).toEqual(['espeak:en-us', 'flite:slt']);
    expect(report.byRule['chest-pain']?.lines).toBe(2);
    expect(report.byRule['breathing-difficulty']?.lines).toBe(2);
    for (const t of report.trials) expect(t.profileId).toBe('intake');
    // The audio crossed LiveKit and reached the recogniser. Not every trial: on a loaded machine
    // a decode can time out, and how much is heard is the report's business, not this test's.
    expect(report.trials.filter((t) => t.heard.length > 0).length).toBeGreaterThan(0);

    const printed = out.join('').trimEnd().split('\n');
    const summary = JSON.parse(printed[printed.length - 1]!) as Record<string, number>;
    expect(Object.keys(summary)).toEqual([
      'recall',
      'falseAlarmRate',
      'lines',
      'endedInnocentRate',
    ]);
    expect(summary.lines).toBe(4);
    expect(summary).toEqual(report.summary);
    expect(out.join('')).toContain('Recall per rule');
  }, 240_000);
});
