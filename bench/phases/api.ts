/**
 * The API phase: autocannon on GET /v1/sessions/:id and POST /v1/sessions against the real API
 * (FerretDB, the Pub/Sub emulator), each beside a bare Fastify route that answers the same
 * document from memory, so the ratio is our overhead (auth, validation, the store, Pub/Sub).
 *
 * autocannon runs as a child process: in this process it would share the event loop it measures.
 * Standalone: `npx tsx bench/phases/api.ts [--duration-s 10] [--connections 20]`.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import Fastify from 'fastify';
import { createLogger } from '../../infra/logger.ts';
import { json, sessionBody, startApi } from '../../tests/support/api.ts';

const run = promisify(execFile);
const AUTOCANNON = fileURLToPath(
  new URL('../../node_modules/autocannon/autocannon.js', import.meta.url),
);

export interface LoadFigures {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

export interface ApiBenchResult {
  durationS: number;
  connections: number;
  read: { ours: LoadFigures; bare: LoadFigures; rpsRatio: number; p99Ratio: number };
  create: { ours: LoadFigures; bare: LoadFigures; rpsRatio: number; p99Ratio: number };
  goal: { readRps: number; readP99Ms: number; met: boolean };
}

export interface ApiPhaseOptions {
  durationS: number;
  connections: number;
  say?: (line: string) => void;
}

async function load(
  url: string,
  opts: ApiPhaseOptions,
  request: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<LoadFigures> {
  const args = [AUTOCANNON, '-j', '-c', String(opts.connections), '-d', String(opts.durationS)];
  if (request.method) args.push('-m', request.method);
  for (const [k, v] of Object.entries(request.headers ?? {})) args.push('-H', `${k}=${v}`);
  if (request.body) args.push('-b', request.body);
  args.push(url);
  const { stdout } = await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 });
  const r = JSON.parse(stdout) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  };
  return {
    rps: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

export async function apiPhase(opts: ApiPhaseOptions): Promise<ApiBenchResult> {
  const say = opts.say ?? (() => undefined);
  const f = await startApi({ LOG_LEVEL: 'warn', API_RATE_LIMIT_MAX: '100000000' });
  const bare = Fastify({ logger: false });
  try {
    const key = await f.apiKey(['sessions:create', 'sessions:read']);
    const created = await f.fetch('/v1/sessions', {
      ...json(sessionBody()),
      auth: `ApiKey ${key}`,
    });
    const accepted = await created.text();
    const { sessionId } = JSON.parse(accepted) as { sessionId: string };
    const docRes = await f.fetch(`/v1/sessions/${sessionId}`, { auth: `ApiKey ${key}` });
    const doc = (await docRes.json()) as unknown;
    bare.get('/doc', async () => doc);
    bare.post('/doc', async (_request, reply) => reply.code(202).send(accepted));
    await bare.listen({ host: '127.0.0.1', port: 0 });
    const address = bare.server.address();
    const bareUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/doc`;
    const auth = { 'x-api-key': key };
    const body = JSON.stringify(sessionBody());
    const post = { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body };

    say(`api: GET bare (${opts.connections} connections, ${opts.durationS} s)`);
    const readBare = await load(bareUrl, opts);
    say(`api: GET /v1/sessions/:id`);
    const readOurs = await load(`${f.url}/v1/sessions/${sessionId}`, opts, { headers: auth });
    say(`api: POST bare`);
    const createBare = await load(bareUrl, opts, post);
    say(`api: POST /v1/sessions`);
    const createOurs = await load(`${f.url}/v1/sessions`, opts, post);
    const ratio = (ours: LoadFigures, b: LoadFigures) => ({
      ours,
      bare: b,
      rpsRatio: ours.rps / Math.max(1, b.rps),
      p99Ratio: ours.p99Ms / Math.max(1, b.p99Ms),
    });
    return {
      durationS: opts.durationS,
      connections: opts.connections,
      read: ratio(readOurs, readBare),
      create: ratio(createOurs, createBare),
      goal: {
        readRps: 1000,
        readP99Ms: 200,
        met: readOurs.rps >= 1000 && readOurs.p99Ms < 200 && readOurs.non2xx === 0,
      },
    };
  } finally {
    await bare.close();
    await f.stop();
  }
}

export function formatApiResult(r: ApiBenchResult): string[] {
  const row = (name: string, x: LoadFigures) =>
    `| ${name} | ${x.rps.toFixed(0)} | ${x.p50Ms.toFixed(1)} | ${x.p99Ms.toFixed(1)} | ${x.requests} | ${x.non2xx} | ${x.errors} |`;
  return [
    `API under load: ${r.connections} connections, ${r.durationS} s per run`,
    '',
    '| run | req/s | p50 ms | p99 ms | requests | non-2xx | errors |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row('GET bare Fastify (same document, memory)', r.read.bare),
    row('GET /v1/sessions/:id (API key, FerretDB)', r.read.ours),
    row('POST bare Fastify', r.create.bare),
    row('POST /v1/sessions (validate, store, Pub/Sub)', r.create.ours),
    '',
    `read: ${(r.read.rpsRatio * 100).toFixed(0)} % of bare throughput, p99 ×${r.read.p99Ratio.toFixed(1)}; create: ${(r.create.rpsRatio * 100).toFixed(0)} %, p99 ×${r.create.p99Ratio.toFixed(1)}`,
    `goal (read ≥ ${r.goal.readRps} req/s, p99 < ${r.goal.readP99Ms} ms): ${r.goal.met ? 'met' : 'not met'}`,
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { 'duration-s': { type: 'string' }, connections: { type: 'string' } },
  });
  const log = createLogger({ level: 'info', service: 'bench' });
  apiPhase({
    durationS: Number(values['duration-s'] ?? 10),
    connections: Number(values.connections ?? 20),
    say: (l) => log.info(l),
  }).then(
    (r) => {
      process.stdout.write(`${formatApiResult(r).join('\n')}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
