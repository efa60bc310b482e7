import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, stream };
}

describe('createLogger', () => {
  it('writes Cloud Logging severity and message keys', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', service: 'test' }, stream);
    log.warn({ sessionId: 's-1', attempt: 2 }, 'stt retry');
    expect(lines[0]).toMatchObject({
      severity: 'WARNING',
      message: 'stt retry',
      service: 'test',
      sessionId: 's-1',
      attempt: 2,
    });
  });

  it('redacts pii fields at the top level and one level down', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', service: 'test' }, stream);
    log.info({ pii: { text: 'I have chest pain' }, turn: { pii: { name: 'Ann' } } }, 'utterance');
    const line = JSON.stringify(lines[0]);
    expect(line).not.toContain('chest pain');
    expect(line).not.toContain('Ann');
    expect(lines[0]?.pii).toBe('[redacted]');
  });

  it('keeps pii only when explicitly enabled', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', service: 'test', logPii: true }, stream);
    log.info({ pii: { text: 'synthetic' } }, 'utterance');
    expect(lines[0]?.pii).toEqual({ text: 'synthetic' });
  });
});
