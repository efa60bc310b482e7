/**
 * What the image holds, proven without a Docker daemon: the Dockerfile (and .dockerignore) is
 * read, every stage the service targets need is assembled in a clean folder (`npm ci
 * --omit=dev` from the npm cache, the compiled dist/), and a full call then runs from the
 * runtime folder with the targets' own entry points, init and environment (NODE_ENV=production):
 * a request through the Pub/Sub emulator, the dispatcher and the agent worker from dist/, LiveKit,
 * the local engines and a simulated patient.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMongo, type MongoHandle } from '../infra/mongo.ts';
import { placeCall } from '../scripts/lib/call.ts';
import { MongoSessionStore, MongoUtteranceStore } from '../sessions/mongo-store.ts';
import {
  readImageSpec,
  StageAssembler,
  type AssembledTarget,
  type Stage,
} from './support/dockerfile.ts';
import { TEST_ENV, testConfig, uniqueName } from './support/env.ts';
import { shutdownRtc } from './support/patient.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const TARGETS = ['agent', 'dispatcher', 'api'] as const;

interface Service {
  proc: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

/** Starts a target as its container would: ENTRYPOINT + CMD in WORKDIR, the image's ENV first. */
function startTarget(t: AssembledTarget, env: Record<string, string>): Service {
  const [bin, ...args] = [...t.entrypoint, ...t.cmd];
  const proc = spawn(bin!, args, {
    cwd: t.dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // No inherited environment: only what the image and the deployment would set.
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), ...t.env, ...env },
  });
  const output: string[] = [];
  const keep = (b: Buffer) => {
    output.push(b.toString());
    if (output.length > 2000) output.splice(0, output.length - 2000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    output,
    async stop() {
      // Taken before tini exits: its orphans would be re-parented out of reach.
      const tree = processTree(proc.pid!);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      }
      // Job and inference processes ignore SIGTERM; tini's child has its own group: by tree.
      for (const p of [...tree, ...processTree(proc.pid!)].reverse()) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}

async function waitHealthy(url: string, svc: Service, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (svc.proc.exitCode !== null) break;
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} never became healthy:\n${svc.output.join('').slice(-3000)}`);
}

const freePort = () => 20_000 + Math.floor(Math.random() * 30_000);

/**
 * A process and everything below it, with command lines. By parent, not process group: tini
 * puts the service in a process group of its own.
 */
function processTree(root: number): { pid: number; cmdline: string }[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parent) if (ppid === tree[i]) tree.push(pid);
  }
  return tree.flatMap((pid) => {
    try {
      return [{ pid, cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ') }];
    } catch {
      return [];
    }
  });
}

function filesUnder(dir: string, skip: (name: string) => boolean = () => false): string[] {
  const found: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (skip(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) found.push(...filesUnder(p, skip));
    else found.push(p);
  }
  return found;
}

describe('the production image, assembled from the Dockerfile', () => {
  const work = mkdtempSync(join(tmpdir(), 'voicecare-image-'));
  let stages: Stage[];
  let targets: Record<(typeof TARGETS)[number], AssembledTarget>;
  const services: Service[] = [];
  let mongo: MongoHandle | undefined;

  beforeAll(async () => {
    const spec = await readImageSpec(ROOT);
    stages = spec.stages;
    const assembler = new StageAssembler({
      root: ROOT,
      stages,
      context: spec.context,
      workDir: work,
      devNodeModules: join(ROOT, 'node_modules'),
      log: (l) => console.log(`[image] ${l}`),
    });
    const built = await Promise.all(TARGETS.map((t) => assembler.stage(t)));
    targets = Object.fromEntries(TARGETS.map((t, i) => [t, built[i]!])) as typeof targets;
  }, 600_000);

  afterAll(async () => {
    for (const s of services.reverse()) await s.stop();
    await shutdownRtc().catch(() => undefined);
    await mongo?.db.dropDatabase().catch(() => undefined);
    await mongo?.close();
    rmSync(work, { recursive: true, force: true });
  }, 180_000);

  it('pins every base image by digest and runs each target as non-root under tini, with a health check', () => {
    for (const s of stages) expect(s.from).toMatch(/^(node:[\w.-]+@sha256:[0-9a-f]{64}|\w[\w-]*)$/);
    expect(stages.some((s) => s.from.includes('@sha256:'))).toBe(true);
    for (const name of TARGETS) {
      const t = targets[name];
      expect(t.user, name).toBe('node');
      expect(t.entrypoint, name).toEqual(['/usr/bin/tini', '--']);
      expect(t.healthcheck, name).toMatch(/CMD/);
      expect(t.env.NODE_ENV, name).toBe('production');
      expect(t.cmd[0], name).toBe('node');
      // Compiled JavaScript, no loader flag.
      expect(t.cmd.join(' '), name).not.toMatch(/tsx|--import|--loader|\.ts\b/);
    }
  });

  it('holds compiled code and production dependencies only: no sources, tests or dev tools', () => {
    const dir = targets.dispatcher.dir;
    const app = filesUnder(dir, (n) => n === 'node_modules');
    expect(app.some((f) => f.endsWith('/dist/dispatcher/main.js'))).toBe(true);
    expect(app.some((f) => f.endsWith('/dist/agent/worker.js'))).toBe(true);
    expect(app.filter((f) => /\.ts$|\.test\.|\/tests\//.test(f))).toEqual([]);
    // The profiles the CLI reads beside itself.
    expect(existsSync(join(dir, 'dist/prompts/intake.yaml'))).toBe(true);
    // (typescript itself stays: @livekit/agents depends on it at run time, via throws-transformer.)
    for (const dev of ['tsx', 'vitest', 'eslint', 'prettier', '@cdktf/hcl2json']) {
      expect(existsSync(join(dir, 'node_modules', dev)), dev).toBe(false);
    }
    for (const prod of ['@livekit/agents', '@google-cloud/pubsub', 'mongodb']) {
      expect(existsSync(join(dir, 'node_modules', prod)), prod).toBe(true);
    }
    // The API's entry point is built whenever its source exists (api/ lands from its own branch).
    expect(existsSync(join(dir, 'dist/api/main.js'))).toBe(existsSync(join(ROOT, 'api/main.ts')));
  });

  it('installs the speech engines the agent falls back on, and they are on this machine too', async () => {
    expect(targets.agent.debs).toEqual(
      expect.arrayContaining(['espeak-ng', 'pocketsphinx', 'pocketsphinx-en-us']),
    );
    for (const deb of targets.agent.debs) await run('dpkg', ['-s', deb]);
  });

  it('runs a complete call with the dispatcher and the agent worker from the image', async () => {
    const names = {
      MONGODB_DB: uniqueName('image'),
      PUBSUB_REQUESTS_TOPIC: uniqueName('requests'),
      PUBSUB_REQUESTS_SUBSCRIPTION: uniqueName('requests-sub'),
      PUBSUB_DEAD_LETTER_TOPIC: uniqueName('dead'),
      PUBSUB_EVENTS_TOPIC: uniqueName('events'),
      AGENT_NAME: uniqueName('agent'),
    };
    // What the deployment sets (deploy/): the local servers stand in for the cloud ones.
    const deployment = {
      ...TEST_ENV,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      METADATA_SERVER_DETECTION: 'none',
      ...names,
    };
    const cfg = testConfig(names);

    // Publishing the profiles with the compiled CLI proves the YAML is found from dist/.
    const publish = await run(
      'node',
      [
        'dist/prompts/cli.js',
        'prompts',
        'publish',
        'intake',
        '--author',
        'image test',
        '--note',
        'image test',
      ],
      { cwd: targets.dispatcher.dir, env: { PATH: process.env.PATH ?? '', ...deployment } },
    );
    expect(publish.stdout + publish.stderr).toMatch(/intake/);

    const dispatcherPort = freePort();
    const dispatcher = startTarget(targets.dispatcher, {
      ...deployment,
      PORT: String(dispatcherPort),
      DISPATCHER_JOIN_TIMEOUT_MS: '90000',
    });
    services.push(dispatcher);
    await waitHealthy(`http://127.0.0.1:${dispatcherPort}/readyz`, dispatcher, 60_000);

    const agentPort = freePort();
    const metricsPort = freePort();
    const agent = startTarget(targets.agent, {
      ...deployment,
      AGENT_HTTP_PORT: String(agentPort),
      AGENT_METRICS_PORT: String(metricsPort),
      AGENT_NUM_IDLE_PROCESSES: '1',
      AGENT_TURN_DETECTION: 'vad',
      AGENT_CPU_LOAD: 'false',
      AGENT_MAX_JOBS: '2',
      // The shared 2-core test machine can take tens of seconds to start a job process.
      AGENT_INITIALIZE_PROCESS_TIMEOUT_MS: '60000',
    });
    services.push(agent);
    await waitHealthy(`http://127.0.0.1:${agentPort}/`, agent, 90_000);
    // Its idle job process prewarmed, so the first dispatch does not wait for a cold one.
    const idleBy = Date.now() + 120_000;
    while (!processTree(agent.proc.pid!).some((p) => /job_proc_lazy_main/.test(p.cmdline))) {
      if (Date.now() > idleBy) throw new Error('no idle job process within 120 s');
      await new Promise((r) => setTimeout(r, 500));
    }

    mongo = await connectMongo(cfg.mongo);
    const sessions = new MongoSessionStore({ db: mongo.db });
    const utterances = new MongoUtteranceStore({ db: mongo.db });
    let sawSession = false;
    const sampler = setInterval(() => {
      void fetch(`http://127.0.0.1:${metricsPort}/metrics`)
        .then((r) => r.text())
        .then((t) => {
          if (/^voicecare_agent_active_sessions 1$/m.test(t)) sawSession = true;
        })
        .catch(() => undefined);
    }, 1000);
    const lines: string[] = [];
    const result = await placeCall({
      cfg,
      sessions,
      utterances,
      profile: 'intake',
      out: (l) => lines.push(l),
      timeoutMs: 300_000,
    }).finally(() => clearInterval(sampler));
    console.log(lines.join('\n'));

    expect(result.session?.state).toBe('completed');
    expect(result.session?.answers).toMatchObject({
      painScore: { value: 4 },
      newAllergies: { value: false },
    });
    expect(result.utterances.filter((u) => u.role === 'patient').length).toBeGreaterThan(3);
    // The worker's own metrics counted the session.
    expect(sawSession).toBe(true);

    // Every process of the worker (main, job, inference) runs compiled code with no loader.
    const procs = processTree(agent.proc.pid!);
    expect(procs.some((p) => /job_proc_lazy_main\.js/.test(p.cmdline))).toBe(true);
    for (const p of procs) expect(p.cmdline).not.toMatch(/tsx|\.ts\b/);

    const dispatcherMetrics = await (
      await fetch(`http://127.0.0.1:${dispatcherPort}/metrics`)
    ).text();
    expect(dispatcherMetrics).toMatch(/^voicecare_dispatcher_desired_workers \d+$/m);
    expect(dispatcherMetrics).toMatch(
      /^voicecare_dispatcher_requests_total\{outcome="placed"\} 1$/m,
    );
  }, 600_000);
});
