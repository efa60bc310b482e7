/**
 * One scripted call and what is measured about it, all from outside the agent:
 * - the silence the patient hears after each of their turns, at the simulated patient in the
 *   LiveKit room (end of its own speech → the agent's next audible frame);
 * - the utterances finalised before the fault: the patient's, as the Deepgram stand-in
 *   transcribed and sent them; the agent's, as the patient received them complete on
 *   `lk.transcription`; each must be in MongoDB once the call is over;
 * - the session's terminal state, and how long after the fault ended it got there;
 * - escalations: those in the outbox for the session against `session.escalation` events the
 *   care team's subscription received.
 */
import { TERMINAL_STATES, type SessionRecord } from '../../sessions/schema.ts';
import { OUTBOX_COLLECTIONS } from '../../sessions/mongo-outbox.ts';
import type { StartedSession } from '../../tests/support/agent-harness.ts';
import { PatientTimeoutError, toEpochMs, type SimulatedPatient } from '../../sim/patient.ts';
import { measureSilence } from '../../tests/support/silence.ts';
import type { ChaosStack } from './stack.ts';

export const NORMAL_PHRASES = [
  'yes now is a good time',
  'my knee has been hurting',
  'no they have not changed',
  'about a four out of ten',
] as const;
/** The profile's urgent `fainting` rule: an escalation, and the call goes on. */
export const RED_FLAG = 'I fainted yesterday';
/** The start of that rule's spoken response, to tell it from an ordinary reply. */
const RED_FLAG_RESPONSE = 'fainting is something a nurse should hear about';

export interface TurnRecord {
  label: string;
  redFlag: boolean;
  /** Epoch ms the patient's speech ended. */
  speechEndedAtMs: number;
  /** The agent's audio began within the wait. */
  answered: boolean;
  /**
   * The longest stretch without agent audio from the end of the patient's speech to the end of
   * the reply (or to the end of the wait when no reply came).
   */
  silenceMs: number;
}

export interface CallRecord {
  sessionId: string;
  turns: TurnRecord[];
  /** Patient clock (`performance.now()`) of the fault; Infinity when there was none. */
  faultAt: number;
  problems: string[];
}

export interface TurnOptions {
  /** How long the patient waits for an answer. @defaultValue 15000 */
  replyTimeoutMs?: number;
  redFlag?: boolean;
  /** Called as the agent's reply starts (e.g. to kill the worker during it). */
  onReplyStart?: () => void;
}

export class Call {
  readonly record: CallRecord;
  #turns = 0;

  constructor(
    readonly stack: ChaosStack,
    readonly session: StartedSession,
  ) {
    this.record = {
      sessionId: session.request.sessionId,
      turns: [],
      faultAt: Infinity,
      problems: [],
    };
  }

  /** Requests a session through the dispatcher and puts the patient in its room once placed. */
  static async dial(stack: ChaosStack): Promise<Call> {
    return new Call(stack, await stack.placeCall());
  }

  /** Waits for the greeting to start and finish. */
  async greeted(timeoutMs = 60_000): Promise<void> {
    const greeting = await this.patient.waitForAgentSpeech({ timeoutMs });
    await this.patient.waitForAgentSilence({
      after: greeting.at,
      silenceMs: 800,
      timeoutMs: 20_000,
    });
  }

  get patient(): SimulatedPatient {
    return this.session.patient;
  }

  get sessionId(): string {
    return this.record.sessionId;
  }

  markFault(): void {
    this.record.faultAt = performance.now();
  }

  /** Speaks one turn (the STT stand-in hears exactly it) and waits for the reply to finish. */
  async turn(phrase: string, opts: TurnOptions = {}): Promise<TurnRecord> {
    const timeoutMs = opts.replyTimeoutMs ?? 15_000;
    const label = opts.redFlag ? 'red flag' : `turn ${++this.#turns}`;
    const dg = this.stack.h.standins.deepgram;
    dg.configure({ defaultTranscript: phrase });
    const u = await this.patient.say(phrase);
    let answered = true;
    let until: number;
    try {
      const first = await this.patient.waitForAgentSpeech({ after: u.speechEndedAt, timeoutMs });
      opts.onReplyStart?.();
      until = await this.patient.waitForAgentSilence({
        after: first.at,
        silenceMs: 1500,
        timeoutMs: 30_000,
      });
    } catch (err) {
      if (!(err instanceof PatientTimeoutError)) throw err;
      answered = false;
      until = performance.now();
    } finally {
      dg.configure({ defaultTranscript: null });
    }
    const silence = measureSilence(this.patient, u.speechEndedAt, until);
    const t: TurnRecord = {
      label,
      redFlag: opts.redFlag ?? false,
      speechEndedAtMs: u.speechEndedAtEpochMs,
      answered,
      silenceMs: Math.round(silence.longestMs),
    };
    this.record.turns.push(t);
    return t;
  }

  /**
   * Says the red flag, and says it again (up to `repeats` times) while the agent answers with
   * anything but the rule's safety response, as a patient asked "sorry, could you say that
   * again?" would. Only the first saying counts as the red-flag turn; the repeats are turns of
   * their own, so their silences are measured too.
   */
  async redFlagTurn(
    opts: TurnOptions & { repeats?: number } = {},
  ): Promise<{ first: TurnRecord; sayings: number; heard: boolean }> {
    const first = await this.turn(RED_FLAG, { ...opts, redFlag: true });
    let since = first.speechEndedAtMs;
    let sayings = 1;
    while (sayings <= (opts.repeats ?? 0) && !this.heardSafetyResponse(since)) {
      const again = await this.turn(RED_FLAG, { ...opts, redFlag: false });
      since = again.speechEndedAtMs;
      sayings += 1;
    }
    return { first, sayings, heard: this.heardSafetyResponse(first.speechEndedAtMs) };
  }

  /** The rule's safety response reached the patient after `sinceEpochMs`. */
  heardSafetyResponse(sinceEpochMs = 0): boolean {
    return this.patient.transcriptions.some(
      (r) =>
        r.role === 'agent' &&
        toEpochMs(r.receivedAt) >= sinceEpochMs &&
        norm(r.text).includes(RED_FLAG_RESPONSE),
    );
  }

  async hangUp(): Promise<void> {
    await this.patient.leave();
  }
}

/** Lower case, letters and digits only: the stored text and the heard text compare equal. */
function norm(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

export interface Finalised {
  role: 'patient' | 'agent';
  text: string;
}

/**
 * What was final before the fault: the patient's words the STT stand-in sent as final results,
 * and the agent's speech the patient received complete on `lk.transcription`.
 * The STT stand-in is shared by the scenario's calls; its segments are told apart by time.
 */
export function finalisedBefore(
  stack: ChaosStack,
  call: CallRecord,
  patient: SimulatedPatient,
  from: number,
  to: number,
): Finalised[] {
  const faultEpoch = call.faultAt === Infinity ? Infinity : toEpochMs(call.faultAt);
  const out: Finalised[] = [];
  for (const c of stack.h.standins.deepgram.connections) {
    for (const s of c.segments) {
      if (!s.transcript || s.finalSentAtMs === null) continue;
      if (s.finalSentAtMs >= faultEpoch || s.finalSentAtMs < from || s.finalSentAtMs > to) continue;
      out.push({ role: 'patient', text: s.transcript });
    }
  }
  for (const r of patient.transcriptions) {
    if (r.role !== 'agent' || r.receivedAt >= call.faultAt || !r.text.trim()) continue;
    out.push({ role: 'agent', text: r.text });
  }
  return out;
}

export interface CallOutcome {
  sessionId: string;
  state: string;
  endReason: string | undefined;
  /** Terminal within the wait. */
  terminal: boolean;
  /** Epoch ms the session became terminal (as the store recorded it). */
  terminalAtMs: number | undefined;
  finalisedBeforeFault: number;
  lost: Finalised[];
  escalationsRecorded: number;
  escalationsDelivered: number;
  /** Red-flag turns the agent answered (with anything). */
  redFlagsAnswered: number;
  /** The rule's safety response reached the patient (on `lk.transcription`). */
  safetyResponseHeard: boolean;
  /** Escalations on the session record. */
  escalationsOnRecord: number;
}

/** Polls until the session is terminal or `deadlineMs` (epoch) passes. */
export async function waitTerminal(
  stack: ChaosStack,
  sessionId: string,
  deadlineMs: number,
): Promise<SessionRecord | undefined> {
  let last: SessionRecord | undefined;
  for (;;) {
    last = (await stack.h.sessions.get(sessionId).catch(() => undefined)) ?? last;
    if (last && TERMINAL_STATES.has(last.state)) return last;
    if (Date.now() > deadlineMs) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Settles one call after its fault ended: terminal state (within 60 s of `faultEndedAtMs`),
 * then up to `settleMs` for the transcript and escalations to arrive.
 */
export async function settle(
  stack: ChaosStack,
  call: Call,
  faultEndedAtMs: number,
  window: { from: number; to: number },
  settleMs = 15_000,
): Promise<CallOutcome> {
  const { h } = stack;
  const s = await waitTerminal(stack, call.sessionId, faultEndedAtMs + 60_000);
  const terminal = s !== undefined && TERMINAL_STATES.has(s.state);
  const expected = finalisedBefore(stack, call.record, call.patient, window.from, window.to);
  const redFlagsAnswered = call.record.turns.filter((t) => t.redFlag && t.answered).length;
  const safetyResponseHeard = call.heardSafetyResponse();
  const deadline = Date.now() + settleMs;
  let lost: Finalised[] = expected;
  let recorded: string[] = [];
  let delivered = 0;
  let escalationsOnRecord = 0;
  for (;;) {
    const stored = await h.utterances.listUtterances(call.sessionId).catch(() => []);
    const texts = stored.map((u) => ({ role: u.role, text: norm(u.text) }));
    lost = expected.filter(
      (e) =>
        !texts.some(
          (t) =>
            t.role === e.role &&
            t.text.length > 0 &&
            (t.text.includes(norm(e.text)) || norm(e.text).includes(t.text)),
        ),
    );
    // Raised: still in the outbox, or delivered (the receipt is kept, the entry deleted), or
    // on the session record.
    const docs = (
      await Promise.all(
        [OUTBOX_COLLECTIONS.outbox, OUTBOX_COLLECTIONS.deliveries].map((name) =>
          h.mongo.db
            .collection(name)
            .find({ sessionId: call.sessionId })
            .toArray()
            .catch(() => []),
        ),
      )
    ).flat();
    const onRecord = (await h.sessions.get(call.sessionId).catch(() => undefined))?.escalations;
    escalationsOnRecord = new Set((onRecord ?? []).map((e) => e.id)).size;
    const seen = new Set(
      stack.events.received
        .filter((e) => e.type === 'session.escalation' && e.sessionId === call.sessionId)
        .map((e) => e.escalationId),
    );
    recorded = [
      ...new Set([...docs.map((d) => String(d._id)), ...(onRecord ?? []).map((e) => e.id)]),
    ];
    delivered = recorded.filter((id) => seen.has(id)).length;
    const complete =
      lost.length === 0 &&
      delivered === recorded.length &&
      recorded.length >= (safetyResponseHeard ? 1 : 0);
    if (complete || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    sessionId: call.sessionId,
    state: s?.state ?? 'missing',
    endReason: s?.endReason,
    terminal,
    terminalAtMs: terminal ? s?.updatedAt.getTime() : undefined,
    finalisedBeforeFault: expected.length,
    lost,
    escalationsRecorded: recorded.length,
    escalationsDelivered: delivered,
    redFlagsAnswered,
    safetyResponseHeard,
    escalationsOnRecord,
  };
}
