/** Test helpers for the transcript sink's suites: numbered utterances and a captured logger. */
import { createLogger } from '../../infra/logger.ts';
import type { UtteranceInput } from './sink.ts';

/** Utterance `i` of a call, alternating agent and patient, its text marked with `secret`. */
export function utteranceNo(i: number, secret: string): UtteranceInput {
  const startedAt = new Date(Date.UTC(2026, 0, 5, 10, 0, i));
  return {
    role: i % 2 === 0 ? 'agent' : 'patient',
    text: `${secret} ${i}`,
    startedAt,
    endedAt: new Date(startedAt.getTime() + 800),
    interrupted: false,
  };
}

/** A debug-level logger whose lines are kept, to prove what does (and does not) reach logs. */
export function capturedLogger() {
  const lines: string[] = [];
  const logger = createLogger(
    { level: 'debug', service: 'test' },
    { write: (line: string) => void lines.push(line) },
  );
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, records };
}
