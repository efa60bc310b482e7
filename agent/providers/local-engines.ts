/**
 * The on-machine speech engines for one session: pocketsphinx listening for what the dialogue
 * engine expects (plus the profile's red flags and end phrases, heard during every question),
 * and espeak-ng speaking in the profile's local voice.
 */
import type { stt, tts } from '@livekit/agents';
import type { Logger } from '../../infra/logger.ts';
import type { Profile } from '../../prompts/schema.ts';
import type { ExpectationSource } from '../protocol/expectation.ts';
import type { RecognitionJournal } from '../safety/confirm.ts';
import type { ProviderPreferences } from './index.ts';
import { compileSafetyRules, matchSafety } from '../safety/matcher.ts';
import { domainSentences } from './local/domain-lm.ts';
import { LocalSTT } from './local/stt.ts';
import { LocalTTS } from './local/tts.ts';

export function buildLocalStt(
  profile: Profile,
  expectation: ExpectationSource,
  logger: Logger,
  journal?: RecognitionJournal,
): stt.STT {
  const rules = compileSafetyRules(profile.safety);
  return new LocalSTT({
    expectation,
    journal,
    domainSentences: domainSentences([profile]),
    isRedFlag: (text) => matchSafety(rules, text) !== null,
    safetyPhrases: profile.safety.flatMap((r) => r.phrases ?? []),
    endPhrases: profile.endPhrases,
    language: profile.language,
    logger,
  });
}

export function buildLocalTts(voice: ProviderPreferences['voice'], logger: Logger): tts.TTS {
  return new LocalTTS({
    // A cloud voice id means nothing to espeak-ng: only a local voice carries over.
    ...(voice?.provider === 'local' && voice.voiceId ? { voice: voice.voiceId } : {}),
    ...(voice?.speed !== undefined ? { speed: voice.speed } : {}),
    logger,
  });
}
