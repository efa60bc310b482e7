/**
 * The on-machine speech engines for one session: pocketsphinx listening for what the dialogue
 * engine expects (plus the profile's red flags and end phrases, heard during every question),
 * and espeak-ng speaking in the profile's local voice.
 */
import type { stt, tts } from '@livekit/agents';
import type { Config } from '../../infra/config.ts';
import { ConfigError } from '../../infra/errors.ts';
import type { Logger } from '../../infra/logger.ts';
import type { Profile } from '../../prompts/schema.ts';
import type { ExpectationSource } from '../protocol/expectation.ts';
import type { RecognitionJournal } from '../safety/confirm.ts';
import type { ProviderPreferences } from './index.ts';
import { compileSafetyRules, matchSafety } from '../safety/matcher.ts';
import { domainSentences } from './local/domain-lm.ts';
import { assertEspeakVoice } from './local/espeak.ts';
import { LocalEngineMissingError } from './local/errors.ts';
import { assertPocketsphinxInstalled, pocketsphinxDefaults } from './local/pocketsphinx.ts';
import { LocalSTT } from './local/stt.ts';
import { LocalTTS, localTtsDefaults } from './local/tts.ts';

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

/** Why each local speech engine cannot run on this machine; a stage that is absent is fine. */
export interface LocalEngineProbe {
  stt(): string | undefined;
  tts(): string | undefined;
}

function missing(check: () => void): string | undefined {
  try {
    check();
    return undefined;
  } catch (err) {
    if (err instanceof LocalEngineMissingError) return err.message;
    throw err;
  }
}

/** The installed Debian engines (pocketsphinx, espeak-ng), checked on the file system. */
export const installedEngines: LocalEngineProbe = {
  stt: () => missing(() => assertPocketsphinxInstalled(pocketsphinxDefaults)),
  tts: () => missing(() => assertEspeakVoice(localTtsDefaults.binary, localTtsDefaults.voice)),
};

export interface UsableProviders {
  providers: Config['providers'];
  /** Local engines left out of a chain because they are not installed: log these as warnings. */
  dropped: { stage: 'stt' | 'tts'; reason: string }[];
}

/**
 * Decides at startup which configured providers can run here. A local speech engine that is not
 * installed is dropped from a chain that has another provider (a warning); a chain it would
 * leave empty is a {@link ConfigError}, so the worker refuses to start instead of failing each
 * call once the agent has joined. The dialogue engine (`local` LLM) is plain code: always there.
 */
export function usableProviders(
  providers: Config['providers'],
  probe: LocalEngineProbe = installedEngines,
): UsableProviders {
  const dropped: UsableProviders['dropped'] = [];
  const problems: string[] = [];
  const keep = <T extends string>(stage: 'stt' | 'tts', chain: readonly T[]): T[] => {
    if (!chain.includes('local' as T)) return [...chain];
    const reason = probe[stage]();
    if (reason === undefined) return [...chain];
    const rest = chain.filter((p) => p !== 'local');
    if (rest.length === 0) {
      const variable = stage === 'stt' ? 'STT_PROVIDERS' : 'TTS_PROVIDERS';
      problems.push(`${variable}: only the local engine is configured, and ${reason}`);
    } else {
      dropped.push({ stage, reason });
    }
    return rest;
  };
  const stt = keep('stt', providers.stt);
  const tts = keep('tts', providers.tts);
  if (problems.length) throw new ConfigError(problems);
  return { providers: { ...providers, stt, tts }, dropped };
}
