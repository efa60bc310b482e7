/**
 * A minimal REAL @livekit/agents worker for dispatcher tests: registered with an explicit
 * `agentName`, in production (`start`) mode with one idle process. Its job connects to the room
 * (no media) and stays until every non-agent participant has left again, it is told to leave
 * (a data packet on {@link LEAVE_TOPIC}), the room is deleted, or a safety cap runs out.
 *
 * Run it as a child process with {@link startJoiningWorker}: it forks job processes, so the
 * helper starts it in its own process group and stops the whole group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AutoSubscribe, cli, defineAgent, ServerOptions, type JobContext } from '@livekit/agents';
import { ParticipantKind, RoomEvent, type RemoteParticipant } from '@livekit/rtc-node';

/** A data packet on this topic makes the agent leave its room. */
export const LEAVE_TOPIC = 'voicecare.test.leave';

const SELF = fileURLToPath(import.meta.url);

// Test-only child process: the worker reads its settings from the environment the helper gives it.
const MAX_STAY_MS = Number(process.env['JOINING_WORKER_MAX_STAY_MS'] ?? 120_000);
const LEAVE_ON_RECONNECT = process.env['JOINING_WORKER_LEAVE_ON_RECONNECT'] === '1';
/** How long after a reconnect the patient has to be back in the room. */
const PATIENT_LOST_MS = 3000;

export default defineAgent({
  entry: async (ctx: JobContext) => {
    await ctx.connect(undefined, AutoSubscribe.SUBSCRIBE_NONE);
    const room = ctx.room;
    let sawPatient = false;
    const humans = () =>
      [...room.remoteParticipants.values()].filter((p) => p.kind !== ParticipantKind.AGENT);

    const cap = setTimeout(() => ctx.shutdown('max stay reached'), MAX_STAY_MS);
    ctx.addShutdownCallback(async () => clearTimeout(cap));

    room.on(RoomEvent.ParticipantConnected, (p: RemoteParticipant) => {
      if (p.kind !== ParticipantKind.AGENT) sawPatient = true;
    });
    room.on(RoomEvent.ParticipantDisconnected, () => {
      if (sawPatient && humans().length === 0) ctx.shutdown('room emptied');
    });
    // A node that died moves the room to a survivor when the agent reconnects, but a patient
    // pinned to the dead node is not in it, and no disconnect event says so. With this set, an
    // agent whose patient is not in the room shortly after a reconnect ends its call, as
    // agent/session.ts does (`patient_lost`). Only then: an agent whose own connection went
    // through the dead node into a room on a survivor finds its patient still there, and stays.
    if (LEAVE_ON_RECONNECT) {
      let lostTimer: NodeJS.Timeout | undefined;
      room.on(RoomEvent.Reconnecting, () => clearTimeout(lostTimer));
      room.on(RoomEvent.Reconnected, () => {
        clearTimeout(lostTimer);
        lostTimer = setTimeout(() => {
          if (humans().length === 0) ctx.shutdown('patient lost after a reconnect');
        }, PATIENT_LOST_MS);
      });
      ctx.addShutdownCallback(async () => clearTimeout(lostTimer));
      room.on(RoomEvent.Disconnected, () => ctx.shutdown('room connection closed'));
    }
    room.on(RoomEvent.DataReceived, (_payload, _participant, _kind, topic) => {
      if (topic === LEAVE_TOPIC) ctx.shutdown('told to leave');
    });
  },
});

export interface JoiningWorkerOptions {
  agentName: string;
  livekitUrl: string;
  apiKey: string;
  apiSecret: string;
  /** @defaultValue 60_000 */
  registerTimeoutMs?: number;
  /** @defaultValue 120_000 */
  maxStayMs?: number;
  /**
   * End the job when no patient is in the room shortly after its connection came back (a node
   * died and the room moved without them). @defaultValue false
   */
  leaveOnReconnect?: boolean;
}

export interface JoiningWorker {
  readonly pid: number;
  /** Everything the worker printed so far (JSON log lines), for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL to the whole process group if it has not exited in `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGroupGone(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!groupAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !groupAlive(pid);
}

/** Starts the worker and resolves once LiveKit has registered it. */
export async function startJoiningWorker(opts: JoiningWorkerOptions): Promise<JoiningWorker> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SELF, 'start'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      JOINING_WORKER_AGENT_NAME: opts.agentName,
      JOINING_WORKER_PORT: String(port),
      JOINING_WORKER_MAX_STAY_MS: String(opts.maxStayMs ?? 120_000),
      JOINING_WORKER_LEAVE_ON_RECONNECT: opts.leaveOnReconnect ? '1' : '0',
      LIVEKIT_URL: opts.livekitUrl,
      LIVEKIT_API_KEY: opts.apiKey,
      LIVEKIT_API_SECRET: opts.apiSecret,
    },
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('joining worker did not start');

  let out = '';
  let exited = false;
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exit = once(child, 'exit').then(() => {
    exited = true;
  });

  const stop = async (graceMs = 10_000) => {
    if (!exited) child.kill('SIGTERM');
    await Promise.race([exit, new Promise((r) => setTimeout(r, graceMs))]);
    // Job and inference processes ignore SIGTERM: make sure nothing of the group survives.
    if (groupAlive(pid)) process.kill(-pid, 'SIGKILL');
    if (!(await waitGroupGone(pid, 5000))) throw new Error(`worker group ${pid} survived`);
  };

  const timeoutMs = opts.registerTimeoutMs ?? 60_000;
  const until = Date.now() + timeoutMs;
  while (!out.includes('registered worker')) {
    if (exited || Date.now() > until) {
      await stop(1000);
      throw new Error(`joining worker did not register within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid, output: () => out, stop };
}

if (process.argv[1] === SELF) {
  cli.runApp(
    new ServerOptions({
      agent: SELF,
      agentName: process.env['JOINING_WORKER_AGENT_NAME'] ?? 'voicecare-test-agent',
      wsURL: process.env['LIVEKIT_URL'] ?? 'ws://127.0.0.1:7880',
      apiKey: process.env['LIVEKIT_API_KEY'] ?? 'devkey',
      apiSecret: process.env['LIVEKIT_API_SECRET'] ?? 'secret',
      host: '127.0.0.1',
      port: Number(process.env['JOINING_WORKER_PORT'] ?? 0),
      numIdleProcesses: 1,
      // Always available: the machine's CPU is shared with other test runs, and a fixture that
      // marks itself full would make dispatch tests flaky rather than test anything.
      loadFunc: async () => 0,
      loadThreshold: 1,
      // A job process that is not ready in 10 s (the default) is killed and another started;
      // on this shared 2-core host a loaded start takes longer, and the restarts only add load
      // (issue 18: every job of a run failed with "runner initialization timed out").
      initializeProcessTimeout: 30_000,
      drainTimeout: 2000,
      shutdownProcessTimeout: 3000,
    }),
  );
}
