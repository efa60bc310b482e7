/**
 * The multi-node stack for tests: `scripts/services.sh up --nodes 2` (a private Redis and two
 * livekit-server nodes sharing it, beside the single-node servers), what Redis says about room
 * placement, and killing or restarting one node.
 *
 * Placement is read where LiveKit keeps it (livekit-server pkg/routing/redisrouter.go): the
 * hash `room_node_map` (room name → node id) and the hash `nodes` (node id → a livekit.Node
 * protobuf whose stats carry `updated_at`; a node whose stats are 5 s old or more is not
 * available, pkg/routing/selector/utils.go).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { PubSub } from '@google-cloud/pubsub';
import { Redis } from 'ioredis';
import { runDispatcher, type RunningDispatcher, type Settlement } from '../../dispatcher/index.ts';
import type { Logger } from '../../infra/logger.ts';
import { ensureSubscription, ensureTopic } from '../../infra/pubsub.ts';
import { TEST_ENV, testConfig, uniqueName } from './env.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SERVICES = `${ROOT}scripts/services.sh`;
const RUN_DIR = `${ROOT}.run`;

/** LiveKit's Redis keys (pkg/routing/redisrouter.go `NodeRoomKey`, `NodesKey`). */
export const LIVEKIT_REDIS_KEYS = { roomNodeMap: 'room_node_map', nodes: 'nodes' } as const;

/**
 * A node whose stats are this old is not available (livekit-server
 * pkg/routing/selector/utils.go `AvailableSeconds = 5`).
 */
export const NODE_AVAILABLE_S = 5;

export interface NodeRecord {
  id: string;
  /** `stats.updated_at`, Unix seconds; 0 when the node has not reported stats yet. */
  updatedAtS: number;
  /** livekit.NodeState: 0 starting up, 1 serving, 2 shutting down. */
  state: number;
}

/**
 * Decodes the few fields of a `livekit.Node` we need: `id` (1), `stats` (4) → `updated_at` (2),
 * `state` (6). A hand decoder, because the protocol package does not export the internal
 * message; unknown fields are skipped by wire type.
 */
export function decodeNode(buf: Uint8Array): NodeRecord {
  const node: NodeRecord = { id: '', updatedAtS: 0, state: 0 };
  readFields(buf, (field, value) => {
    if (field === 1 && value instanceof Uint8Array) node.id = new TextDecoder().decode(value);
    else if (field === 6 && typeof value === 'bigint') node.state = Number(value);
    else if (field === 4 && value instanceof Uint8Array) {
      readFields(value, (f, v) => {
        if (f === 2 && typeof v === 'bigint') node.updatedAtS = Number(v);
      });
    }
  });
  return node;
}

function readFields(buf: Uint8Array, onField: (field: number, value: bigint | Uint8Array) => void) {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new Error('truncated protobuf varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
    throw new Error('protobuf varint too long');
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) onField(field, varint());
    else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new Error('truncated protobuf field');
      onField(field, buf.subarray(pos, pos + len));
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

// The defaults of scripts/services.sh.
export const MULTI_REDIS_PORT = 6391;
const BASE_PORT = 7900;

export interface StackNode {
  /** 1-based, as services.sh names it (lk-node1, …). */
  index: number;
  /** LiveKit's node id, as it appears in Redis. */
  id: string;
  httpPort: number;
  url: string;
}

export interface MultiNodeStack {
  nodes: StackNode[];
  redisUrl: string;
}

async function services(...args: string[]): Promise<string> {
  try {
    const { stderr } = await run('bash', [SERVICES, ...args], { timeout: 120_000 });
    return stderr;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    throw new Error(`services.sh ${args.join(' ')} failed:\n${stderr}`);
  }
}

/** Starts the stack (or reuses it) and returns its nodes. Idempotent; also restarts a dead node. */
export async function ensureMultiNodeStack(count = 2): Promise<MultiNodeStack> {
  await services('up', '--nodes', String(count));
  const nodes: StackNode[] = [];
  for (let index = 1; index <= count; index++) {
    const id = (await readFile(`${RUN_DIR}/multinode/lk-node${index}.id`, 'utf8')).trim();
    const httpPort = BASE_PORT + 10 * (index - 1);
    nodes.push({ index, id, httpPort, url: `ws://127.0.0.1:${httpPort}` });
  }
  return { nodes, redisUrl: `redis://127.0.0.1:${MULTI_REDIS_PORT}` };
}

/**
 * FerretDB over PostgreSQL (`services.sh up --pg`), for runs that fill collections with many
 * thousands of sessions: there a query by `sessionId` uses an index, as on MongoDB, where the
 * SQLite backend reads the whole collection. Returns its MongoDB URL.
 */
export async function ensureIndexedMongo(): Promise<string> {
  await services('up', '--pg');
  return `mongodb://127.0.0.1:${INDEXED_MONGO_PORT}`;
}

export const INDEXED_MONGO_PORT = 27027;

/** SIGKILLs one node's process group: no drain, nothing unregistered, as a crashed host. */
export async function killNode(node: StackNode): Promise<void> {
  const pid = Number((await readFile(`${RUN_DIR}/lk-node${node.index}.pid`, 'utf8')).trim());
  process.kill(-pid, 'SIGKILL');
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`lk-node${node.index} (pid ${pid}) survived SIGKILL`);
}

/** LiveKit's room → node map and node list, read from its Redis. */
export class Placement {
  readonly #redis: Redis;

  constructor(redisUrl: string) {
    this.#redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  }

  /** The node id hosting the room, or undefined if Redis has no entry for it. */
  async nodeOf(room: string): Promise<string | undefined> {
    return (await this.#redis.hget(LIVEKIT_REDIS_KEYS.roomNodeMap, room)) ?? undefined;
  }

  /** Node id → seconds since its stats were last updated, for every node in the `nodes` hash. */
  async nodeAges(): Promise<Map<string, number>> {
    const all = await this.#redis.hgetallBuffer(LIVEKIT_REDIS_KEYS.nodes);
    const now = Date.now() / 1000;
    const ages = new Map<string, number>();
    for (const [id, data] of Object.entries(all)) {
      ages.set(id, now - decodeNode(data).updatedAtS);
    }
    return ages;
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}

/** A private Pub/Sub lane (requests with a dead-letter policy, events) for dispatchers. */
export interface DispatchLane {
  /** The environment a dispatcher on this lane runs with (in process or as a child). */
  env: Record<string, string>;
  /** Every settlement of this lane's dispatchers, with which dispatcher settled it. */
  settled: (Settlement & { by: string })[];
  publish(body: unknown): Promise<string>;
  /** Starts a dispatcher in this process on the lane. */
  start(more?: Record<string, string>, instanceId?: string): Promise<RunningDispatcher>;
  /** Stops the dispatchers this lane started and deletes its topics. */
  close(): Promise<void>;
}

export interface DispatchLaneOptions {
  pubsub: PubSub;
  db: string;
  agentName: string;
  /** The LiveKit URL dispatchers use (a front door over the nodes). */
  livekitUrl: string;
  /** @defaultValue 10_000 */
  ackDeadlineMs?: number;
  env?: Record<string, string>;
  logger: Logger;
  /** The subscription's dead-letter attempts. @defaultValue {@link LANE_MAX_ATTEMPTS} */
  maxDeliveryAttempts?: number;
}

export const LANE_MAX_ATTEMPTS = 5;

export async function openDispatchLane(o: DispatchLaneOptions): Promise<DispatchLane> {
  const name = uniqueName('mn');
  const names = {
    PUBSUB_REQUESTS_TOPIC: `${name}-req`,
    PUBSUB_REQUESTS_SUBSCRIPTION: `${name}-req-sub`,
    PUBSUB_DEAD_LETTER_TOPIC: `${name}-dlq`,
    PUBSUB_EVENTS_TOPIC: `${name}-events`,
  };
  await ensureSubscription(o.pubsub, {
    topic: names.PUBSUB_REQUESTS_TOPIC,
    subscription: names.PUBSUB_REQUESTS_SUBSCRIPTION,
    deadLetterTopic: names.PUBSUB_DEAD_LETTER_TOPIC,
    maxDeliveryAttempts: o.maxDeliveryAttempts ?? LANE_MAX_ATTEMPTS,
    ackDeadlineMs: o.ackDeadlineMs ?? 10_000,
    minBackoffMs: 100,
    maxBackoffMs: 1000,
  });
  const topic = await ensureTopic(o.pubsub, names.PUBSUB_REQUESTS_TOPIC);
  const settled: (Settlement & { by: string })[] = [];
  const running: RunningDispatcher[] = [];
  const env = {
    ...TEST_ENV,
    MONGODB_DB: o.db,
    AGENT_NAME: o.agentName,
    LIVEKIT_URL: o.livekitUrl,
    DISPATCHER_HTTP_PORT: '0',
    PUBSUB_MAX_DELIVERY_ATTEMPTS: String(o.maxDeliveryAttempts ?? LANE_MAX_ATTEMPTS),
    LOG_LEVEL: 'error',
    ...names,
    ...o.env,
  };
  return {
    env,
    settled,
    publish: (body) => topic.publishMessage({ data: Buffer.from(JSON.stringify(body)) }),
    async start(more = {}, instanceId) {
      const by = instanceId ?? `dispatcher-${running.length + 1}`;
      const r = await runDispatcher(testConfig({ ...env, ...more }), {
        logger: o.logger,
        onSettled: (s) => settled.push({ ...s, by }),
        processMetrics: false,
        ...(instanceId ? { instanceId } : {}),
      });
      running.push(r);
      return r;
    },
    async close() {
      await Promise.all(running.map((r) => r.stop().catch(() => undefined)));
      for (const t of Object.values(names)) {
        if (t.endsWith('-sub')) continue;
        await o.pubsub
          .topic(t)
          .delete()
          .catch(() => undefined);
      }
      await o.pubsub
        .subscription(names.PUBSUB_REQUESTS_SUBSCRIPTION)
        .delete()
        .catch(() => undefined);
    },
  };
}

/** A session request for the multi-node tests and bench (no patient data beyond a test ref). */
export function multiNodeRequest(prefix = 'mn'): { sessionId: string } & Record<string, unknown> {
  return {
    sessionId: `${prefix}-${randomUUID()}`,
    profile: { id: 'intake' },
    patient: { ref: 'pt-mn' },
    requestedAt: new Date().toISOString(),
  };
}
