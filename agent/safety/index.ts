export {
  SafetyRuleError,
  compilePattern,
  compileSafetyRules,
  containsPhrase,
  matchSafety,
  normalizeUtterance,
} from './matcher.ts';
export type { CompiledSafetyRules, SafetyMatch, SafetyRuleSpec, SafetyTrigger } from './matcher.ts';
