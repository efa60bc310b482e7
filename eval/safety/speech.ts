/**
 * The speech-level safety eval: each line of an eval file is synthesised in several voices,
 * spoken by a patient participant into a LiveKit room, received by a listener participant, cut
 * into utterances by the agent's VAD and recognised by the agent's embedded STT (the class
 * `buildLocalStt` builds, listening as it would during a protocol step of the line's profile).
 * The transcript then goes through the safety matcher and the confirmation logic: an unsure hit
 * is suspected and the patient answers the confirming question (yes for a red-flag line, no for
 * an innocent one), heard the same way.
 *
 * Heard text is patient data: it goes to the terminal report only, never to a logger.
 */
import { fileURLToPath } from 'node:url';
import { stt as sttNs, initializeLogger, type stt, type VAD } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { AudioStream, Room, RoomEvent, TrackKind, type RemoteTrack } from '@livekit/rtc-node';
import { AccessToken } from 'livekit-server-sdk';
import { pino } from 'pino';
import { config } from '../../infra/config.ts';
import { readProfile } from '../../prompts/loader.ts';
import type { Profile, SafetyRule } from '../../prompts/schema.ts';
import { parseYesNo } from '../../agent/protocol/parse.ts';
import { ExpectationBoard, type Expectation } from '../../agent/protocol/expectation.ts';
import { buildLocalStt } from '../../agent/providers/local-engines.ts';
import {
  IDLE,
  RecognitionJournal,
  certaintyOf,
  stepConfirmation,
  type SafetyDecision,
} from '../../agent/safety/confirm.ts';
import {
  compileSafetyRules,
  matchSafety,
  type CompiledSafetyRules,
} from '../../agent/safety/matcher.ts';
import { SimulatedPatient, shutdownRtc } from '../../sim/patient.ts';
import { INNOCENT, readEvalFile, type EvalLine } from './format.ts';
import { DEFAULT_VOICES, speak } from './voices.ts';

export interface SpeechEvalOptions {
  files: string[];
  /** @defaultValue {@link DEFAULT_VOICES} */
  voices?: string[];
  /** Evaluate every line against this profile; lines for rules it lacks are skipped. */
  profileId?: string;
  /** Rooms run at once. The machine is shared: keep it small. @defaultValue 2 */
  concurrency?: number;
  /** Where the report goes. @defaultValue stdout */
  write?: (text: string) => void;
  /** Release rtc-node's native runtime at the end (a CLI should; a test calls it itself). @defaultValue true */
  disposeRtc?: boolean;
}

export interface Trial {
  file: string;
  line: number;
  label: string;
  voice: string;
  profileId: string;
  stepId: string;
  /** What the recogniser heard (patient data). */
  heard: string;
  confirmHeard?: string;
  /** Rule ids escalated, any status. */
  fired: string[];
  /** The last status reached: `none` when nothing was raised. */
  status: 'none' | 'confirmed' | 'suspected' | 'denied';
  /** A rule with `endSession` was confirmed. */
  ended: boolean;
  /** The matcher fires on the line as written: what perfect recognition would give. */
  textHit: boolean;
}

export interface Tally {
  redFlags: number;
  caught: number;
  innocent: number;
  alarmed: number;
  ended: number;
  suspectedOnly: number;
  /** Red-flag trials the matcher catches from the written line: the ceiling for speech. */
  textCaught: number;
}

export interface SpeechEvalReport {
  trials: Trial[];
  skipped: number;
  overall: Tally;
  byVoice: Record<string, Tally>;
  byRule: Record<string, { lines: number; caught: number; exact: number }>;
  summary: { recall: number; falseAlarmRate: number; lines: number; endedInnocentRate: number };
  wallMs: number;
}

const PROFILES_DIR = fileURLToPath(new URL('../../prompts/', import.meta.url));
const PROFILE_FILES = ['intake.yaml', 'medication-adherence.yaml', 'post-discharge.yaml'];
/** After the last speech, how long nothing may happen before the turn is over. */
const SETTLE_MS = 900;
const TURN_TIMEOUT_MS = 30_000;

interface Job {
  file: string;
  line: EvalLine;
  voice: string;
  profile: Profile;
  expectation: Expectation & { kind: 'capture' };
}

/** One profile's recogniser inside a lane, fed only while a line of that profile is spoken. */
interface Ear {
  board: ExpectationBoard;
  journal: RecognitionJournal;
  stt: stt.STT;
  stream: stt.SpeechStream;
  rules: CompiledSafetyRules<SafetyRule>;
  finals: { text: string; confidence: number }[];
  starts: number;
  ends: number;
  recognised: number;
  lastEventAt: number;
  pump: Promise<void>;
}

export async function runSpeechEval(options: SpeechEvalOptions): Promise<SpeechEvalReport> {
  const started = performance.now();
  const write = options.write ?? ((t: string) => process.stdout.write(t));
  const voices = options.voices?.length ? options.voices : [...DEFAULT_VOICES];
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 2, 4));
  initializeLogger({ pretty: false, level: 'silent' });
  const cfg = config();

  const profiles = await Promise.all(PROFILE_FILES.map((f) => readProfile(PROFILES_DIR + f)));
  const usable = options.profileId ? profiles.filter((p) => p.id === options.profileId) : profiles;
  if (usable.length === 0) throw new RangeError(`no profile "${options.profileId}" in prompts/`);

  const jobs: Job[] = [];
  let skipped = 0;
  let index = 0;
  for (const file of options.files) {
    for (const line of await readEvalFile(file)) {
      const candidates =
        line.label === INNOCENT
          ? usable
          : usable.filter((p) => p.safety.some((r) => r.id === line.label));
      const profile = candidates[index % Math.max(1, candidates.length)];
      index += 1;
      if (!profile) {
        skipped += 1;
        continue;
      }
      // A protocol step of the profile, the same for every voice so voices compare.
      const step = profile.protocol[line.line % profile.protocol.length];
      if (!step) throw new RangeError(`profile ${profile.id} has no protocol steps`);
      const expectation = { kind: 'capture' as const, stepId: step.id, capture: step.capture };
      for (const voice of voices) jobs.push({ file, line, voice, profile, expectation });
    }
  }

  // Synthesis first, once per clip, so lanes only wait on LiveKit and the recogniser.
  for (const voice of voices) {
    await speak('yes', voice);
    await speak('no', voice);
  }
  for (const job of jobs) await speak(job.line.text, job.voice);

  const vad = await silero.VAD.load({ minSilenceDuration: cfg.agent.vadMinSilenceMs });
  const queue = [...jobs];
  const trials: Trial[] = [];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, jobs.length) }, async () => {
      const lane = await Lane.open(cfg.livekit, vad, usable);
      try {
        for (let job = queue.shift(); job; job = queue.shift()) {
          trials.push(await lane.run(job));
          // Counts only: heard text never goes anywhere but the report.
          process.stderr.write(`[speech-eval] ${trials.length}/${jobs.length} trials\n`);
        }
      } finally {
        await lane.close();
      }
    }),
  );
  if (options.disposeRtc ?? true) await shutdownRtc();

  trials.sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.voice.localeCompare(b.voice),
  );
  const report = summarise(trials, skipped, performance.now() - started);
  write(formatReport(report, voices));
  write(`${JSON.stringify(report.summary)}\n`);
  return report;
}

class Lane {
  private readonly ears = new Map<string, Ear>();
  private active: Ear | undefined;
  private readonly reads: Promise<void>[] = [];

  private constructor(
    private readonly patient: SimulatedPatient,
    private readonly listener: Room,
  ) {}

  static async open(
    livekit: { url: string; apiKey: string; apiSecret: string },
    vad: VAD,
    profiles: readonly Profile[],
  ): Promise<Lane> {
    const room = `speech-eval-${Math.random().toString(16).slice(2, 10)}`;
    const listener = new Room();
    const token = new AccessToken(livekit.apiKey, livekit.apiSecret, {
      identity: `listener-${room}`,
      ttl: '1h',
    });
    token.addGrant({ room, roomJoin: true, canSubscribe: true, canPublish: false });
    await listener.connect(livekit.url, await token.toJwt(), {
      autoSubscribe: true,
      dynacast: false,
    });
    const patient = await SimulatedPatient.join({ livekit, room, recordAgentAudio: false });
    const lane = new Lane(patient, listener);
    const silent = pino({ level: 'silent' });
    for (const profile of profiles) {
      const board = new ExpectationBoard();
      const journal = new RecognitionJournal();
      const recogniser = buildLocalStt(profile, board, silent, journal);
      const stream = new sttNs.StreamAdapter(recogniser, vad).stream();
      const ear: Ear = {
        board,
        journal,
        stt: recogniser,
        stream,
        rules: compileSafetyRules(profile.safety),
        finals: [],
        starts: 0,
        ends: 0,
        recognised: 0,
        lastEventAt: 0,
        pump: Promise.resolve(),
      };
      recogniser.on('metrics_collected', () => {
        ear.recognised += 1;
        ear.lastEventAt = performance.now();
      });
      ear.pump = (async () => {
        for await (const ev of stream) {
          ear.lastEventAt = performance.now();
          if (ev.type === sttNs.SpeechEventType.START_OF_SPEECH) ear.starts += 1;
          else if (ev.type === sttNs.SpeechEventType.END_OF_SPEECH) ear.ends += 1;
          else if (ev.type === sttNs.SpeechEventType.FINAL_TRANSCRIPT) {
            const alt = ev.alternatives?.[0];
            if (alt?.text) ear.finals.push({ text: alt.text, confidence: alt.confidence });
          }
        }
      })();
      lane.ears.set(profile.id, ear);
    }
    const subscribed = new Promise<RemoteTrack>((resolve) => {
      listener.on(RoomEvent.TrackSubscribed, (track) => {
        if (track.kind === TrackKind.KIND_AUDIO) resolve(track);
      });
    });
    const track = await Promise.race([
      subscribed,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error('speech eval: patient track never arrived')),
          15_000,
        ).unref(),
      ),
    ]);
    const audio = new AudioStream(track, { sampleRate: 48_000, numChannels: 1 });
    lane.reads.push(
      (async () => {
        for await (const frame of audio) lane.active?.stream.pushFrame(frame);
      })(),
    );
    return lane;
  }

  async run(job: Job): Promise<Trial> {
    const ear = this.ears.get(job.profile.id);
    if (!ear) throw new Error(`no recogniser for ${job.profile.id}`);
    const heard = await this.hear(ear, job.expectation, job.line.text, job.voice);
    const notes = ear.journal.take(heard.text);
    const match = matchSafety(ear.rules, heard.text);
    const first = stepConfirmation<SafetyRule>(IDLE, {
      type: 'turn',
      match,
      certainty: match ? certaintyOf(notes, heard.confidence) : 'sure',
      answer: undefined,
    });
    const decisions: SafetyDecision<SafetyRule>[] = [...first.decisions];
    let confirmHeard: string | undefined;
    if (first.state.pending) {
      const reply = job.line.label === INNOCENT ? 'no' : 'yes';
      const answer = await this.hear(
        ear,
        { kind: 'confirm', stepId: `safety:${first.state.pending.rule.id}` },
        reply,
        job.voice,
      );
      confirmHeard = answer.text;
      ear.journal.take(answer.text);
      const yesNo = parseYesNo(answer.text);
      const second = answer.text
        ? stepConfirmation(first.state, {
            type: 'turn',
            match: matchSafety(ear.rules, answer.text),
            certainty: 'unsure',
            answer: yesNo.ok ? yesNo.value : undefined,
          })
        : stepConfirmation(first.state, { type: 'timeout' });
      decisions.push(...second.decisions);
    }
    const last = decisions[decisions.length - 1];
    return {
      file: job.file,
      line: job.line.line,
      label: job.line.label,
      voice: job.voice,
      profileId: job.profile.id,
      stepId: job.expectation.stepId,
      heard: heard.text,
      ...(confirmHeard !== undefined ? { confirmHeard } : {}),
      fired: [...new Set(decisions.map((d) => d.match.rule.id))],
      status: last ? last.status : 'none',
      ended: decisions.some((d) => d.kind === 'act' && d.match.rule.endSession === true),
      textHit: matchSafety(ear.rules, job.line.text) !== null,
    };
  }

  /** Speaks `text` into the room and returns the turn the recogniser made of it. */
  private async hear(
    ear: Ear,
    expectation: Expectation,
    text: string,
    voice: string,
  ): Promise<{ text: string; confidence: number }> {
    ear.board.set(expectation);
    ear.finals = [];
    this.active = ear;
    const startsBefore = ear.starts;
    const sent = await this.patient.say(await speak(text, voice), { trailingSilenceMs: 300 });
    const deadline = performance.now() + TURN_TIMEOUT_MS;
    for (;;) {
      const now = performance.now();
      // On a busy machine the VAD runs seconds behind the audio: wait until it has seen this
      // speech start and end, or its transcript lands in the next line's turn.
      const detected = ear.starts > startsBefore;
      const settled = ear.starts === ear.ends && ear.recognised >= ear.ends;
      const quiet = now - Math.max(sent.endedAt, ear.lastEventAt) >= SETTLE_MS;
      if (detected && settled && quiet) break;
      if (now > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    this.active = undefined;
    const finals = ear.finals;
    ear.finals = [];
    return {
      text: finals.map((f) => f.text).join(' '),
      confidence: finals.length ? finals.reduce((a, f) => a + f.confidence, 0) / finals.length : 0,
    };
  }

  async close(): Promise<void> {
    for (const ear of this.ears.values()) {
      ear.stream.close();
      await ear.stt.close();
    }
    await this.patient.leave();
    await this.listener.disconnect();
    await Promise.allSettled([...this.reads, ...[...this.ears.values()].map((e) => e.pump)]);
  }
}

const emptyTally = (): Tally => ({
  redFlags: 0,
  caught: 0,
  innocent: 0,
  alarmed: 0,
  ended: 0,
  suspectedOnly: 0,
  textCaught: 0,
});

function count(t: Tally, trial: Trial): void {
  const raised = trial.fired.length > 0;
  if (trial.label === INNOCENT) {
    t.innocent += 1;
    if (raised) t.alarmed += 1;
    if (trial.ended) t.ended += 1;
    if (raised && trial.status !== 'confirmed') t.suspectedOnly += 1;
  } else {
    t.redFlags += 1;
    if (raised) t.caught += 1;
    if (trial.textHit) t.textCaught += 1;
  }
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : Number((a / b).toFixed(4)));

export function summarise(trials: Trial[], skipped: number, wallMs: number): SpeechEvalReport {
  const overall = emptyTally();
  const byVoice: Record<string, Tally> = {};
  const byRule: SpeechEvalReport['byRule'] = {};
  for (const t of trials) {
    count(overall, t);
    count((byVoice[t.voice] ??= emptyTally()), t);
    if (t.label !== INNOCENT) {
      const r = (byRule[t.label] ??= { lines: 0, caught: 0, exact: 0 });
      r.lines += 1;
      if (t.fired.length) r.caught += 1;
      if (t.fired.includes(t.label)) r.exact += 1;
    }
  }
  const lines = new Set(trials.map((t) => `${t.file}:${t.line}`)).size;
  return {
    trials,
    skipped,
    overall,
    byVoice,
    byRule,
    summary: {
      recall: ratio(overall.caught, overall.redFlags),
      falseAlarmRate: ratio(overall.alarmed, overall.innocent),
      lines,
      endedInnocentRate: ratio(overall.ended, overall.innocent),
    },
    wallMs,
  };
}

const pct = (a: number, b: number): string =>
  b === 0 ? '   -  ' : `${((100 * a) / b).toFixed(1).padStart(5)}%`;

function tallyRow(name: string, t: Tally): string {
  return (
    `${name.padEnd(34)} recall ${pct(t.caught, t.redFlags)} (${t.caught}/${t.redFlags})  ` +
    `alarm ${pct(t.alarmed, t.innocent)}  ended ${pct(t.ended, t.innocent)} (${t.ended}/${t.innocent})  ` +
    `suspected-only ${pct(t.suspectedOnly, t.innocent)}  text ceiling ${pct(t.textCaught, t.redFlags)}`
  );
}

export function formatReport(r: SpeechEvalReport, voices: readonly string[]): string {
  const out: string[] = [
    '',
    'Speech-level safety eval (LiveKit → VAD → embedded STT → matcher → confirm)',
  ];
  for (const v of voices) out.push(tallyRow(v, r.byVoice[v] ?? emptyTally()));
  out.push(tallyRow('overall', r.overall), '', 'Recall per rule (any rule / this rule):');
  for (const [rule, s] of Object.entries(r.byRule).sort()) {
    out.push(
      `  ${rule.padEnd(24)} ${pct(s.caught, s.lines)}  ${pct(s.exact, s.lines)}  (${s.lines} trials)`,
    );
  }
  const misses = r.trials.filter((t) => t.label !== INNOCENT && t.fired.length === 0);
  const alarms = r.trials.filter((t) => t.label === INNOCENT && t.fired.length > 0);
  const row = (t: Trial): string =>
    `  ${t.file.split('/').pop()}:${t.line} [${t.voice}] ${t.profileId}/${t.stepId} ${t.label}` +
    ` → heard "${t.heard}"${t.fired.length ? ` fired ${t.fired.join(',')} ${t.status}` : ''}` +
    `${t.confirmHeard !== undefined ? ` (answer heard "${t.confirmHeard}")` : ''}${t.ended ? ' ENDED' : ''}`;
  out.push('', `Misses (${misses.length}):`, ...misses.map(row));
  out.push('', `False alarms (${alarms.length}):`, ...alarms.map(row));
  out.push(
    '',
    `${r.summary.lines} lines × ${voices.length} voices = ${r.trials.length} trials` +
      `${r.skipped ? `, ${r.skipped} lines skipped (rule not in the profile)` : ''}; ` +
      `wall ${(r.wallMs / 1000).toFixed(0)} s`,
    '',
  );
  return out.join('\n');
}
