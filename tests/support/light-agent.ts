/**
 * A light agent pool for placement at scale: one process holds many agent "workers", each
 * speaking LiveKit's agent worker protocol itself (the `/agent` WebSocket: register, answer
 * availability, take the assignment, report the job's status) instead of forking a job
 * process per session as @livekit/agents does (~0.5–5 s and ~180 MB a job here, which would
 * make 1,000 sessions a half-hour). Its "profile" is the minimal one: join the room as the
 * agent with the token LiveKit assigned (signalling only, see `#join`), say one line (the
 * {@link LINE_ATTRIBUTE} attribute), stay `holdMs`, leave, and report the job done.
 *
 * It honours capacity as the framework does: at `maxJobs` running jobs a worker reports
 * itself full and LiveKit offers it nothing; `setMaxJobs` changes that while it runs (the
 * bench takes capacity away and gives it back). A worker whose connection drops (its node
 * died) reconnects, a bounded number of times, through the URL it was given.
 */
import {
  DisconnectReason,
  JobStatus,
  JobType,
  ParticipantPermission,
  ServerMessage,
  SignalRequest,
  SignalResponse,
  WorkerMessage,
  WorkerStatus,
} from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';
import WebSocket from 'ws';

type WorkerMessageInit = NonNullable<ConstructorParameters<typeof WorkerMessage>[0]>;

/** The agent's one line: a participant attribute everyone in the room sees. */
export const LINE_ATTRIBUTE = 'voicecare.light.line';
const ATTRIBUTE_AGENT_NAME = 'lk.agent.name';

export interface LightAgentOptions {
  agentName: string;
  /** ws:// URL of LiveKit (a node or a front door). */
  url: string;
  apiKey: string;
  apiSecret: string;
  /** Concurrent jobs before the worker reports itself full. @defaultValue 50 */
  maxJobs?: number;
  /** How long the agent stays after its line. @defaultValue 500 */
  holdMs?: number;
  /** Wait this long after the assignment before joining (a slow job start). @defaultValue 0 */
  joinDelayMs?: number;
  /** Reconnect tries after a lost connection, 1 s apart. @defaultValue 30 */
  maxReconnects?: number;
}

export interface LightAgentStats {
  /** Jobs LiveKit assigned. */
  assigned: number;
  /** Agents that joined their room and said their line. */
  joined: number;
  failed: number;
  /** Registrations with LiveKit (1 + reconnects). */
  registrations: number;
  /** Rooms joined, by room name: more than one join for a room is a duplicate agent. */
  joinsByRoom: Map<string, number>;
}

export class LightAgentWorker {
  readonly stats: LightAgentStats = {
    assigned: 0,
    joined: 0,
    failed: 0,
    registrations: 0,
    joinsByRoom: new Map(),
  };
  /** The last job failure, for failure messages. */
  lastError: unknown;
  /** When each registration was acknowledged (ms since epoch). */
  readonly registeredAt: number[] = [];
  #ws: WebSocket | undefined;
  #running = 0;
  #maxJobs: number;
  #full = false;
  #closed = false;
  readonly #jobs = new Set<Promise<void>>();
  readonly #o: Required<LightAgentOptions>;

  private constructor(opts: LightAgentOptions) {
    this.#o = { maxJobs: 50, holdMs: 500, joinDelayMs: 0, maxReconnects: 30, ...opts };
    this.#maxJobs = this.#o.maxJobs;
  }

  /** Connects and resolves once LiveKit has registered the worker. */
  static async start(opts: LightAgentOptions): Promise<LightAgentWorker> {
    const w = new LightAgentWorker(opts);
    await w.#connect();
    return w;
  }

  get running(): number {
    return this.#running;
  }

  /** Changes capacity while running; a worker over it takes nothing until jobs end. */
  setMaxJobs(n: number): void {
    this.#maxJobs = n;
    this.#reportLoad(true);
  }

  async #connect(): Promise<void> {
    const token = new AccessToken(this.#o.apiKey, this.#o.apiSecret);
    token.addGrant({ agent: true });
    const jwt = await token.toJwt();
    const ws = new WebSocket(`${this.#o.url.replace(/\/$/, '')}/agent`, {
      headers: { authorization: `Bearer ${jwt}` },
    });
    this.#ws = ws;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('agent worker: no register answer')), 10_000);
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.once('open', () => {
        this.#send({
          case: 'register',
          value: {
            type: JobType.JT_ROOM,
            agentName: this.#o.agentName,
            version: 'light-agent',
            allowedPermissions: new ParticipantPermission({
              canPublish: true,
              canSubscribe: true,
              canPublishData: true,
              canUpdateMetadata: true,
              agent: true,
            }),
          },
        });
      });
      ws.on('message', (data: Buffer) => {
        const msg = ServerMessage.fromBinary(new Uint8Array(data));
        if (msg.message.case === 'register') {
          clearTimeout(timer);
          this.stats.registrations += 1;
          this.registeredAt.push(Date.now());
          this.#full = false;
          this.#reportLoad(true);
          resolve();
        } else this.#onMessage(msg);
      });
    });
    ws.on('close', () => {
      if (this.#closed || this.#ws !== ws) return;
      void this.#reconnect();
    });
  }

  async #reconnect(): Promise<void> {
    for (let attempt = 1; attempt <= this.#o.maxReconnects && !this.#closed; attempt++) {
      await new Promise((r) => setTimeout(r, 1000));
      try {
        await this.#connect();
        return;
      } catch {
        // try again, a bounded number of times
      }
    }
  }

  #send(message: WorkerMessageInit['message']): void {
    const ws = this.#ws;
    if (ws?.readyState !== WebSocket.OPEN) return;
    ws.send(new WorkerMessage({ message }).toBinary());
  }

  #reportLoad(force = false): void {
    const full = this.#running >= this.#maxJobs;
    if (!force && full === this.#full) return;
    this.#full = full;
    this.#send({
      case: 'updateWorker',
      value: {
        status: full ? WorkerStatus.WS_FULL : WorkerStatus.WS_AVAILABLE,
        load: Math.min(1, this.#running / Math.max(1, this.#maxJobs)),
      },
    });
  }

  #onMessage(msg: ServerMessage): void {
    const m = msg.message;
    if (m.case === 'availability' && m.value.job) {
      const job = m.value.job;
      const available = !this.#closed && this.#running < this.#maxJobs;
      this.#send({
        case: 'availability',
        value: available
          ? {
              jobId: job.id,
              available: true,
              participantIdentity: `agent-${job.id}`,
              participantAttributes: { [ATTRIBUTE_AGENT_NAME]: this.#o.agentName },
            }
          : { jobId: job.id, available: false },
      });
    } else if (m.case === 'assignment' && m.value.job) {
      const job = m.value.job;
      this.stats.assigned += 1;
      this.#running += 1;
      this.#reportLoad();
      const run = this.#runJob(
        job.id,
        job.room?.name ?? '',
        m.value.url || this.#o.url,
        m.value.token,
      )
        .catch((err: unknown) => {
          this.stats.failed += 1;
          this.lastError = err;
        })
        .finally(() => {
          this.#running -= 1;
          this.#jobs.delete(run);
          this.#reportLoad();
        });
      this.#jobs.add(run);
    }
  }

  /**
   * Joins on the signalling connection alone (`/rtc`, the protocol's JoinResponse): the
   * participant is in the room, JOINED, as LiveKit lists it, without a WebRTC transport.
   * @livekit/rtc-node 0.13 lost room handles ("handle not found (ReadyForRoomEvent)") or hung
   * in connect for half of 100 concurrent joins on this loaded machine; placement, not media,
   * is under test here.
   */
  #join(url: string, token: string): Promise<WebSocket> {
    const q = new URLSearchParams({ access_token: token, auto_subscribe: '0', protocol: '15' });
    const ws = new WebSocket(`${url.replace(/\/$/, '')}/rtc?${q}`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error('agent join: no join response within 10 s'));
      }, 10_000);
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.on('message', (data: Buffer) => {
        const msg = SignalResponse.fromBinary(new Uint8Array(data));
        if (msg.message.case === 'join') {
          clearTimeout(timer);
          resolve(ws);
        }
      });
    });
  }

  async #runJob(jobId: string, roomName: string, url: string, token: string): Promise<void> {
    let ws: WebSocket | undefined;
    let status = JobStatus.JS_FAILED;
    try {
      if (this.#o.joinDelayMs > 0) await new Promise((r) => setTimeout(r, this.#o.joinDelayMs));
      ws = await this.#join(url, token);
      this.stats.joined += 1;
      this.stats.joinsByRoom.set(roomName, (this.stats.joinsByRoom.get(roomName) ?? 0) + 1);
      // The one line, where everyone in the room sees it: a participant attribute.
      ws.send(
        new SignalRequest({
          message: {
            case: 'updateMetadata',
            value: { attributes: { [LINE_ATTRIBUTE]: 'Hello, this is a test.' } },
          },
        }).toBinary(),
      );
      await new Promise((r) => setTimeout(r, this.#o.holdMs));
      ws.send(
        new SignalRequest({
          message: { case: 'leave', value: { reason: DisconnectReason.CLIENT_INITIATED } },
        }).toBinary(),
      );
      status = JobStatus.JS_SUCCESS;
    } finally {
      ws?.close();
      this.#send({ case: 'updateJob', value: { jobId, status } });
    }
  }

  /** Stops taking jobs, waits up to `timeoutMs` for running ones, closes the connection. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.#closed = true;
    this.#maxJobs = 0;
    this.#reportLoad(true);
    await Promise.race([
      Promise.allSettled([...this.#jobs]),
      new Promise((r) => setTimeout(r, timeoutMs)),
    ]);
    this.#ws?.close();
  }
}
