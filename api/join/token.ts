/**
 * The patient's LiveKit token: one room, microphone only, no data channel, no admin, an identity
 * bound to the session, and a short life.
 */
import { AccessToken, TrackSource } from 'livekit-server-sdk';
import type { Config } from '../../infra/config.ts';
import { patientIdentity } from '../../sessions/participants.ts';

export async function patientToken(
  livekit: Config['livekit'],
  opts: { sessionId: string; room: string; ttlMs: number },
): Promise<string> {
  const token = new AccessToken(livekit.apiKey, livekit.apiSecret, {
    identity: patientIdentity(opts.sessionId),
    ttl: Math.floor(opts.ttlMs / 1000),
  });
  token.addGrant({
    room: opts.room,
    roomJoin: true,
    canSubscribe: true,
    canPublish: true,
    canPublishSources: [TrackSource.MICROPHONE],
    canPublishData: false,
    canUpdateOwnMetadata: false,
    roomAdmin: false,
    roomCreate: false,
    roomList: false,
    roomRecord: false,
    recorder: false,
    hidden: false,
    agent: false,
  });
  return token.toJwt();
}
