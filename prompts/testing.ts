/**
 * Small valid profiles for tests (not a real clinical profile: see prompts/*.yaml for those).
 * Line numbers in MINIMAL_PROFILE_YAML are relied on by loader tests; append, don't insert.
 */
import type { Profile } from './schema.ts';

export const MINIMAL_PROFILE_YAML = `id: demo
version: 1
language: en-US
instructions: You are a test assistant talking to {{patient.displayName}}.
firstMessage: "Hi {{patient.displayName or 'there'}}, this is a test call."
protocol:
  - id: feeling
    ask: How are you feeling today?
    intent: General wellbeing.
    capture:
      field: feeling
      type: text
  - id: pain
    ask: From zero to ten, how is your pain?
    intent: Pain score.
    capture:
      field: painScore
      type: number
      min: 0
      max: 10
safety:
  - id: chest-pain
    phrases:
      - chest pain
    response: If you have chest pain, hang up and call nine one one.
    escalation:
      severity: emergency
    endSession: true
voice:
  provider: local
  voiceId: en-us
  speed: 1
stt:
  model: nova-3
limits:
  maxDurationMs: 300000
  silenceTimeoutMs: 15000
endPhrases:
  - goodbye
`;

/** A fresh, mutable, valid profile object (as the schema outputs it). */
export function minimalProfile(overrides: Partial<Profile> = {}): Profile {
  return {
    id: 'demo',
    version: 1,
    language: 'en-US',
    instructions: 'You are a test assistant talking to {{patient.displayName}}.',
    firstMessage: "Hi {{patient.displayName or 'there'}}, this is a test call.",
    protocol: [
      {
        id: 'feeling',
        ask: 'How are you feeling today?',
        intent: 'General wellbeing.',
        capture: { field: 'feeling', type: 'text' },
      },
      {
        id: 'pain',
        ask: 'From zero to ten, how is your pain?',
        intent: 'Pain score.',
        capture: { field: 'painScore', type: 'number', min: 0, max: 10 },
      },
    ],
    safety: [
      {
        id: 'chest-pain',
        phrases: ['chest pain'],
        response: 'If you have chest pain, hang up and call nine one one.',
        escalation: { severity: 'emergency' },
        endSession: true,
      },
    ],
    voice: { provider: 'local', voiceId: 'en-us', speed: 1 },
    stt: { model: 'nova-3', keyTerms: [] },
    limits: { maxDurationMs: 300_000, silenceTimeoutMs: 15_000 },
    endPhrases: ['goodbye'],
    ...overrides,
  };
}
