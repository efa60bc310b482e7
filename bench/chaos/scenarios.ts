/**
 * The chaos scenarios: one fault kind each, injected into a call in progress. Each returns the
 * calls it made with the terminal states the fault should lead to; the runner measures them.
 *
 * A vendor fault hits the turn after a clean one, then a red flag (an escalation, the call goes
 * on) follows once the fault is over, and the patient hangs up: the call must end `completed`.
 */
import { PatientClosedError, PatientTimeoutError } from '../../sim/patient.ts';
import type { Standins } from '../../tests/support/standins/index.ts';
import { Call, NORMAL_PHRASES, RED_FLAG, settle, type CallOutcome } from './call.ts';
import type { ChaosStack } from './stack.ts';

export type FaultClass = 'vendor' | 'worker' | 'infra';

export interface SettledCall {
  outcome: CallOutcome;
  /** States this call may correctly end in, after this fault. */
  expected: string[];
  turns: Call['record']['turns'];
  /** Epoch ms the fault ended, for "stuck after 60 s". */
  faultEndedAtMs: number;
}

export class ScenarioContext {
  readonly settled: SettledCall[] = [];
  readonly notes: string[] = [];
  /** Calls started and not settled yet: settled by the runner if the scenario throws. */
  readonly open = new Map<Call, { expected: string[]; faultEndedAtMs: number }>();
  readonly startedAtMs = Date.now();

  constructor(readonly stack: ChaosStack) {}

  async call(expected: string[]): Promise<Call> {
    const c = await Call.dial(this.stack);
    // Measured even if it never gets going: a session that was claimed counts.
    this.open.set(c, { expected, faultEndedAtMs: Number.POSITIVE_INFINITY });
    await c.greeted();
    return c;
  }

  faultEnded(c: Call, atMs = Date.now()): void {
    const o = this.open.get(c);
    if (o) o.faultEndedAtMs = atMs;
  }

  expect(c: Call, expected: string[]): void {
    const o = this.open.get(c);
    if (o) o.expected = expected;
  }

  async settle(c: Call, settleMs?: number): Promise<void> {
    const o = this.open.get(c);
    if (!o) return;
    this.open.delete(c);
    const faultEndedAtMs = Number.isFinite(o.faultEndedAtMs) ? o.faultEndedAtMs : Date.now();
    const outcome = await settle(
      this.stack,
      c,
      faultEndedAtMs,
      { from: this.startedAtMs, to: Date.now() },
      settleMs,
    );
    this.settled.push({ outcome, expected: o.expected, turns: c.record.turns, faultEndedAtMs });
  }

  note(line: string): void {
    this.notes.push(line);
  }
}

export interface Scenario {
  id: string;
  title: string;
  class: FaultClass;
  run(ctx: ScenarioContext): Promise<void>;
}

const [A, B, C] = NORMAL_PHRASES;

export interface VendorCallOptions {
  /** How long the patient waits for each answer. @defaultValue 15000 */
  replyTimeoutMs?: number;
  /** A red flag after the fault (an escalation). @defaultValue true */
  redFlag?: boolean;
}

function vendor(
  id: string,
  title: string,
  inject: (s: Standins) => void,
  opts: VendorCallOptions = {},
): Scenario {
  const replyTimeoutMs = opts.replyTimeoutMs ?? 15_000;
  return {
    id,
    title,
    class: 'vendor',
    async run(ctx) {
      await ctx.stack.ensureWorker();
      const call = await ctx.call(['completed']);
      await call.turn(A, { replyTimeoutMs });
      call.markFault();
      inject(ctx.stack.h.standins);
      const faulted = await call.turn(B, { replyTimeoutMs });
      if (!faulted.answered) ctx.note(`the faulted turn got no answer within ${replyTimeoutMs} ms`);
      ctx.faultEnded(call);
      if (opts.redFlag ?? true) {
        await sayRedFlag(ctx, call, { replyTimeoutMs });
      }
      await call.hangUp();
      await ctx.settle(call);
    },
  };
}

/** The red flag, repeated when the agent's answer was not its safety response; noted if so. */
async function sayRedFlag(
  ctx: ScenarioContext,
  call: Call,
  opts: { replyTimeoutMs?: number } = {},
): Promise<Awaited<ReturnType<Call['redFlagTurn']>>> {
  // A patient who is not answered, or is asked to say it again, does: twice at most.
  const red = await call.redFlagTurn({ ...opts, repeats: 2 });
  if (!red.first.answered) ctx.note('the red flag got no answer');
  if (red.sayings > 1) {
    ctx.note(
      `red flag said ${red.sayings} times${red.heard ? ' before the safety response' : ', no safety response'}`,
    );
  }
  return red;
}

/**
 * After the worker died under a call: either LiveKit re-offers the job and an agent speaks
 * again (a resumed job; the patient answers once and hangs up, and the call should end
 * `completed`), or nobody comes back and the reaper must end it `interrupted`.
 */
async function afterAgentDeath(ctx: ScenarioContext, call: Call, deathAt: number): Promise<void> {
  try {
    await call.patient.waitForAgentSpeech({ after: deathAt, timeoutMs: 20_000 });
    ctx.note('an agent came back to the call (job resumed)');
    await call.patient.waitForAgentSilence({ silenceMs: 1500, timeoutMs: 30_000 });
    ctx.expect(call, ['completed']);
    await call.turn(C);
    await call.hangUp();
  } catch (err) {
    // Nobody came back (or the reaper closed the room under the patient): the reaper's turn.
    if (!(err instanceof PatientTimeoutError) && !(err instanceof PatientClosedError)) throw err;
  }
}

/**
 * `shortDrain`: the draining worker's grace (500 ms) runs out before its successor has even
 * started, as on a host too busy to start a job in Cloud Run's 10 s: the call must be left open
 * for the successor, not ended.
 */
const workerKill = (sig: 'SIGKILL' | 'SIGTERM', shortDrain = false): Scenario => ({
  id: `worker-${sig.toLowerCase()}${shortDrain ? '-short-drain' : ''}`,
  title:
    sig === 'SIGKILL'
      ? 'worker SIGKILL (whole group) mid-call, during the safety response'
      : shortDrain
        ? 'worker SIGTERM mid-call with a drain shorter than the successor start, red flag after'
        : 'worker SIGTERM mid-call (scale-in), the call handed over, red flag after',
  class: 'worker',
  async run(ctx) {
    const worker = shortDrain
      ? await ctx.stack.replaceWorker({ AGENT_DRAIN_TIMEOUT_MS: '500' })
      : await ctx.stack.ensureWorker();
    // A killed worker's call is interrupted (or resumed, see afterAgentDeath); a drained
    // worker's call is handed over and goes on to its end.
    const call = await ctx.call(sig === 'SIGKILL' ? ['interrupted'] : ['completed']);
    await call.turn(A);
    let replacement: Promise<unknown> | undefined;
    const kill = () => {
      call.markFault();
      worker.killHard();
      // A new worker comes up, as an orchestrator would start one; its relay takes over.
      replacement = ctx.stack.replaceWorker().catch((err: unknown) => {
        ctx.note(`replacement worker failed: ${String(err)}`);
      });
    };
    if (sig === 'SIGKILL') {
      await call.turn(RED_FLAG, { redFlag: true, onReplyStart: kill });
      ctx.faultEnded(call);
      await afterAgentDeath(ctx, call, performance.now());
      await replacement;
    } else {
      // A scale-in: the pool still has another worker when this one is told to go.
      const successorUpAt = performance.now();
      await ctx.stack.replaceWorker();
      ctx.note(`second worker up in ${(performance.now() - successorUpAt).toFixed(0)} ms`);
      call.markFault();
      worker.signal('SIGTERM');
      // The draining worker hands the call to the other one, which continues it.
      await call.turn(B);
      await sayRedFlag(ctx, call);
      const code = await Promise.race([
        worker.exited,
        new Promise((r) => setTimeout(() => r('still running'), 20_000)),
      ]);
      ctx.note(`old worker exit: ${String(code)}`);
      ctx.faultEnded(call);
      // The red flag asks for a nurse's callback and the call goes on: the patient ends it.
      await call.hangUp();
      await ctx.settle(call);
      return;
    }
    await ctx.settle(call);
    await call.hangUp();
  },
});

const ferretPause: Scenario = {
  id: 'ferretdb-pause',
  title: 'FerretDB paused (SIGSTOP) 15 s mid-call and across the hang-up',
  class: 'infra',
  async run(ctx) {
    await ctx.stack.ensureWorker();
    const call = await ctx.call(['completed']);
    await call.turn(A);
    call.markFault();
    const pausedAt = Date.now();
    ctx.stack.ferret.pause();
    try {
      await call.turn(B);
      await sayRedFlag(ctx, call);
      await call.hangUp();
      await new Promise((r) => setTimeout(r, Math.max(0, pausedAt + 15_000 - Date.now())));
    } finally {
      ctx.stack.ferret.resume();
    }
    ctx.faultEnded(call);
    await ctx.settle(call, 30_000);
  },
};

const pubsubRestart: Scenario = {
  id: 'pubsub-restart',
  title: 'Pub/Sub emulator restarted mid-call, red flag while it is down',
  class: 'infra',
  async run(ctx) {
    await ctx.stack.ensureWorker();
    const call = await ctx.call(['completed']);
    await call.turn(A);
    call.markFault();
    // The emulator comes back with no topics or subscriptions (real Pub/Sub keeps them). The
    // care team's subscription is made again the moment it is up: a relay retry that finds the
    // topic made by someone else before that would be delivered into no subscription, which
    // is the emulator's doing, not a lost escalation (it failed one full run that way).
    const restart = ctx.stack.pubsub.restart().then(async (r) => {
      await ctx.stack.events.reattach();
      return r;
    });
    await sayRedFlag(ctx, call);
    const { downMs } = await restart;
    ctx.note(await ctx.stack.recoverFromPubSubRestart());
    ctx.faultEnded(call);
    ctx.note(`emulator down ${downMs} ms`);
    await call.turn(B);
    await call.hangUp();
    await ctx.settle(call, 30_000);
  },
};

const livekitRestart: Scenario = {
  id: 'livekit-restart',
  title: 'livekit-server restarted mid-call, then a new call',
  class: 'infra',
  async run(ctx) {
    await ctx.stack.ensureWorker();
    // The agent may ride the restart out (its room comes back with it) and the call then ends
    // when the patient hangs up; or the room is gone and the reaper ends it.
    const first = await ctx.call(['interrupted', 'completed']);
    await first.turn(A);
    first.markFault();
    const { downMs } = await ctx.stack.livekit.restart();
    ctx.faultEnded(first);
    ctx.note(`livekit-server down ${downMs} ms`);
    await first.hangUp();
    // The worker must register again with the restarted server and take the next call.
    const second = await ctx.call(['completed']);
    ctx.faultEnded(second);
    await second.turn(A);
    await sayRedFlag(ctx, second);
    await second.hangUp();
    await ctx.settle(first);
    await ctx.settle(second);
  },
};

type VendorFault = [id: string, title: string, inject: (s: Standins) => void];

const VENDOR_FAULTS: readonly VendorFault[] = [
  // Deepgram: the plugin holds one socket per call, so 5xx and timeouts can only happen when it
  // connects again: the socket is dropped first, then the reconnect is refused or hangs.
  [
    'stt-5xx',
    'Deepgram: socket dropped, reconnects refused 503 ×2',
    (s) => {
      s.deepgram.injectFault({ kind: 'reject', status: 503, count: 2 });
      s.deepgram.injectFault({ kind: 'drop' });
    },
  ],
  [
    'stt-timeout',
    'Deepgram: socket dropped, reconnect handshakes hang ×2',
    (s) => {
      s.deepgram.injectFault({ kind: 'hang', count: 2 });
      s.deepgram.injectFault({ kind: 'drop' });
    },
  ],
  [
    'stt-drop',
    'Deepgram: socket dropped mid-utterance',
    (s) => s.deepgram.injectFault({ kind: 'drop' }),
  ],
  [
    'stt-silent',
    'Deepgram: socket open, sends nothing more',
    (s) => s.deepgram.injectFault({ kind: 'silent' }),
  ],
  [
    'llm-5xx',
    'OpenAI chat: 503 ×2',
    (s) => s.openai.injectFault({ kind: 'status', status: 503, endpoint: 'chat', count: 2 }),
  ],
  [
    'llm-timeout',
    'OpenAI chat: request never answered',
    (s) => s.openai.injectFault({ kind: 'hang', endpoint: 'chat' }),
  ],
  [
    'llm-drop',
    'OpenAI chat: connection dropped after the headers',
    (s) => s.openai.injectFault({ kind: 'drop', endpoint: 'chat', afterChunks: 0 }),
  ],
  [
    'llm-silent',
    'OpenAI chat: 200 and an open stream, no tokens',
    (s) => s.openai.injectFault({ kind: 'silent', endpoint: 'chat' }),
  ],
  // ElevenLabs: one socket per call too; 5xx and timeout on the reconnect after a close.
  [
    'tts-5xx',
    'ElevenLabs: socket closed, reconnects refused 503 ×2',
    (s) => {
      s.elevenlabs.injectFault({ kind: 'status', status: 503, count: 2 });
      s.elevenlabs.injectFault({ kind: 'close', afterAudioChunks: 0 });
    },
  ],
  [
    'tts-timeout',
    'ElevenLabs: socket closed, reconnect handshakes hang ×2',
    (s) => {
      s.elevenlabs.injectFault({ kind: 'hang', count: 2 });
      s.elevenlabs.injectFault({ kind: 'close', afterAudioChunks: 0 });
    },
  ],
  [
    'tts-drop',
    'ElevenLabs: socket closed mid-utterance',
    (s) => s.elevenlabs.injectFault({ kind: 'close', afterAudioChunks: 2 }),
  ],
  [
    'tts-silent',
    'ElevenLabs: generation accepted, no audio ever',
    (s) => s.elevenlabs.injectFault({ kind: 'silent' }),
  ],
];

export const SCENARIOS: readonly Scenario[] = [
  ...VENDOR_FAULTS.map(([id, title, inject]) => vendor(id, title, inject)),
  ferretPause,
  workerKill('SIGTERM'),
  workerKill('SIGTERM', true),
  workerKill('SIGKILL'),
  pubsubRestart,
  // Last: if the worker does not survive it, only this scenario shows it.
  livekitRestart,
];

/**
 * The short version of a scenario, for `npm test` (tests/chaos-short.test.ts): a vendor fault
 * without the red flag, answers awaited 8 s; the others as they are.
 */
export function shortScenario(id: string): Scenario {
  const v = VENDOR_FAULTS.find(([vid]) => vid === id);
  if (v) return vendor(v[0], v[1], v[2], { replyTimeoutMs: 8000, redFlag: false });
  const s = SCENARIOS.find((x) => x.id === id);
  if (!s) throw new Error(`no chaos scenario ${id}`);
  return s;
}
