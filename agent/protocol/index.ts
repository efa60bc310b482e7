/**
 * The protocol: without a generative model (the dialogue engine, the parsers it reads answers
 * with, the framework LLM that runs it in an AgentSession, the expectation board a local
 * recogniser reads), with one (the brief and the record_answer/end_call tools), and the one
 * trust policy both capture paths share (answers.ts).
 */
export {
  MIN_CONFIDENCE,
  PARSE_CERTAINTY,
  isFreeSpeech,
  isRequired,
  reviewReasonFor,
  toCapturedAnswer,
  unansweredRequired,
} from './answers.ts';
export type { AnswerReport, HeardUtterance, ReviewInput } from './answers.ts';
export { DEFAULT_WORDING, DialogueEngine, spokenAnswer } from './engine.ts';
export type {
  Answer,
  AnswerEvidence,
  DialogueEngineOptions,
  EnginePhase,
  EngineState,
  EngineTurn,
  EngineWording,
  ExpectationSink,
  GivenUp,
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
export { DATE_WINDOW, MAX_TEXT_CHARS, checkAnswer, protocolBrief, protocolTools } from './tools.ts';
export type { CheckContext, Checked, ProtocolToolsOptions } from './tools.ts';
