/**
 * Where session requests come from: a Pub/Sub streaming pull, flow-controlled to the pool's
 * capacity. The client library keeps extending each message's lease (modAck) until it is acked
 * or nacked, up to `maxLeaseExtensionMs`, so a placement that waits for an agent is not
 * redelivered under it.
 */
import {
  Duration,
  SubscriptionCloseBehaviors,
  type Message,
  type Subscription,
} from '@google-cloud/pubsub';
import { settlesWithin } from '../infra/time.ts';

/** The part of a Pub/Sub message the dispatcher uses. */
export interface InboundMessage {
  readonly id: string;
  readonly data: Buffer;
  /** 1 on first delivery; 0 when the subscription has no dead-letter policy to count it. */
  readonly deliveryAttempt: number;
  readonly publishTime: Date;
  /** The publisher's attributes; `traceparent`/`tracestate` continue its trace. */
  readonly attributes?: Readonly<Record<string, string>>;
  ack(): void;
  /** Hands the message back; the subscription's retry policy decides when it returns. */
  nack(): void;
}

export interface RequestSource {
  /** Starts pulling. `onError` hears stream errors; the source stays usable where it can. */
  start(onMessage: (message: InboundMessage) => void, onError: (err: Error) => void): void;
  /** True while messages can arrive. */
  readonly isOpen: boolean;
  /**
   * Stops pulling at once. Messages already handed out keep their leases until settled (or the
   * close times out). Resolves false if the close did not finish within `timeoutMs`.
   */
  close(timeoutMs: number): Promise<boolean>;
}

export interface PubSubRequestSourceOptions {
  subscription: Subscription;
  /** At most this many messages are handed out and not yet settled. */
  maxInFlight: number;
  /**
   * How long the client keeps extending a message's lease, counted from receipt (waiting in the
   * flow-control queue included). Past it the message is redelivered.
   * @defaultValue 600_000
   */
  maxLeaseExtensionMs?: number;
  /**
   * How long the client's own close keeps leasing unsettled messages before nacking them.
   * @defaultValue 10_000
   */
  closeWaitMs?: number;
}

export class PubSubRequestSource implements RequestSource {
  readonly #subscription: Subscription;
  readonly #maxInFlight: number;
  readonly #maxLeaseExtensionMs: number;
  readonly #closeWaitMs: number;
  #closing: Promise<boolean> | undefined;

  constructor(opts: PubSubRequestSourceOptions) {
    if (!Number.isInteger(opts.maxInFlight) || opts.maxInFlight < 1) {
      throw new Error('maxInFlight must be a positive integer');
    }
    this.#subscription = opts.subscription;
    this.#maxInFlight = opts.maxInFlight;
    this.#maxLeaseExtensionMs = opts.maxLeaseExtensionMs ?? 600_000;
    this.#closeWaitMs = opts.closeWaitMs ?? 10_000;
  }

  get isOpen(): boolean {
    return this.#closing === undefined && this.#subscription.isOpen;
  }

  start(onMessage: (message: InboundMessage) => void, onError: (err: Error) => void): void {
    this.#subscription.setOptions({
      // The server hands out no more than the cap, and the client holds any excess back
      // instead of dispatching it: the cap really is the number of placements in flight.
      flowControl: { maxMessages: this.#maxInFlight, allowExcessMessages: false },
      maxExtensionTime: Duration.from({ milliseconds: this.#maxLeaseExtensionMs }),
      closeOptions: {
        behavior: SubscriptionCloseBehaviors.WaitForProcessing,
        timeout: Duration.from({ milliseconds: this.#closeWaitMs }),
      },
    });
    this.#subscription.on('error', onError);
    this.#subscription.on('message', (m: Message) => onMessage(m));
  }

  close(timeoutMs: number): Promise<boolean> {
    // The emulator's close() can hang: race it against our own timer.
    const closed = this.#subscription.close().then(
      () => true,
      () => false,
    );
    this.#closing ??= settlesWithin(closed, timeoutMs, 'subscription close').then(
      async (settled) => settled && (await closed),
    );
    return this.#closing;
  }
}
