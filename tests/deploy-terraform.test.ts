/**
 * The Terraform in deploy/ checked against the code, so the two cannot drift: every variable a
 * service is given is one infra/config.ts reads (and parses), every key the code needs is a
 * Secret Manager secret wired to the services that need it, every probe path is served, the
 * Pub/Sub topology and the drain budgets match the code's, and IAM stays within an allow-list.
 * Parsed with HashiCorp's own HCL parser (compiled to WebAssembly in @cdktf/hcl2json: offline).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../infra/config.ts';
import { parseDockerfile } from './support/dockerfile.ts';

// Loaded without its type declarations: they pull in the DOM lib (`/// <reference lib="dom">`),
// which changes the global stream types for every other file in the project.
const { parse } = createRequire(import.meta.url)('@cdktf/hcl2json') as {
  parse(filename: string, contents: string): Promise<unknown>;
};
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const run = promisify(execFile);

/** Roles a VoiceCare service account may hold. Anything else needs a reason and an entry here. */
const ALLOWED_ROLES = new Set([
  'roles/pubsub.publisher',
  'roles/pubsub.subscriber',
  'roles/pubsub.viewer',
  'roles/secretmanager.secretAccessor',
  'roles/logging.logWriter',
  'roles/monitoring.metricWriter',
  // The autoscaler: its configuration, the metrics it scales on, and the agent pool it scales.
  'roles/parametermanager.parameterViewer',
  'roles/monitoring.viewer',
  'roles/run.developer',
  'roles/iam.serviceAccountUser',
]);
/** Roles that may be granted on the whole project; the rest only on single resources. */
const PROJECT_WIDE = new Set([
  'roles/logging.logWriter',
  'roles/monitoring.metricWriter',
  'roles/monitoring.viewer',
  'roles/parametermanager.parameterViewer',
]);
/** Configuration values that are credentials: they must come from Secret Manager. */
const isSecret = (name: string) =>
  /(_KEY|_SECRET|_TOKEN|_PASSWORD)$/.test(name) || name === 'MONGODB_URL';

/** Sample values for the variables without defaults, to evaluate the environment. */
const SAMPLE_VARS: Record<string, string> = {
  project_id: 'voicecare-prod',
  environment: 'production',
  image_tag: 'abc123',
  livekit_url: 'wss://voicecare.livekit.cloud',
};

type Json = Record<string, unknown>;
const SERVICES = { api: 'api', dispatcher: 'dispatcher', agent: 'agent' } as const;

describe('the Terraform in deploy/', () => {
  let tf: { locals: Json; variables: Json; resources: Json; text: string };

  beforeAll(async () => {
    const files = readdirSync(DEPLOY).filter((f) => f.endsWith('.tf'));
    const locals: Json = {};
    const variables: Json = {};
    const resources: Record<string, Json> = {};
    let text = '';
    for (const f of files) {
      const source = readFileSync(join(DEPLOY, f), 'utf8');
      text += source;
      const doc = (await parse(f, source)) as {
        locals?: Json[];
        variable?: Record<string, Json[]>;
        resource?: Record<string, Record<string, Json[]>>;
      };
      for (const block of doc.locals ?? []) Object.assign(locals, block);
      for (const [name, [v]] of Object.entries(doc.variable ?? {})) variables[name] = v;
      for (const [type, byName] of Object.entries(doc.resource ?? {})) {
        resources[type] ??= {};
        for (const [name, [r]] of Object.entries(byName)) resources[type]![name] = r;
      }
    }
    tf = { locals, variables, resources, text };
  });

  /** Resolves `${local.a.b}`, `${var.x}` and `${tostring(...)}`; anything else stays unresolved. */
  function resolve(value: unknown): string | undefined {
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (typeof value !== 'string') return undefined;
    const m = /^\$\{(.*)\}$/.exec(value);
    if (!m) return value.includes('${') ? undefined : value;
    let expr = m[1]!.trim();
    const str = /^tostring\((.*)\)$/.exec(expr);
    if (str) expr = str[1]!;
    const ref = /^(local|var)\.([\w.]+)$/.exec(expr);
    if (!ref) return undefined;
    const [head, ...path] = ref[2]!.split('.');
    let v: unknown =
      ref[1] === 'var'
        ? (SAMPLE_VARS[head!] ?? (tf.variables[head!] as Json | undefined)?.default)
        : tf.locals[head!];
    for (const p of path) v = (v as Json | undefined)?.[p];
    return resolve(v);
  }

  function containersOf(service: string): Json[] {
    const r =
      (tf.resources.google_cloud_run_v2_service as Json)[service] ??
      (tf.resources.google_cloud_run_v2_worker_pool as Json)[service];
    expect(r, `no Cloud Run resource for ${service}`).toBeDefined();
    const template = ((r as Json).template as Json[])[0]!;
    return template.containers as Json[];
  }

  /** The plain and secret environment of a service's own container (sidecars aside). */
  function envOf(service: string): {
    plain: Record<string, string | undefined>;
    secrets: string[];
  } {
    const main = containersOf(service).find((c) => c.name === service)!;
    expect(main, `${service} has no container named ${service}`).toBeDefined();
    const plain: Record<string, string | undefined> = {};
    const secrets: string[] = [];
    for (const e of (main.env as Json[] | undefined) ?? [])
      plain[String(e.name)] = resolve(e.value);
    const dynamic = ((main.dynamic as Json | undefined)?.env as Json[] | undefined) ?? [];
    for (const d of dynamic) {
      const forEach = String(d.for_each);
      const secretOf = /local\.secret_env\["(\w+)"\]/.exec(forEach);
      if (secretOf) {
        const table = tf.locals.secrets as Record<string, string[]>;
        secrets.push(...Object.keys(table).filter((k) => table[k]!.includes(secretOf[1]!)));
        continue;
      }
      const maps = [...forEach.matchAll(/local\.(\w+_env)\b/g)].map((x) => x[1]!);
      expect(maps.length, `unreadable env for_each ${forEach}`).toBeGreaterThan(0);
      for (const name of maps) {
        for (const [k, v] of Object.entries(tf.locals[name] as Json)) plain[k] = resolve(v);
      }
    }
    return { plain, secrets };
  }

  it('sets only variables the configuration reads, with values it accepts', () => {
    for (const service of Object.keys(SERVICES)) {
      const { plain, secrets } = envOf(service);
      for (const name of [...Object.keys(plain), ...secrets]) {
        expect(CONFIG_VARIABLES, `${service} sets ${name}`).toContain(name);
      }
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(plain)) {
        expect(v, `${service}: ${k} could not be evaluated`).toBeDefined();
        env[k] = v!;
      }
      // Secrets get placeholder values of the right shape: only their wiring is checked here.
      for (const s of secrets)
        env[s] =
          s === 'MONGODB_URL'
            ? 'mongodb+srv://u:p@atlas.example/db'
            : s === 'API_EDUCATION_LINK_SECRET'
              ? 'x'.repeat(32)
              : 'x';
      // Cloud Run sets PORT itself for services (not for worker pools).
      if (service !== 'agent') env.PORT = '8080';
      const cfg = loadConfig(env);
      expect(cfg.env).toBe('production');
      if (service !== 'agent') expect(cfg.dispatcher.httpHost).toBe('0.0.0.0');
    }
  });

  it('wires every credential the code reads from Secret Manager, never as a plain value', () => {
    const needed = CONFIG_VARIABLES.filter(isSecret);
    expect(needed).toEqual(
      expect.arrayContaining(['LIVEKIT_API_KEY', 'MONGODB_URL', 'OPENAI_API_KEY']),
    );
    const table = tf.locals.secrets as Record<string, string[]>;
    for (const name of needed) expect(Object.keys(table), name).toContain(name);
    const all = Object.keys(SERVICES).map((s) => envOf(s));
    for (const { plain } of all) {
      for (const name of Object.keys(plain)) expect(isSecret(name), name).toBe(false);
    }
    // Each service gets the credentials it needs: the agent the AI vendors', all of them LiveKit
    // and MongoDB; and each reader holds the accessor role on exactly those secrets.
    const agent = envOf('agent').secrets;
    for (const k of ['DEEPGRAM_API_KEY', 'OPENAI_API_KEY', 'ELEVENLABS_API_KEY'])
      expect(agent).toContain(k);
    for (const s of Object.keys(SERVICES)) {
      for (const k of ['LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET', 'MONGODB_URL']) {
        expect(envOf(s).secrets, `${s} ${k}`).toContain(k);
      }
    }
    const readers = tf.resources.google_secret_manager_secret_iam_member as Json;
    expect(String((readers.readers as Json).for_each)).toMatch(/local\.secret_readers/);
  });

  it('probes paths the services actually serve', () => {
    const served: Record<string, (path: string) => boolean> = {
      dispatcher: (p) =>
        readFileSync(join(ROOT, 'dispatcher/http.ts'), 'utf8').includes(`case '${p}'`),
      // The framework's own health server answers "/" and "/worker".
      agent: (p) =>
        readFileSync(
          join(ROOT, 'node_modules/@livekit/agents/src/http_server.ts'),
          'utf8',
        ).includes(`req.url === '${p}'`),
      api: (p) =>
        existsSync(join(ROOT, 'api')) &&
        readdirSync(join(ROOT, 'api'), { recursive: true })
          .map(String)
          .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
          .some((f) => readFileSync(join(ROOT, 'api', f), 'utf8').includes(`'${p}'`)),
    };
    const probed: [string, string][] = [];
    for (const service of ['api', 'dispatcher']) {
      const main = containersOf(service).find((c) => c.name === service)!;
      for (const kind of ['startup_probe', 'liveness_probe']) {
        const probe = (main[kind] as Json[] | undefined)?.[0];
        expect(probe, `${service} ${kind}`).toBeDefined();
        probed.push([service, String(((probe!.http_get as Json[])[0] as Json).path)]);
      }
    }
    // The image's HEALTHCHECKs too.
    const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    for (const name of Object.keys(SERVICES)) {
      const check = stages
        .find((s) => s.name === name)
        ?.instructions.find((i) => i.op === 'HEALTHCHECK');
      const path = /\+'(\/[\w/]*)'\)/.exec(check?.args ?? '')?.[1];
      expect(path, `${name} HEALTHCHECK`).toBeDefined();
      probed.push([name, path!]);
    }
    // The API's routes land from its own branch: its probes are checked once its source exists.
    const apiBuilt = existsSync(join(ROOT, 'api/main.ts'));
    for (const [service, path] of probed) {
      if (service === 'api' && !apiBuilt) continue;
      expect(served[service]!(path), `${service} serves ${path}`).toBe(true);
    }
    expect(probed.filter(([s]) => s === 'dispatcher').map(([, p]) => p)).toContain('/readyz');
  });

  it('grants only allow-listed roles, project-wide only where no narrower resource exists', () => {
    const roles = new Set([...tf.text.matchAll(/roles\/[\w.]+/g)].map((m) => m[0]));
    expect(roles.size).toBeGreaterThan(3);
    for (const r of roles) expect(ALLOWED_ROLES, r).toContain(r);
    // Authoritative bindings would remove grants made elsewhere.
    expect(tf.text).not.toMatch(/google_project_iam_(binding|policy)|_iam_policy"/);
    const projectWide = tf.resources.google_project_iam_member as Record<string, Json>;
    const projectRoles = Object.values(projectWide).flatMap((r) =>
      [...JSON.stringify(r).matchAll(/roles\/[\w.]+/g)].map((m) => m[0]),
    );
    for (const r of projectRoles) expect(PROJECT_WIDE, r).toContain(r);
    // One service account per service.
    expect(String((tf.locals as Json).services ?? '')).toMatch(/api.*dispatcher.*agent/);
  });

  it('declares the Pub/Sub topology the code expects, with dead letters and backoff', () => {
    const cfg = loadConfig({});
    const topics = tf.locals.topics as Record<string, string>;
    expect(topics.requests).toBe(cfg.pubsub.requestsTopic);
    expect(topics.events).toBe(cfg.pubsub.eventsTopic);
    expect(topics.dead_letter).toBe(cfg.pubsub.deadLetterTopic);
    expect(tf.locals.requests_subscription).toBe(cfg.pubsub.requestsSubscription);
    // infra/pubsub.ts gives a dead-letter topic a `<topic>-sub` subscription.
    expect(tf.locals.dead_letter_subscription).toBe(`${cfg.pubsub.deadLetterTopic}-sub`);
    const sub = (tf.resources.google_pubsub_subscription as Record<string, Json>).requests!;
    const dlp = (sub.dead_letter_policy as Json[])[0]!;
    expect(resolve(dlp.max_delivery_attempts)).toBe(String(cfg.pubsub.maxDeliveryAttempts));
    const retry = (sub.retry_policy as Json[])[0]!;
    const pubsubTs = readFileSync(join(ROOT, 'infra/pubsub.ts'), 'utf8');
    const backoff = (what: string) =>
      Number(new RegExp(`${what}Ms \\?\\? ([\\d_]+)`).exec(pubsubTs)?.[1]?.replace(/_/g, ''));
    expect(retry.minimum_backoff).toBe(`${backoff('minBackoff') / 1000}s`);
    expect(retry.maximum_backoff).toBe(`${backoff('maxBackoff') / 1000}s`);
  });

  it('fits every drain into the 10 s Cloud Run gives after SIGTERM', () => {
    const agent = loadConfig(
      Object.fromEntries(Object.entries(envOf('agent').plain).map(([k, v]) => [k, v ?? ''])),
    ).agent;
    expect(agent.drainTimeoutMs + agent.shutdownTimeoutMs).toBeLessThan(10_000);
    const dispatcher = loadConfig(
      Object.fromEntries(Object.entries(envOf('dispatcher').plain).map(([k, v]) => [k, v ?? ''])),
    ).dispatcher;
    expect(dispatcher.shutdownTimeoutMs).toBeLessThan(10_000);
    // The dispatcher service keeps CPU while idle (it pulls in the background), and never scales to zero.
    const d = (tf.resources.google_cloud_run_v2_service as Record<string, Json>).dispatcher!;
    const template = (d.template as Json[])[0]!;
    expect(((template.scaling as Json[])[0] as Json).min_instance_count).toBeGreaterThanOrEqual(1);
    const main = (template.containers as Json[]).find((c) => c.name === 'dispatcher')!;
    expect(((main.resources as Json[])[0] as Json).cpu_idle).toBe(false);
    const api = (tf.resources.google_cloud_run_v2_service as Record<string, Json>).api!;
    expect((((api.template as Json[])[0]!.scaling as Json[])[0] as Json).min_instance_count).toBe(
      1,
    );
  });

  it('scales the agent pool on the dispatcher gauge, busy workers and the backlog', () => {
    const crema = readFileSync(join(DEPLOY, 'crema/scaling.yaml.tftpl'), 'utf8');
    const dispatcherMetrics = readFileSync(join(ROOT, 'dispatcher/scaling.ts'), 'utf8');
    const agentMetrics = readFileSync(join(ROOT, 'agent/metrics.ts'), 'utf8');
    for (const m of crema.matchAll(/query: .*?(voicecare_\w+)/g)) {
      expect(dispatcherMetrics + agentMetrics, m[1]).toContain(`'${m[1]}'`);
    }
    expect(crema).toMatch(/type: gcp-pubsub/);
    expect(crema).toMatch(/workerpools\/\$\{worker_pool\}/);
    expect(tf.resources.google_cloud_run_v2_worker_pool).toHaveProperty('agent');
  });

  it('is formatted as terraform fmt wants it (when terraform is installed)', async () => {
    const found = await run('terraform', ['version']).then(
      () => true,
      () => false,
    );
    if (!found) {
      console.warn('terraform not installed: fmt check not run');
      return;
    }
    // fmt needs no provider download; validate would, so it is not run here.
    await expect(run('terraform', ['fmt', '-check', '-recursive', DEPLOY])).resolves.toBeDefined();
  });
});
