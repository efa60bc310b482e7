/**
 * `voicecare sessions <command>`: operators' tools for sessions.
 *
 *   replay <sessionId> [--by NAME] [--no-dead-letters]
 *
 * Exit codes: 0 ok, 1 the operation failed or was refused, 2 the command line was wrong.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { Config } from '../infra/config.ts';
import { ConfigError, VoiceCareError } from '../infra/errors.ts';
import { connectMongo } from '../infra/mongo.ts';
import { createPubSub, deadLetterSubscriptionName, ensureTopic } from '../infra/pubsub.ts';
import { MongoSessionStore } from '../sessions/mongo-store.ts';
import { PubSubDeadLetters, replaySession } from './replay.ts';

export interface SessionsCliIo {
  out(text: string): void;
  err(text: string): void;
  config(): Config;
  /** The operator when --by is not given. @defaultValue the OS user */
  user?: () => string;
  now?: () => Date;
}

export const SESSIONS_USAGE = `Usage: voicecare sessions <command> [options]

Commands:
  replay <sessionId> [--by NAME] [--no-dead-letters]
        Re-run a failed or interrupted session, or a dead-lettered request, as a new attempt:
        a new session <sessionId>.r<n> that records who replayed it and when (the original
        record is kept as it was). The request is taken from the dead-letter subscription when
        it is there (its copies are then removed from it), else rebuilt from the session
        record, which keeps no display name or language.

Options:
  --by NAME            Who is replaying (default: the OS user).
  --no-dead-letters    Do not look in the dead-letter subscription.
  -h, --help           Show this help.

MongoDB and Pub/Sub come from the environment (MONGODB_URL, MONGODB_DB, PUBSUB_EMULATOR_HOST,
PUBSUB_REQUESTS_TOPIC, PUBSUB_DEAD_LETTER_TOPIC, ...).
`;

class UsageError extends Error {}

export async function sessionsCli(argv: readonly string[], io: SessionsCliIo): Promise<number> {
  try {
    return await run(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`voicecare sessions: ${err.message}\nRun "voicecare sessions --help" for usage.\n`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof VoiceCareError) {
      io.err(`voicecare sessions: ${err.message}\n`);
      return 1;
    }
    io.err(`voicecare sessions: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

async function run(argv: readonly string[], io: SessionsCliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        by: { type: 'string' },
        'no-dead-letters': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || command === 'help') {
    io.out(SESSIONS_USAGE);
    return 0;
  }
  if (command === undefined) {
    io.err(SESSIONS_USAGE);
    return 2;
  }
  if (command !== 'replay') throw new UsageError(`unknown command '${command}'`);
  const [sessionId, ...extra] = args;
  if (!sessionId || extra.length) throw new UsageError('replay needs exactly one <sessionId>');
  const by = (values.by ?? (io.user ?? (() => userInfo().username))()).trim();
  if (!by) throw new UsageError('replay needs --by NAME (no OS user name to default to)');

  const cfg = io.config();
  const mongo = await connectMongo(cfg.mongo);
  const pubsub = createPubSub(cfg.pubsub);
  const deadLetters = values['no-dead-letters']
    ? undefined
    : new PubSubDeadLetters(
        pubsub.subscription(deadLetterSubscriptionName(cfg.pubsub.deadLetterTopic)),
      );
  try {
    const requests = await ensureTopic(pubsub, cfg.pubsub.requestsTopic);
    const result = await replaySession(sessionId, {
      store: new MongoSessionStore({ db: mongo.db }),
      publish: (request) => requests.publishMessage({ json: request }),
      ...(deadLetters ? { deadLetters } : {}),
      by,
      now: io.now ?? (() => new Date()),
    });
    io.out(
      `replayed ${result.replayed} as ${result.sessionId} (attempt ${result.attempt}) by ${by}\n` +
        (result.source === 'dead_letter'
          ? `  request from the dead-letter topic; ${result.deadLettersRemoved} dead-lettered copy(ies) removed\n`
          : '  request rebuilt from the session record (no display name or language kept)\n') +
        `  published as message ${result.messageId}\n`,
    );
    return 0;
  } finally {
    await deadLetters?.close();
    await mongo.close();
    await pubsub.close();
  }
}
