/**
 * The environment of the local stack that `scripts/services.sh` starts on loopback: what
 * `npm start`, the benchmarks and the tests point the services at.
 */
export const LOCAL_STACK_ENV: Readonly<Record<string, string>> = Object.freeze({
  LIVEKIT_URL: 'ws://127.0.0.1:7880',
  LIVEKIT_API_KEY: 'devkey',
  LIVEKIT_API_SECRET: 'secret',
  GOOGLE_CLOUD_PROJECT: 'voicecare-local',
  PUBSUB_EMULATOR_HOST: '127.0.0.1:8085',
  MONGODB_URL: 'mongodb://127.0.0.1:27017',
});
