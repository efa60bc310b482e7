import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { initializeLogger, log } from '@livekit/agents';
import { frameworkLogger, installFrameworkLogScrubber, scrubFields } from './framework-log.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, stream };
}

describe('the framework logger', () => {
  it("drops the framework's pii fields, jobs and free text, from lines and child bindings", () => {
    const { lines, stream } = capture();
    const log = frameworkLogger('info', { service: 'agent', destination: stream });
    const job = { id: 'AJ_1', metadata: '{"patient":{"displayName":"Zyx Sentinel"}}' };
    log.child({ job }).info('no answer was given inside the jobRequestFunc');
    log.info(
      { 'lk.pii.new_transcript': 'quokka marmalade', transcriptConfidence: 0.9 },
      'starting preemptive generation',
    );
    log.warn({ speech_id: 's1', 'lk.pii.message': 'quokka' }, 'playout completed with interrupt');
    log.info({ nested: { 'lk.pii.arguments': { value: 'quokka' }, ok: 1 } }, 'tool');
    log.warn('failed: %s', 'quokka marmalade');
    const all = lines.join('');
    expect(all).not.toMatch(/quokka|Sentinel/i);
    expect(lines).toHaveLength(5);
    const first = JSON.parse(lines[1]!) as Record<string, unknown>;
    expect(first).toMatchObject({
      severity: 'INFO',
      message: 'starting preemptive generation',
      transcriptConfidence: 0.9,
      'lk.pii.new_transcript': '[redacted]',
    });
  });

  it('keeps fields that carry no personal data', () => {
    expect(scrubFields({ speech_id: 's1', room_id: 'RM_1', text: 'x', pid: 3 })).toEqual({
      speech_id: 's1',
      room_id: 'RM_1',
      text: '[redacted]',
      pid: 3,
    });
  });
});

describe('installFrameworkLogScrubber', () => {
  it("swaps every logger the framework installs for a scrubbing one with the framework's level", () => {
    const { lines, stream } = capture();
    installFrameworkLogScrubber({ service: 'agent', destination: stream });
    // What cli.runApp and each job process do: the framework creates its own logger.
    initializeLogger({ pretty: false, level: 'info' });
    log().info({ 'lk.pii.user_input': 'quokka marmalade' }, 'skipping user input');
    log().debug({ note: 'below the level' }, 'debug line');
    log()
      .child({ jobID: 'AJ_2' })
      .warn({ 'lk.pii.participant_identity': 'patient-zyx' }, 'participant linked');
    const all = lines.join('');
    expect(lines).toHaveLength(2);
    expect(all).not.toMatch(/quokka|zyx/i);
    expect(JSON.parse(lines[1]!)).toMatchObject({ jobID: 'AJ_2', source: 'livekit-agents' });
  });
});
