/**
 * The dispatcher's Prometheus metrics. Each instance owns its registry, so two dispatchers in one
 * process (tests) do not collide. Durations are histograms in seconds, as Prometheus expects.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What became of one delivery. */
export const OUTCOMES = [
  /** Agent in the room, session active, `session.ready` published; acked. */
  'placed',
  /** The session was already placed or finished; acked without a second dispatch. */
  'duplicate',
  /** Malformed or hostile input, recorded as a Rejection; acked. */
  'rejected',
  /** A transient failure; nacked for redelivery with backoff. */
  'retried',
  /** Another delivery held the placement lease for longer than we waited; nacked. */
  'contended',
  /** Failed for good without retrying (expired deadline); session failed, acked. */
  'failed',
  /** The last delivery attempt failed; session failed, nacked onto the dead-letter topic. */
  'dead_lettered',
  /** Handed back during shutdown; nacked. */
  'requeued',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface DispatcherMetricsOptions {
  /** @defaultValue a new Registry */
  registry?: Registry;
  /** Also collect Node process metrics (event loop lag, heap). Once per registry. */
  collectProcessMetrics?: boolean;
}

const SECONDS_BUCKETS = [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 21, 34, 60];

export class DispatcherMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'outcome'>;
  readonly rejections: Counter<'code'>;
  readonly deadLettered: Counter;
  readonly inFlight: Gauge;
  readonly placementSeconds: Histogram;
  readonly publishToJoinedSeconds: Histogram;

  constructor(opts: DispatcherMetricsOptions = {}) {
    this.registry = opts.registry ?? new Registry();
    const registers = [this.registry];
    if (opts.collectProcessMetrics) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'voicecare_dispatcher_requests_total',
      help: 'Session request deliveries handled, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of OUTCOMES) this.requests.inc({ outcome }, 0);
    this.rejections = new Counter({
      name: 'voicecare_dispatcher_rejections_total',
      help: 'Requests recorded as rejections, by reason code.',
      labelNames: ['code'],
      registers,
    });
    this.deadLettered = new Counter({
      name: 'voicecare_dispatcher_dead_lettered_total',
      help: 'Requests handed to the dead-letter topic after their last delivery attempt.',
      registers,
    });
    this.inFlight = new Gauge({
      name: 'voicecare_dispatcher_in_flight',
      help: 'Deliveries being handled right now.',
      registers,
    });
    this.placementSeconds = new Histogram({
      name: 'voicecare_dispatcher_placement_seconds',
      help: 'From receiving a request to its agent having joined and session.ready published.',
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.publishToJoinedSeconds = new Histogram({
      name: 'voicecare_dispatcher_publish_to_agent_joined_seconds',
      help: 'From the request being published to Pub/Sub to the agent joining the room.',
      buckets: SECONDS_BUCKETS,
      registers,
    });
  }
}
