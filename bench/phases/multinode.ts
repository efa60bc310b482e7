/**
 * Multi-node placement (`npm run bench -- --only multinode`): the stack of
 * `services.sh up --nodes 2`, a front door over both nodes, two dispatcher *processes* on one
 * subscription (so their RSS is their own), and a light agent pool registered on both nodes
 * (tests/support/light-agent.ts: joins, says one line, leaves).
 *
 *   copies    `mnRequests` requests, each published `mnCopies` times: sessions, duplicates
 *             (more than one agent in the placed room), lost (never active), placement p50/p99
 *   overload  `overloadRate` requests/s for `overloadSeconds` while the pool is cut to
 *             `overloadCapacity` sessions; then capacity returns and the backlog drains. Sampled
 *             every second: backlog (published − agents joined), dispatcher RSS. A request that
 *             waits in the backlog past DISPATCHER_MAX_REQUEST_AGE_MS (15 min) is refused as
 *             `stale_request` and announced, by design: counted under `rejected`, not `lost`.
 *
 * The store is FerretDB over PostgreSQL by default (`mnStore: 'indexed'`): with SQLite under it,
 * FerretDB filters all but `_id` lookups in Go, so every lease read scanned the whole collection
 * and placement slowed as the run filled it (2.7/s → 0.6/s within 1,000 sessions). `sqlite`
 * measures that store anyway.
 *
 * Dispatchers are sized for the full pool (`DISPATCHER_MAX_IN_FLIGHT` = capacity / 2 each), as an
 * operator sizes them; the overload cuts the pool under them, as lost workers would.
 *
 * Never throws on a bad step: what went wrong is recorded in `errors` and the rest still runs.
 * Placement is judged from the session records (claimed → active), not the dispatchers' word.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../infra/logger.ts';
import { connectMongo } from '../../infra/mongo.ts';
import { percentile } from '../../infra/stats.ts';
import { readProfile } from '../../prompts/loader.ts';
import { MongoProfileStore } from '../../prompts/mongo-store.ts';
import { MongoSessionStore } from '../../sessions/mongo-store.ts';
import { testConfig, uniqueName } from '../../tests/support/env.ts';
import { FrontDoor } from '../../tests/support/front-door.ts';
import { LightAgentWorker } from '../../tests/support/light-agent.ts';
import {
  ensureIndexedMongo,
  ensureMultiNodeStack,
  multiNodeRequest,
  openDispatchLane,
} from '../../tests/support/multinode.ts';
import type { BenchContext } from '../lib/context.ts';
import { sleep } from '../lib/stats.ts';

export interface MultinodeOptions {
  mnRequests: number;
  mnCopies: number;
  overloadRate: number;
  overloadSeconds: number;
  /** Pool capacity during the overload (sessions at once, over both workers). */
  overloadCapacity: number;
  /** Pool capacity otherwise. */
  capacity: number;
  /** The session store under the dispatchers: FerretDB over PostgreSQL, or over SQLite. */
  mnStore: 'indexed' | 'sqlite';
  /**
   * The longest the overload's drain is waited for. Requests still unplaced then are reported
   * as `unplaced` (still in Pub/Sub), never as placed or lost.
   */
  drainBudgetMs: number;
}

export interface BacklogSample {
  tS: number;
  published: number;
  joined: number;
  backlog: number;
  dispatcherRssMb: number[];
}

export interface PlacementFigures {
  requests: number;
  deliveries: number;
  sessions: number;
  duplicated: number;
  lost: number;
  failed: number;
  /**
   * Requests the dispatcher refused, by code, each announced as `session.rejected` (e.g.
   * `stale_request`: it waited in the backlog past DISPATCHER_MAX_REQUEST_AGE_MS). Not lost.
   */
  rejected: Record<string, number>;
  /** Not yet claimed when the run stopped waiting: still in the subscription's backlog. */
  unplaced: number;
  placementP50Ms: number;
  placementP99Ms: number;
  wallMs: number;
}

export interface MultinodeResult {
  copies?: PlacementFigures;
  overload?: PlacementFigures & {
    drainMs: number;
    peakBacklog: number;
    rssStartMb: number[];
    rssPeakMb: number[];
    rssEndMb: number[];
    samples: BacklogSample[];
  };
  /** The session store the dispatchers wrote to. */
  store?: 'indexed' | 'sqlite';
  errors: string[];
}

const MAIN = fileURLToPath(new URL('../../dispatcher/main.ts', import.meta.url));

async function rssMb(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return Math.round(kb / 1024);
  } catch {
    return NaN;
  }
}

export async function multinodePhase(
  ctx: BenchContext,
  o: MultinodeOptions,
): Promise<MultinodeResult> {
  const result: MultinodeResult = { store: o.mnStore, errors: [] };
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      result.errors.push(`${name}: ${(err as Error).message}`);
      ctx.say(`multinode: ${name} failed: ${(err as Error).message}`);
      return undefined;
    }
  };
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const stack = await ensureMultiNodeStack(2);
    const door = await FrontDoor.start({
      targets: stack.nodes.map((n) => `127.0.0.1:${n.httpPort}`),
    });
    cleanups.push(() => door.close());
    const { apiKey, apiSecret } = testConfig().livekit;
    const db = uniqueName('bench-multinode');
    const mongoEnv: Record<string, string> =
      o.mnStore === 'indexed' ? { MONGODB_URL: await ensureIndexedMongo() } : {};
    const mongo = await connectMongo(testConfig(mongoEnv).mongo, db);
    cleanups.push(async () => {
      await mongo.db.dropDatabase().catch(() => undefined);
      await mongo.close();
    });
    const store = new MongoSessionStore({ db: mongo.db });
    const intake = await readProfile(
      fileURLToPath(new URL('../../prompts/intake.yaml', import.meta.url)),
    );
    await new MongoProfileStore(mongo.db).publish(intake, { author: 'bench', note: 'fixture' });

    const run = async (label: string, count: number, copies: number, overload: boolean) => {
      const agentName = uniqueName(`mn-${label}`);
      const perWorker = Math.ceil((overload ? o.overloadCapacity : o.capacity) / 2);
      const workers: LightAgentWorker[] = [];
      for (const node of stack.nodes) {
        workers.push(
          await LightAgentWorker.start({
            agentName,
            url: node.url,
            apiKey,
            apiSecret,
            maxJobs: perWorker,
            holdMs: 1000,
          }),
        );
      }
      const lane = await openDispatchLane({
        pubsub: ctx.h.pubsub,
        db,
        agentName,
        livekitUrl: `ws://${door.address}`,
        logger: createLogger({ level: 'error', service: 'bench-multinode' }),
        // Overload: requests wait their turn in Pub/Sub, not in the dispatcher; many tries.
        maxDeliveryAttempts: overload ? 100 : 5,
        env: {
          ...mongoEnv,
          DISPATCHER_MAX_IN_FLIGHT: String(Math.max(4, Math.ceil(o.capacity / 2))),
          DISPATCHER_REAPER_INTERVAL_MS: '0',
          PUBSUB_MAX_DELIVERY_ATTEMPTS: overload ? '100' : '5',
          // This machine drains ~3–4 placements/s, so most of a 12,000 backlog would pass the
          // 15-minute default and be refused as stale (by design, and announced). The overload
          // measures flow control and the drain, so its requests may wait as long as the run.
          ...(overload
            ? { DISPATCHER_MAX_REQUEST_AGE_MS: String(o.drainBudgetMs + 10 * 60_000) }
            : {}),
        },
      });
      const procs: ChildProcess[] = [0, 1].map(() =>
        spawn(process.execPath, ['--import', 'tsx', MAIN], {
          env: { ...process.env, ...lane.env, METADATA_SERVER_DETECTION: 'none' },
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
      const stopAll = async () => {
        for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
        await sleep(3000);
        for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
        await Promise.all(workers.map((w) => w.stop(3000)));
        await lane.close();
      };
      try {
        await sleep(5000); // both dispatchers up
        const bodies = Array.from({ length: count }, () => multiNodeRequest(`b${label}`));
        const ids = bodies.map((b) => b.sessionId);
        const idSet = new Set(ids);
        const joined = () => workers.reduce((n, w) => n + w.stats.joined, 0);
        const samples: BacklogSample[] = [];
        const t0 = Date.now();
        let published = 0;
        const sampler = setInterval(() => {
          void Promise.all(procs.map((p) => rssMb(p.pid))).then((rss) => {
            samples.push({
              tS: Math.round((Date.now() - t0) / 1000),
              published,
              joined: joined(),
              backlog: published - joined(),
              dispatcherRssMb: rss,
            });
          });
        }, 1000);
        try {
          if (overload) {
            const perTick = Math.max(1, Math.round(o.overloadRate / 10));
            let i = 0;
            while (i < bodies.length) {
              const tick = Date.now();
              const batch = bodies.slice(i, i + perTick);
              await Promise.all(batch.map((b) => lane.publish(b)));
              i += batch.length;
              published = i;
              await sleep(Math.max(0, 100 - (Date.now() - tick)));
            }
            // Capacity returns.
            for (const w of workers) w.setMaxJobs(Math.ceil(o.capacity / 2));
          } else {
            for (let c = 0; c < copies; c++) {
              await Promise.all(bodies.map((b) => lane.publish(b)));
              published = count;
            }
          }
          const publishedAtMs = Date.now();
          const until = Date.now() + (overload ? o.drainBudgetMs : Math.max(120_000, count * 400));
          let said = Date.now();
          while (joined() < count && Date.now() < until) {
            await sleep(1000);
            if (Date.now() - said >= 30_000) {
              said = Date.now();
              ctx.say(`multinode ${label}: ${joined()}/${count} agents joined`);
            }
          }
          const drainMs = Date.now() - publishedAtMs;
          await sleep(2000);
          clearInterval(sampler);
          let lost = 0;
          let failed = 0;
          let duplicated = 0;
          let unplaced = 0;
          const placementMs: number[] = [];
          const joinsByRoom = new Map<string, number>();
          for (const w of workers) {
            for (const [room, n] of w.stats.joinsByRoom) {
              joinsByRoom.set(room, (joinsByRoom.get(room) ?? 0) + n);
            }
          }
          const rejected: Record<string, number> = {};
          const refused = new Set<string>();
          for (const r of await store.listRejections({})) {
            if (!r.sessionId || refused.has(r.sessionId) || !idSet.has(r.sessionId)) continue;
            refused.add(r.sessionId);
            rejected[r.code] = (rejected[r.code] ?? 0) + 1;
          }
          // One read per request, 25 at a time: a thousand one after another took longer than
          // the whole drain on a loaded machine, with nothing printed.
          ctx.say(`multinode ${label}: reading ${ids.length} session records`);
          const records = new Map<string, Awaited<ReturnType<typeof store.get>>>();
          for (let i = 0; i < ids.length; i += 25) {
            const batch = ids.slice(i, i + 25);
            const got = await Promise.all(batch.map((id) => store.get(id)));
            batch.forEach((id, j) => records.set(id, got[j] ?? null));
          }
          for (const id of ids) {
            const s = records.get(id);
            if (s?.timestamps.active) {
              const claimed = s.timestamps.requested ?? s.requestedAt;
              placementMs.push(s.timestamps.active.getTime() - claimed.getTime());
              if ((joinsByRoom.get(s.room ?? '') ?? 0) > 1) duplicated += 1;
            } else if (s?.state === 'failed') failed += 1;
            else if (refused.has(id)) continue;
            // Never claimed while we waited: still in Pub/Sub when the wait ran out.
            else if (!s && joined() < count && Date.now() >= until) unplaced += 1;
            else lost += 1;
          }
          const figures: PlacementFigures = {
            requests: count,
            deliveries: count * copies,
            sessions: placementMs.length,
            duplicated,
            lost,
            failed,
            rejected,
            unplaced,
            placementP50Ms: percentile(placementMs, 50),
            placementP99Ms: percentile(placementMs, 99),
            wallMs: Date.now() - t0,
          };
          if (!overload) return { figures };
          const rss = samples.map((s) => s.dispatcherRssMb);
          return {
            figures,
            overload: {
              drainMs,
              peakBacklog: Math.max(0, ...samples.map((s) => s.backlog)),
              rssStartMb: rss[0] ?? [],
              rssPeakMb: [0, 1].map((i) => Math.max(...rss.map((r) => r[i] ?? 0))),
              rssEndMb: rss.at(-1) ?? [],
              samples,
            },
          };
        } finally {
          clearInterval(sampler);
        }
      } finally {
        await stopAll();
      }
    };

    const copies = await step('copies', () => run('copies', o.mnRequests, o.mnCopies, false));
    if (copies) {
      result.copies = copies.figures;
      ctx.say(`multinode copies: ${JSON.stringify(copies.figures)}`);
    }
    const over = await step('overload', () =>
      run('over', o.overloadRate * o.overloadSeconds, 1, true),
    );
    if (over?.overload) {
      result.overload = { ...over.figures, ...over.overload };
      const { samples, ...rest } = result.overload;
      ctx.say(`multinode overload: ${JSON.stringify(rest)}`);
      ctx.say(
        `multinode backlog curve (t s: backlog): ${samples
          .filter((_, i) => i % 10 === 0)
          .map((s) => `${s.tS}:${s.backlog}`)
          .join(' ')}`,
      );
    }
  } catch (err) {
    result.errors.push(`setup: ${(err as Error).message}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
  return result;
}
