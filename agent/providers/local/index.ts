/**
 * Local (offline, on-premises) speech providers: speech-to-text on Debian's pocketsphinx and
 * text-to-speech on espeak-ng, as `@livekit/agents` STT and TTS implementations. No audio leaves
 * the machine and no account or key is needed.
 */
export { LocalSTT, localSttDefaults, confidenceOf } from './stt.ts';
export type { LocalSTTOptions, LocalRecognitionMetadata } from './stt.ts';

export { LocalTTS, localTtsDefaults } from './tts.ts';
export type { LocalTTSOptions } from './tts.ts';

export { LocalEngineMissingError } from './errors.ts';
export { UnknownVoiceError, speedToWordsPerMinute } from './espeak.ts';

export { NO_PHRASES, YES_PHRASES } from './grammar.ts';
export type { GrammarWeights } from './grammar.ts';

export { PocketsphinxDecoder, pocketsphinxDefaults } from './pocketsphinx.ts';
export type {
  DecodeResult,
  DecodedWord,
  GrammarSource,
  PocketsphinxDecoderOptions,
  PocketsphinxPaths,
  Search,
  SpeechDecoder,
} from './pocketsphinx.ts';
