/**
 * What the simulated patient says, per profile: answers chosen by the question it hears (from the
 * agent's live transcription), so a re-asked question gets the same answer again. Words are kept
 * to what an offline recogniser can hear reliably: short answers, numbers and the listed choices.
 */
export interface ScriptedAnswer {
  /** Matched against the agent's words, case-insensitively. */
  when: RegExp;
  say: string;
}

export const PATIENT_SCRIPTS: Readonly<Record<string, readonly ScriptedAnswer[]>> = {
  intake: [
    { when: /good time/i, say: 'yes' },
    { when: /reason for your visit|talk about at your visit/i, say: 'my knee hurts' },
    { when: /medicines changed|medicine.*changed/i, say: 'no' },
    { when: /allerg/i, say: 'no' },
    { when: /zero to ten|scale/i, say: 'four' },
    { when: /emergency room|hospital/i, say: 'no' },
    { when: /reach you|phone call, text message, or email/i, say: 'text message' },
  ],
  'medication-adherence': [
    { when: /okay time|good time/i, say: 'yes' },
    { when: /missed any doses/i, say: 'yes' },
    { when: /how many doses/i, say: 'two' },
    { when: /got in the way|forgetting, side effects/i, say: 'forgot' },
    { when: /new or bothersome|from your medicines/i, say: 'no' },
    { when: /what you've noticed/i, say: 'a headache' },
    { when: /refill/i, say: 'yes' },
  ],
  'post-discharge': [
    { when: /few minutes/i, say: 'yes' },
    { when: /better, about the same, or worse/i, say: 'better' },
    { when: /get all the medicines/i, say: 'yes' },
    { when: /taking them/i, say: 'yes' },
    { when: /appointment booked/i, say: 'yes' },
    { when: /date of that appointment/i, say: 'next monday' },
    { when: /nurse to call you/i, say: 'no' },
  ],
};

const words = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9 ]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

/**
 * The answer for what the agent just said, or undefined when nothing in the script fits. A
 * read-back ("I have six out of ten, is that right?") is confirmed only when it repeats what the
 * patient said: a misheard answer gets a "no", as a real patient would say.
 */
export function answerFor(
  script: readonly ScriptedAnswer[],
  agentWords: string,
  lastAnswer?: string,
): string | undefined {
  if (/is that right\W*$/i.test(agentWords.trim())) {
    if (lastAnswer === undefined) return 'yes';
    return ` ${words(agentWords)} `.includes(` ${words(lastAnswer)} `) ? 'yes' : 'no';
  }
  // The last question in the agent's turn is the one being asked.
  const sentences = agentWords.split(/(?<=[.?!])\s+/).reverse();
  for (const sentence of sentences) {
    const hit = script.find((a) => a.when.test(sentence));
    if (hit) return hit.say;
  }
  return undefined;
}
