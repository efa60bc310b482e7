/**
 * The protocol without a generative model: the dialogue engine, the parsers it reads answers
 * with, the framework LLM that runs it in an AgentSession, and the expectation board a local
 * recogniser reads.
 */
export { DEFAULT_WORDING, DialogueEngine, spokenAnswer } from './engine.ts';
export type {
  Answer,
  DialogueEngineOptions,
  EnginePhase,
  EngineState,
  EngineTurn,
  EngineWording,
  ExpectationSink,
  ProtocolOutcome,
} from './engine.ts';
export { ExpectationBoard } from './expectation.ts';
export type { Expectation, ExpectationSource } from './expectation.ts';
export { ScriptedProtocolLLM, ScriptedProtocolStream } from './llm.ts';
export type { Retraction, ScriptedProtocolLLMOptions } from './llm.ts';
export {
  REPEAT_PHRASES,
  isRepeatRequest,
  parseAnswer,
  parseChoice,
  parseDate,
  parseNumber,
  parseText,
  parseYesNo,
} from './parse.ts';
export type { AnswerValue, NumberRange, ParseContext, ParseMiss, Parsed } from './parse.ts';
