/**
 * Where a live job process's main thread spends its time: opens the process's inspector
 * (SIGUSR1), takes a V8 CPU profile for a while and prints self time by component (package, the
 * framework's modules, our folders, GC) and the busiest functions. Run it against a job process
 * while a bench phase holds a call, ours or bare, one at a time (the inspector port is shared):
 *
 *   npm run bench:profile -- --pid 12345 [--seconds 20] [--port 9229]
 *
 * Native threads (WebRTC in rtc-node, onnxruntime's pool) are not on the main thread: count
 * them with `perf record -p <pid>` and `perf report --sort dso` (bench/README.md).
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

const { values: args } = parseArgs({
  options: {
    pid: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    port: { type: 'string', default: '9229' },
  },
});

/** The component a frame belongs to: a package (the framework by module), our folder, or V8's own. */
export function componentOf(url: string, fn: string): string {
  if (!url) {
    if (fn === '(garbage collector)') return 'GC';
    if (fn === '(program)') return 'native, unattributed';
    return fn === '(idle)' ? 'idle' : `native: ${fn.replace(/[()]/g, '')}`;
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?:dist\/|src\/)?(.*)$/.exec(url);
  if (pkg) {
    if (pkg[1] === '@livekit/agents') {
      return `@livekit/agents ${(pkg[2] ?? '').split('/').slice(0, 2).join('/')}`;
    }
    return pkg[1]!;
  }
  if (url.startsWith('node:')) return 'node core (streams, async hooks, timers)';
  const ours = /\/(agent|infra|sessions|prompts|knowledge|education|bench)\//.exec(url);
  return ours ? `ours: ${ours[1]}/` : url.slice(-60);
}

async function profile(pid: number, seconds: number, port: number): Promise<Profile> {
  process.kill(pid, 'SIGUSR1');
  let targets: { webSocketDebuggerUrl: string }[] = [];
  for (let i = 0; i < 20 && targets.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    targets = await fetch(`http://127.0.0.1:${port}/json`)
      .then((r) => r.json() as Promise<{ webSocketDebuggerUrl: string }[]>)
      .catch(() => []);
  }
  const target = targets[0];
  if (!target) throw new Error(`no inspector on port ${port} after SIGUSR1 to ${pid}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let next = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg.result);
  });
  const send = <T>(method: string, params: object = {}) =>
    new Promise<T>((resolve) => {
      const id = ++next;
      waiting.set(id, resolve as (r: unknown) => void);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 1000 });
  await send('Profiler.start');
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const { profile: p } = await send<{ profile: Profile }>('Profiler.stop');
  ws.close();
  return p;
}

function report(p: Profile): string[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const msPerSample = (p.endTime - p.startTime) / 1000 / Math.max(1, p.samples.length);
  const components = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const id of p.samples) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const c = componentOf(frame.url, frame.functionName);
    if (c === 'idle') continue;
    busy += msPerSample;
    components.set(c, (components.get(c) ?? 0) + msPerSample);
    if (frame.url) {
      const where = frame.url
        .replace(/^.*node_modules\//, '')
        .replace(/^file:\/\/.*?\/(?=agent|infra|sessions)/, '');
      const k = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
      functions.set(k, (functions.get(k) ?? 0) + msPerSample);
    }
  }
  const wall = (p.endTime - p.startTime) / 1000;
  const pct = (v: number) => `${((100 * v) / Math.max(1, busy)).toFixed(1).padStart(5)} %`;
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${pct(v)}  ${k}`);
  return [
    `wall ${wall.toFixed(0)} ms; main thread busy ${busy.toFixed(0)} ms (${((100 * busy) / wall).toFixed(1)} % of a core)`,
    'by component (share of the busy time):',
    ...top(components, 20),
    'busiest functions (self time):',
    ...top(functions, 15),
  ];
}

async function main(): Promise<number> {
  const pid = Number(args.pid);
  if (!Number.isInteger(pid) || pid <= 0) {
    process.stderr.write(
      'usage: npm run bench:profile -- --pid <job process> [--seconds 20] [--port 9229]\n',
    );
    return 2;
  }
  const p = await profile(pid, Number(args.seconds), Number(args.port));
  for (const line of report(p)) process.stdout.write(`${line}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
