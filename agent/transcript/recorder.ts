/**
 * Turns the framework's conversation items into our utterance records, and keeps the per-turn
 * latency figures for the session summary. Pure mapping plus small in-memory tallies: the
 * database write happens in the sink, off the audio path.
 */
import type { llm } from '@livekit/agents';
import { percentile } from '../../infra/stats.ts';
import type {
  LatencySummary,
  Role,
  SessionSummary,
  TurnLatency,
  Utterance,
} from '../../sessions/schema.ts';

/** An utterance before the sink numbers it. */
export type NewUtterance = Omit<Utterance, 'seq'>;

const toMs = (seconds: number | undefined): number | undefined =>
  seconds === undefined || !Number.isFinite(seconds) ? undefined : Math.round(seconds * 1000);

const ROLES: Partial<Record<llm.ChatRole, Role>> = { user: 'patient', assistant: 'agent' };

/**
 * Maps a final chat message to an utterance, or null for items we don't store (handoffs,
 * system/tool messages, empty text). Framework metrics are in seconds; ours are milliseconds.
 */
export function utteranceFromMessage(sessionId: string, item: llm.ChatItem): NewUtterance | null {
  if (item.type !== 'message') return null;
  const role = ROLES[item.role];
  const text = item.textContent?.trim();
  if (!role || !text) return null;

  const m = item.metrics;
  const endedAt = new Date(
    m.stoppedSpeakingAt !== undefined ? m.stoppedSpeakingAt * 1000 : item.createdAt,
  );
  const startedAt = new Date(
    m.startedSpeakingAt !== undefined ? m.startedSpeakingAt * 1000 : endedAt.getTime(),
  );

  const latency: TurnLatency =
    role === 'patient'
      ? {
          endOfUtteranceMs: toMs(m.endOfTurnDelay),
          transcriptionDelayMs: toMs(m.transcriptionDelay),
        }
      : {
          llmTtftMs: toMs(m.llmNodeTtft),
          ttsTtfbMs: toMs(m.ttsNodeTtfb),
          endToEndMs: toMs(m.e2eLatency),
        };
  const known = Object.fromEntries(Object.entries(latency).filter(([, v]) => v !== undefined));

  return {
    sessionId,
    role,
    text,
    startedAt,
    endedAt,
    interrupted: item.interrupted,
    ...(item.transcriptConfidence !== undefined ? { confidence: item.transcriptConfidence } : {}),
    ...(Object.keys(known).length ? { latency: known } : {}),
  };
}

export function summarise(values: readonly number[]): LatencySummary | undefined {
  if (values.length === 0) return undefined;
  return { count: values.length, medianMs: percentile(values, 50), p95Ms: percentile(values, 95) };
}

/** Running tallies over a session's utterances, for the `sessions` summary. */
export class TurnTally {
  private readonly turns = { patient: 0, agent: 0, interrupted: 0 };
  private readonly latencies = new Map<keyof TurnLatency, number[]>();

  add(u: NewUtterance): void {
    this.turns[u.role] += 1;
    if (u.interrupted) this.turns.interrupted += 1;
    for (const [key, value] of Object.entries(u.latency ?? {}) as [keyof TurnLatency, number][]) {
      const list = this.latencies.get(key) ?? [];
      list.push(value);
      this.latencies.set(key, list);
    }
  }

  summary(): SessionSummary {
    const latency: SessionSummary['latency'] = {};
    for (const [key, values] of this.latencies) {
      const s = summarise(values);
      if (s) latency[key] = s;
    }
    return { turns: { ...this.turns }, latency };
  }
}
