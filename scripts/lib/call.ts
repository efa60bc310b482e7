/**
 * Places one call through the real stack, the way a backend would: publish a session request to
 * Pub/Sub, wait for the dispatcher's `session.ready`, then let a simulated patient take the call
 * in the LiveKit room. The conversation is shown as it is stored in MongoDB, turn by turn.
 */
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { randomUUID } from 'node:crypto';
import { withTimeout } from '../../infra/time.ts';
import type { Config } from '../../infra/config.ts';
import { createPubSub, ensureSubscription } from '../../infra/pubsub.ts';
import type { SessionStore, UtteranceStore } from '../../sessions/store.ts';
import type { SessionEvent, SessionRecord, Utterance } from '../../sessions/schema.ts';
import { SimulatedPatient } from '../../sim/patient.ts';
import { readWav } from '../../sim/speech.ts';
import { answerFor, PATIENT_SCRIPTS } from './patient-scripts.ts';
import { patientIdentity } from '../../sessions/participants.ts';

export interface CallOptions {
  cfg: Config;
  sessions: SessionStore;
  utterances: UtteranceStore;
  profile: string;
  /** Lines to say in order, one per agent turn, instead of the profile's scripted answers. */
  lines?: readonly string[];
  /** A recording to play as the patient's first answer. */
  wav?: string;
  patientName?: string;
  /** Where the live conversation is printed. */
  out: (line: string) => void;
  /** @defaultValue 180000 */
  timeoutMs?: number;
}

export interface CallResult {
  sessionId: string;
  room: string;
  session: SessionRecord | null;
  utterances: Utterance[];
  /** End of each patient answer → first agent audio back, as the patient heard it. */
  voiceToVoiceMs: number[];
}

const dim = (s: string) => `\u001b[2m${s}\u001b[0m`;
const bold = (s: string) => `\u001b[1m${s}\u001b[0m`;

function formatUtterance(u: Utterance): string {
  const who = u.role === 'agent' ? bold('  agent  ') : '  patient';
  const e2e = u.latency?.endToEndMs;
  const latency = u.role === 'agent' && e2e !== undefined ? dim(`  (${e2e} ms)`) : '';
  const cut = u.interrupted ? dim(' [interrupted]') : '';
  return `${who}  ${u.text}${cut}${latency}`;
}

/** Waits for this session's first event of the given types on a private subscription. */
function nextEvent(
  sub: Subscription,
  sessionId: string,
  types: readonly SessionEvent['type'][],
): Promise<SessionEvent> {
  return new Promise((resolve) => {
    const onMessage = (m: Message) => {
      m.ack();
      const ev = JSON.parse(m.data.toString()) as SessionEvent;
      if (ev.sessionId === sessionId && types.includes(ev.type)) {
        sub.off('message', onMessage);
        resolve(ev);
      }
    };
    sub.on('message', onMessage);
  });
}

export async function placeCall(opts: CallOptions): Promise<CallResult> {
  const { cfg, out } = opts;
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const pubsub: PubSub = createPubSub(cfg.pubsub);
  const subName = `call-events-${randomUUID().slice(0, 8)}`;
  const events = await ensureSubscription(pubsub, {
    topic: cfg.pubsub.eventsTopic,
    subscription: subName,
  });
  const sessionId = `call-${randomUUID()}`;
  let patient: SimulatedPatient | undefined;
  let printer: NodeJS.Timeout | undefined;
  try {
    const ready = nextEvent(events, sessionId, ['session.ready', 'session.failed']);
    await pubsub.topic(cfg.pubsub.requestsTopic).publishMessage({
      json: {
        sessionId,
        profile: { id: opts.profile },
        patient: {
          ref: 'demo-patient',
          ...(opts.patientName ? { displayName: opts.patientName } : {}),
        },
        requestedAt: new Date().toISOString(),
      },
    });
    out(dim(`  session ${sessionId} requested (profile ${opts.profile})`));
    const placed = await withTimeout(ready, 60_000, 'session.ready');
    if (placed.type !== 'session.ready') {
      throw new Error(
        `the call was not placed: ${placed.type === 'session.failed' ? placed.reason : placed.type}`,
      );
    }
    out(dim(`  agent joined room ${placed.room}; the patient is joining`));
    patient = await SimulatedPatient.join({
      livekit: cfg.livekit,
      room: placed.room,
      identity: patientIdentity(sessionId),
    });

    // Print the conversation as MongoDB stores it.
    const shown = new Set<number>();
    let finished: SessionRecord | null = null;
    const poll = async () => {
      for (const u of await opts.utterances.listUtterances(sessionId)) {
        if (shown.has(u.seq)) continue;
        shown.add(u.seq);
        out(formatUtterance(u));
      }
      const s = await opts.sessions.get(sessionId);
      if (s && ['completed', 'failed', 'interrupted'].includes(s.state)) finished = s;
    };
    printer = setInterval(() => void poll().catch(() => undefined), 250);

    const voiceToVoiceMs = await converse(patient, opts, () => finished !== null, timeoutMs);
    const deadline = Date.now() + 15_000;
    while (!finished && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    clearInterval(printer);
    await poll();
    return {
      sessionId,
      room: placed.room,
      session: finished ?? (await opts.sessions.get(sessionId)),
      utterances: await opts.utterances.listUtterances(sessionId),
      voiceToVoiceMs,
    };
  } finally {
    clearInterval(printer);
    await patient?.leave();
    events.removeAllListeners('message');
    await withTimeout(events.close(), 2000, 'subscription close').catch(() => undefined);
    await pubsub
      .subscription(subName)
      .delete()
      .catch(() => undefined);
    await withTimeout(pubsub.close(), 2000, 'pubsub close').catch(() => undefined);
  }
}

/** Answers each agent turn once the agent falls silent, until the call ends. */
async function converse(
  patient: SimulatedPatient,
  opts: CallOptions,
  ended: () => boolean,
  timeoutMs: number,
): Promise<number[]> {
  const script = PATIENT_SCRIPTS[opts.profile] ?? [];
  const lines = opts.lines ? [...opts.lines] : undefined;
  let wav = opts.wav;
  let lastAnswer: string | undefined;
  const v2v: number[] = [];
  const deadline = Date.now() + timeoutMs;
  let since = 0;
  while (!ended() && Date.now() < deadline) {
    const heard = await patient
      .waitForTranscription((r) => r.role === 'agent' && r.receivedAt > since, {
        timeoutMs: 30_000,
      })
      .catch(() => undefined);
    if (!heard || ended()) break;
    await patient.waitForAgentSilence({ silenceMs: 800, timeoutMs: 60_000 });
    const words = patient.transcriptions
      .filter((r) => r.role === 'agent' && r.receivedAt > since)
      .map((r) => r.text)
      .join(' ');
    since = performance.now();
    if (ended()) break;

    let utterance;
    if (wav) {
      utterance = await patient.say(await readWav(wav, { sampleRate: patient.options.sampleRate }));
      wav = undefined;
    } else {
      const answer = lines ? lines.shift() : answerFor(script, words, lastAnswer);
      if (answer === undefined) continue;
      if (answer !== 'yes' && answer !== 'no') lastAnswer = answer;
      utterance = await patient.say(answer);
    }
    const reply = await patient
      .waitForAgentSpeech({ after: utterance.speechEndedAt, timeoutMs: 20_000 })
      .catch(() => undefined);
    if (reply) v2v.push(reply.at - utterance.speechEndedAt);
  }
  return v2v;
}
