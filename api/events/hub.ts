/**
 * Session events from the `session-events` topic, fanned out to the console's SSE streams. Each
 * API instance has its own subscription (every instance must see every event), deleted when it
 * stops. Events are not stored here: a console that reconnects reads the session for the state.
 */
import { randomUUID } from 'node:crypto';
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { settlesWithin } from '../../infra/time.ts';
import type { Logger } from '../../infra/logger.ts';
import { ensureSubscription } from '../../infra/pubsub.ts';
import { SessionEvent } from '../../sessions/schema.ts';

export type EventListener = (event: SessionEvent) => void;

export interface EventHub {
  subscribe(listener: EventListener): () => void;
  /** True once the subscription is open. */
  ready(): boolean;
  close(): Promise<void>;
}

/** For tests and the bench: publish by hand. */
export class LocalEventHub implements EventHub {
  readonly #listeners = new Set<EventListener>();
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  emit(event: SessionEvent): void {
    for (const l of this.#listeners) l(event);
  }
  ready(): boolean {
    return true;
  }
  async close(): Promise<void> {
    this.#listeners.clear();
  }
}

export interface PubSubEventHubOptions {
  pubsub: PubSub;
  topic: string;
  logger: Logger;
  /** @defaultValue `<topic>-api-<8 hex>` */
  subscriptionName?: string;
  /** @defaultValue 5000 */
  closeTimeoutMs?: number;
}

export class PubSubEventHub implements EventHub {
  readonly #listeners = new Set<EventListener>();
  readonly #subscription: Subscription;
  readonly #log: Logger;
  readonly #closeTimeoutMs: number;
  #open = false;

  private constructor(subscription: Subscription, opts: PubSubEventHubOptions) {
    this.#subscription = subscription;
    this.#log = opts.logger;
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
  }

  static async start(opts: PubSubEventHubOptions): Promise<PubSubEventHub> {
    const name = opts.subscriptionName ?? `${opts.topic}-api-${randomUUID().slice(0, 8)}`;
    const subscription = await ensureSubscription(opts.pubsub, {
      topic: opts.topic,
      subscription: name,
    });
    const hub = new PubSubEventHub(subscription, opts);
    subscription.on('message', (m: Message) => hub.#onMessage(m));
    subscription.on('error', (err: unknown) => hub.#log.warn({ err }, 'event subscription error'));
    hub.#open = true;
    return hub;
  }

  #onMessage(message: Message): void {
    message.ack();
    let parsed: ReturnType<typeof SessionEvent.safeParse>;
    try {
      parsed = SessionEvent.safeParse(JSON.parse(message.data.toString('utf8')));
    } catch {
      this.#log.warn({ messageId: message.id }, 'session event is not JSON; skipped');
      return;
    }
    if (!parsed.success) {
      this.#log.warn({ messageId: message.id }, 'session event does not match the schema; skipped');
      return;
    }
    for (const l of this.#listeners) l(parsed.data);
  }

  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  ready(): boolean {
    return this.#open;
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    this.#listeners.clear();
    // close() can hang on the emulator (INFRA.md): bounded.
    const closed = await settlesWithin(
      this.#subscription.close().catch(() => undefined),
      this.#closeTimeoutMs,
      'closing the event subscription',
    );
    if (!closed) this.#log.warn('event subscription close timed out');
    const deleted = await settlesWithin(
      this.#subscription
        .delete()
        .catch((err: unknown) => this.#log.warn({ err }, 'event subscription delete failed')),
      this.#closeTimeoutMs,
      'deleting the event subscription',
    );
    if (!deleted) this.#log.warn('event subscription delete timed out');
  }
}
