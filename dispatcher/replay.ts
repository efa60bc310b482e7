/**
 * `voicecare sessions replay <sessionId>`: re-runs a failed or dead-lettered request as a new
 * attempt (see sessions/replay.ts for why that is a new session). The request is taken from the
 * dead-letter subscription when it is there (the whole request, display name included), else
 * rebuilt from the session record. Dead-lettered copies are acked only once the re-run is
 * published; everything else pulled from the dead-letter subscription is handed back.
 */
import type { Message, Subscription } from '@google-cloud/pubsub';
import { PermanentError } from '../infra/errors.ts';
import { settlesWithin } from '../infra/time.ts';
import { readRequest } from '../sessions/intake.ts';
import {
  REPLAYABLE_STATES,
  replayRequest,
  replaySessionId,
  requestFromRecord,
} from '../sessions/replay.ts';
import type { SessionRequest } from '../sessions/schema.ts';
import type { SessionStore } from '../sessions/store.ts';

/** One message pulled from the dead-letter subscription. */
export interface DeadLetter {
  readonly messageId: string;
  /** The request in it, when it is a readable one. */
  readonly request: SessionRequest | undefined;
  ack(): void;
  nack(): void;
}

export interface DeadLetterSource {
  /** What is waiting now: pulls until nothing new came for `idleMs`, or `maxMs` passed. */
  pull(opts: { idleMs: number; maxMs: number }): Promise<DeadLetter[]>;
  close(): Promise<void>;
}

/** The dead-letter subscription as a {@link DeadLetterSource} (streaming pull, flow-controlled). */
export class PubSubDeadLetters implements DeadLetterSource {
  constructor(private readonly subscription: Subscription) {}

  pull({ idleMs, maxMs }: { idleMs: number; maxMs: number }): Promise<DeadLetter[]> {
    const sub = this.subscription;
    sub.setOptions({ flowControl: { maxMessages: 1000, allowExcessMessages: false } });
    const got: DeadLetter[] = [];
    return new Promise((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined;
      let finished = false;
      // The listener stays until close(): removing the last one closes the subscriber at
      // once, and the acks and nacks still to come would be lost.
      const done = () => {
        finished = true;
        clearTimeout(idle);
        clearTimeout(cap);
        resolve(got);
      };
      const onMessage = (m: Message) => {
        if (finished) {
          m.nack();
          return;
        }
        const intake = readRequest(m.data);
        got.push({
          messageId: m.id,
          request: intake.ok ? intake.request : undefined,
          ack: () => m.ack(),
          nack: () => m.nack(),
        });
        clearTimeout(idle);
        idle = setTimeout(done, idleMs);
      };
      const onError = (err: Error) => {
        if (finished) return;
        finished = true;
        clearTimeout(idle);
        clearTimeout(cap);
        reject(err);
      };
      const cap = setTimeout(done, maxMs);
      idle = setTimeout(done, idleMs);
      sub.on('message', onMessage);
      sub.on('error', onError);
    });
  }

  async close(): Promise<void> {
    // The emulator's close() can hang; the acks and nacks are flushed first either way.
    await settlesWithin(this.subscription.close(), 3000, 'dead-letter subscription close');
  }
}

export interface ReplayOptions {
  store: Pick<SessionStore, 'get'>;
  /** Publishes a request to the requests topic; resolves with its message id. */
  publish(request: SessionRequest): Promise<string>;
  /** Omitted: the request is rebuilt from the session record. */
  deadLetters?: DeadLetterSource;
  /** Who is replaying (recorded on the new session). */
  by: string;
  now: () => Date;
  /** @defaultValue 1500 */
  deadLetterIdleMs?: number;
  /** @defaultValue 10_000 */
  deadLetterMaxMs?: number;
}

export interface ReplayResult {
  /** The session replayed. */
  replayed: string;
  /** The new session. */
  sessionId: string;
  attempt: number;
  source: 'dead_letter' | 'session';
  /** The published message. */
  messageId: string;
  /** Dead-lettered copies of the request now acked (removed from the dead-letter topic). */
  deadLettersRemoved: number;
  request: SessionRequest;
}

/** Replays one session; throws PermanentError `replay_not_found` / `replay_not_allowed`. */
export async function replaySession(sessionId: string, o: ReplayOptions): Promise<ReplayResult> {
  const record = await o.store.get(sessionId);
  if (record && !REPLAYABLE_STATES.has(record.state)) {
    throw new PermanentError(
      'replay_not_allowed',
      `session ${sessionId} is ${record.state}; only failed or interrupted sessions are replayed`,
    );
  }
  const pulled = o.deadLetters
    ? await o.deadLetters.pull({
        idleMs: o.deadLetterIdleMs ?? 1500,
        maxMs: o.deadLetterMaxMs ?? 10_000,
      })
    : [];
  const mine = pulled.filter((d) => d.request?.sessionId === sessionId);
  const others = pulled.filter((d) => !mine.includes(d));
  try {
    const fromQueue = mine[0]?.request;
    if (!fromQueue && !record) {
      throw new PermanentError(
        'replay_not_found',
        `no session ${sessionId} and no dead-lettered request for it`,
      );
    }
    const original = fromQueue ?? requestFromRecord(record!);
    // Replays of a replay are numbered along the first session's chain.
    const root = record?.replayOf?.sessionId ?? original.replay?.of ?? sessionId;
    let attempt = 1;
    while (await o.store.get(replaySessionId(root, attempt))) attempt += 1;
    const source = fromQueue ? ('dead_letter' as const) : ('session' as const);
    const request = replayRequest(original, { of: root, attempt, by: o.by, at: o.now(), source });
    const messageId = await o.publish(request);
    for (const d of mine) d.ack();
    return {
      replayed: sessionId,
      sessionId: request.sessionId,
      attempt,
      source,
      messageId,
      deadLettersRemoved: mine.length,
      request,
    };
  } catch (err) {
    for (const d of mine) d.nack();
    throw err;
  } finally {
    for (const d of others) d.nack();
  }
}
