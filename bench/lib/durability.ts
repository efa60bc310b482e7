/**
 * Transcript durability from the worker's own measurement: each session's TranscriptSink times
 * every utterance from `append` (the moment the conversation item is final) to MongoDB
 * acknowledging the write, and the session logs the summary at the end ("transcript sink
 * stats"). Per-session summaries only: the largest per-session p95 is an upper bound on the p95
 * of all utterances together (if no session has more than 5 % of its writes above X, neither
 * has the whole).
 */
import type { SinkStatsLine } from './workers.ts';
import { summarize } from './stats.ts';

export interface DurabilityResult {
  sessions: number;
  utterances: number;
  /** Largest per-session p95: an upper bound on the p95 over every utterance. */
  p95UpperBound: number;
  /** The median session's p95. */
  p95MedianSession: number;
  /** The median session's median. */
  medianMedianSession: number;
  maxMs: number;
  /** Median duration of one insertMany at FerretDB (median session). */
  writeMedianMs: number;
  /** Largest per-session p95 of one insertMany. */
  writeP95UpperBound: number;
  failedAttempts: number;
}

export function durabilityOf(lines: readonly SinkStatsLine[]): DurabilityResult | undefined {
  const withData = lines.filter((l) => l.durabilityMs.count > 0);
  if (withData.length === 0) return undefined;
  return {
    sessions: withData.length,
    utterances: withData.reduce((a, l) => a + l.durabilityMs.count, 0),
    p95UpperBound: Math.max(...withData.map((l) => l.durabilityMs.p95Ms)),
    p95MedianSession: summarize(withData.map((l) => l.durabilityMs.p95Ms)).median,
    medianMedianSession: summarize(withData.map((l) => l.durabilityMs.medianMs)).median,
    maxMs: Math.max(...withData.map((l) => l.durabilityMs.maxMs)),
    writeMedianMs: summarize(withData.map((l) => l.writeMs.medianMs)).median,
    writeP95UpperBound: Math.max(...withData.map((l) => l.writeMs.p95Ms)),
    failedAttempts: withData.reduce((a, l) => a + l.failedAttempts, 0),
  };
}
