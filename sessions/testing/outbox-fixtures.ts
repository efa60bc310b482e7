/** Outbox entries for tests (no test-runner imports: child processes use these too). */
import type { OutboxEntry } from '../outbox.ts';

/** A valid entry for `sessionId`, its id shaped like the agent's: `<sessionId>:t1:<rule>:confirmed`. */
export function outboxEntry(
  sessionId: string,
  createdAt: Date,
  ruleId = 'chest-pain',
): OutboxEntry {
  const id = `${sessionId}:t1:${ruleId}:confirmed`;
  return {
    id,
    sessionId,
    createdAt,
    event: {
      type: 'session.escalation',
      sessionId,
      at: createdAt.toISOString(),
      escalationId: id,
      ruleId,
      severity: 'emergency',
      status: 'confirmed',
      channel: 'speech',
      trigger: { detector: 'rules', kind: 'concept', value: ruleId },
    },
  };
}
