import { llm } from '@livekit/agents';
import { describe, expect, it } from 'vitest';
import { summarise, TurnTally, utteranceFromMessage } from './recorder.ts';

describe('utteranceFromMessage', () => {
  it('maps a patient message with its timings and latencies, converting seconds to ms', () => {
    const msg = llm.ChatMessage.create({
      role: 'user',
      content: 'yes every morning',
      transcriptConfidence: 0.93,
      metrics: {
        startedSpeakingAt: 1_700_000_000.25,
        stoppedSpeakingAt: 1_700_000_001.5,
        endOfTurnDelay: 0.412,
        transcriptionDelay: 0.151,
      },
    });
    expect(utteranceFromMessage('s-1', msg)).toEqual({
      sessionId: 's-1',
      role: 'patient',
      text: 'yes every morning',
      startedAt: new Date(1_700_000_000_250),
      endedAt: new Date(1_700_000_001_500),
      interrupted: false,
      confidence: 0.93,
      latency: { endOfUtteranceMs: 412, transcriptionDelayMs: 151 },
    });
  });

  it('maps an interrupted agent message with LLM, TTS and end-to-end latencies', () => {
    const msg = llm.ChatMessage.create({
      role: 'assistant',
      content: 'Thank you. Next question.',
      interrupted: true,
      metrics: { llmNodeTtft: 0.25, ttsNodeTtfb: 0.15, e2eLatency: 0.81 },
    });
    const u = utteranceFromMessage('s-1', msg);
    expect(u?.role).toBe('agent');
    expect(u?.interrupted).toBe(true);
    expect(u?.latency).toEqual({ llmTtftMs: 250, ttsTtfbMs: 150, endToEndMs: 810 });
  });

  it('skips system messages, empty text and handoff items', () => {
    expect(
      utteranceFromMessage('s', llm.ChatMessage.create({ role: 'system', content: 'x' })),
    ).toBeNull();
    expect(
      utteranceFromMessage('s', llm.ChatMessage.create({ role: 'user', content: '  ' })),
    ).toBeNull();
    const handoff = llm.AgentHandoffItem.create({ newAgentId: 'a' });
    expect(utteranceFromMessage('s', handoff)).toBeNull();
  });
});

describe('TurnTally', () => {
  it('counts turns by role and interruptions and summarises latencies', () => {
    const tally = new TurnTally();
    const base = { sessionId: 's', text: 't', startedAt: new Date(0), endedAt: new Date(0) };
    tally.add({ ...base, role: 'agent', interrupted: false, latency: { endToEndMs: 800 } });
    tally.add({ ...base, role: 'patient', interrupted: false });
    tally.add({ ...base, role: 'agent', interrupted: true, latency: { endToEndMs: 600 } });
    const s = tally.summary();
    expect(s.turns).toEqual({ patient: 1, agent: 2, interrupted: 1 });
    expect(s.latency.endToEndMs).toEqual({ count: 2, medianMs: 600, p95Ms: 800 });
  });
});

describe('summarise', () => {
  it('uses nearest-rank percentiles', () => {
    const values = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(summarise(values)).toEqual({ count: 20, medianMs: 10, p95Ms: 19 });
    expect(summarise([])).toBeUndefined();
  });
});
