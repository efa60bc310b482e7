/**
 * Whether a patient's words are a question for the care team's documents, for the dialogue
 * engine (the LLM decides for itself). "What?" and "say that again" ask to hear the question
 * again, which the engine handles; a bare yes/no/number is an answer.
 */
import { isRepeatRequest } from '../agent/protocol/parse.ts';

const AUX =
  '(?:can|could|may|might|should|shall|will|would|is|are|am|was|were|do|does|did|have|has|had|must)';
const LEAD =
  '(?:(?:and|but|so|oh|um|uh|also|ok(?:ay)?|well|sorry|hi|hello|quick question|one question|one more thing|doctor|nurse)\\s+)*';
/**
 * A question's opening. A question word must be followed by a verb or a quantity ("when can",
 * "how long"): "when I walk" answers "When does it hurt?" and is not a question.
 */
const OPENERS = new RegExp(
  `^${LEAD}(?:` +
    [
      `(?:what|when|where|why|which|who|whose)(?:'s|\\s+${AUX}\\b|\\s+about\\b|\\s+if\\b|\\s+happens\\b|\\s+time\\b|\\s+kind\\b|\\s+else\\b)`,
      `how\\s+(?:${AUX}|long|soon|often|much|many|far|early|late|quickly)\\b`,
      `${AUX}\\s+(?:i|we|you|my|it|he|she|they|there|this|that|the|a)\\b`,
      `(?:i|we)\\s+(?:was\\s+|am\\s+|were\\s+)?wonder(?:ing)?\\b`,
      `(?:i|we)\\s+(?:want(?:ed)?|need(?:ed)?|would\\s+like)\\s+to\\s+(?:ask|know)\\b`,
      `(?:i|we)\\s+(?:have|had|got)\\s+a\\s+question\\b`,
      `(?:tell\\s+me|any\\s+idea|is\\s+it\\s+(?:ok(?:ay)?|safe|alright|all\\s+right|fine))\\b`,
    ].join('|') +
    ')',
);

export function isQuestion(utterance: string): boolean {
  const text = utterance.trim().toLowerCase();
  if (!text || isRepeatRequest(utterance)) return false;
  const words = text.match(/[a-z0-9']+/g) ?? [];
  // "How?", "why?" alone are too short to look anything up with.
  if (words.length < 3) return false;
  if (text.endsWith('?')) return true;
  return OPENERS.test(words.join(' '));
}
