/**
 * Getting the microphone, before anything else happens: the browser asks the person here, and a
 * refusal or a missing device must be found out before the single-use link is spent.
 */
import { createLocalAudioTrack, type LocalAudioTrack } from 'livekit-client';
import { CallFailure } from './failures.ts';

export async function acquireMicrophone(): Promise<LocalAudioTrack> {
  if (!navigator.mediaDevices?.getUserMedia) throw new CallFailure('microphone_missing');
  try {
    return await createLocalAudioTrack({
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
    });
  } catch (err) {
    const name = err instanceof Error ? err.name : '';
    // NotAllowedError: the person (or a policy) said no. SecurityError: the page is not allowed.
    if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError')
      throw new CallFailure('microphone_denied', { cause: err });
    // NotFoundError, NotReadableError (in use elsewhere), OverconstrainedError, AbortError.
    throw new CallFailure('microphone_missing', { cause: err });
  }
}
