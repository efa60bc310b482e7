/**
 * The contracts the dispatcher and the agent share. Named once, here.
 * Schemas validate data at boundaries (Pub/Sub messages, job metadata); the inferred types are
 * used inside.
 */
import { z } from 'zod';
import { describeUnsafeText, UNSAFE_TEXT_ISSUE, unsafeTextKind } from './text-safety.ts';

const SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;
const OPAQUE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const ProfileRef = z
  .object({
    id: z.string().regex(SLUG, 'profile id must be a lower-case slug such as "intake"'),
    /** Pin a published version; omitted means the latest published version. */
    version: z.number().int().positive().optional(),
  })
  .strict();
export type ProfileRef = z.infer<typeof ProfileRef>;

/**
 * A string that reaches speech or a prompt: no control, bidi-override or zero-width characters
 * (see text-safety.ts). The issue is marked so intake can reject it with its own code.
 */
export const speakableText = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .superRefine((value, ctx) => {
      const kind = unsafeTextKind(value);
      if (kind) {
        ctx.addIssue({
          code: 'custom',
          message: describeUnsafeText(kind),
          params: { reason: UNSAFE_TEXT_ISSUE, kind },
        });
      }
    });

export const PatientRef = z
  .object({
    /** An opaque reference into the EHR; never a name or an MRN in clear. */
    ref: z.string().regex(OPAQUE_ID, 'patient.ref must be an opaque identifier'),
    /** Templated into the greeting and the instructions: speakable text only. */
    displayName: speakableText(1, 80).optional(),
    language: z
      .string()
      .regex(
        /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/,
        'patient.language must be a BCP 47 tag such as "en-US"',
      )
      .optional(),
  })
  .strict();
export type PatientRef = z.infer<typeof PatientRef>;

/**
 * Marks a request as an operator's re-run of a failed or dead-lettered one (`voicecare sessions
 * replay`). A replay is a new session, `<of>.r<attempt>`: the original record stays as it was,
 * and idempotency on sessionId cannot mistake the re-run for a duplicate.
 */
export const ReplayOf = z
  .object({
    /** The original session (the first of the chain, for a replay of a replay). */
    of: z.string().regex(OPAQUE_ID, 'replay.of must be a sessionId'),
    attempt: z.number().int().positive(),
    /** Who replayed it: an operator's name or OS user. */
    by: speakableText(1, 80),
    at: z.iso.datetime({ offset: true }),
    /** Where the request came from: the dead-letter topic, or the session record. */
    source: z.enum(['dead_letter', 'session']),
  })
  .strict();
export type ReplayOf = z.infer<typeof ReplayOf>;

/** Session request v1: the Pub/Sub message body, and the agent's job metadata. */
export const SessionRequestV1 = z
  .object({
    /** The idempotency key: one session, one room, one dispatch per sessionId. */
    sessionId: z.string().regex(OPAQUE_ID, 'sessionId must be 1-128 letters, digits, . _ : -'),
    profile: ProfileRef,
    patient: PatientRef,
    requestedAt: z.iso.datetime({ offset: true }),
    deadline: z.iso.datetime({ offset: true }).optional(),
    priority: z.enum(['routine', 'urgent']).default('routine'),
    /** Set only by `voicecare sessions replay`; the API refuses it. */
    replay: ReplayOf.optional(),
  })
  .strict();
export type SessionRequest = z.infer<typeof SessionRequestV1>;

export const SESSION_STATES = [
  'requested',
  'dispatching',
  'active',
  'completed',
  'failed',
  'interrupted',
] as const;
export type SessionState = (typeof SESSION_STATES)[number];
export const TERMINAL_STATES: ReadonlySet<SessionState> = new Set([
  'completed',
  'failed',
  'interrupted',
]);

/** Which states each state may be entered from. Anything else is refused by the store. */
export const ALLOWED_FROM: Readonly<Record<SessionState, readonly SessionState[]>> = {
  requested: [],
  dispatching: ['requested', 'dispatching'],
  active: ['requested', 'dispatching'],
  completed: ['active'],
  interrupted: ['active', 'dispatching'],
  failed: ['requested', 'dispatching', 'active'],
};

export type Role = 'patient' | 'agent';

export interface SessionHandoff {
  /** The job id of the agent leaving the call. */
  fromJob: string;
  requestedAt: Date;
}

/** Per-turn latencies as the framework reports them, in milliseconds. */
export interface TurnLatency {
  /** End of patient speech until the turn was committed (VAD/turn detector delay). */
  endOfUtteranceMs?: number;
  /** End of patient speech until the final transcript arrived. */
  transcriptionDelayMs?: number;
  llmTtftMs?: number;
  ttsTtfbMs?: number;
  /** End of patient speech until the agent's first audio frame was played. */
  endToEndMs?: number;
}

export interface Utterance {
  sessionId: string;
  /** 0-based, dense, unique with sessionId: a retried write lands on the same record. */
  seq: number;
  role: Role;
  text: string;
  startedAt: Date;
  endedAt: Date;
  interrupted: boolean;
  confidence?: number;
  latency?: TurnLatency;
  /**
   * Agent utterances answered from the care team's documents: the ids of the approved passages
   * used (`<docId>@v<version>#<n>`, see knowledge/schema.ts).
   */
  citations?: string[];
}

export interface LatencySummary {
  count: number;
  medianMs: number;
  p95Ms: number;
}

export interface SessionSummary {
  turns: { patient: number; agent: number; interrupted: number };
  latency: Partial<Record<keyof TurnLatency, LatencySummary>>;
  /**
   * Distinct participants, other than the patient and agents, who were in the room: the agent
   * ignored them. Only the count is kept (identities are PHI-adjacent and live in no record).
   */
  intruders?: number;
}

/** Which detector raised an escalation, and what in the profile fired (never the patient's words). */
export interface EscalationTrigger {
  /** `rules`: the deterministic matcher; `classifier`: the parallel LLM safety classifier. */
  detector: 'rules' | 'classifier';
  /** `concept` names the profile concept; `phrase`/`pattern` quote the profile's own entry. */
  kind: 'phrase' | 'pattern' | 'concept' | 'classifier';
  value: string;
}

/**
 * How sure we are. `confirmed`: acted on (the rule's response was spoken). `suspected`: the
 * embedded recogniser was unsure, the care team was told and a confirming question asked.
 * `denied`: the patient said no to that question; the suspicion stays on record for review.
 */
export const ESCALATION_STATUSES = ['confirmed', 'suspected', 'denied'] as const;
export type EscalationStatus = (typeof ESCALATION_STATUSES)[number];

export interface Escalation {
  /**
   * Idempotency key, stable across retries, replays and outbox redelivery:
   * `<sessionId>:<turn key>:<ruleId>:<status>`. Two records with one id are one escalation.
   */
  id: string;
  ruleId: string;
  severity: 'urgent' | 'emergency';
  status: EscalationStatus;
  at: Date;
  /** Index of the utterance that triggered it, once known. */
  seq?: number;
  /** Speech, or text typed into the room. */
  channel: 'speech' | 'text';
  trigger: EscalationTrigger;
}

/**
 * Why a captured answer needs a person to look at it before it is relied on.
 * - `low_confidence`: the recogniser was unsure of the utterance the value came from.
 * - `confidence_unknown`: the recogniser gave no confidence at all.
 * - `general_model_unconfirmed`: free speech heard by the embedded recogniser's general language
 *   model (weak on real speech), and the patient never confirmed it.
 * - `not_confirmed`: the value was read back and the patient's reply was neither yes nor no.
 * - `read_back_rejected`: the patient said no to every read-back; `value` is null.
 * - `not_understood`: no answer could be read from the patient's words; `value` is null.
 */
export const REVIEW_REASONS = [
  'low_confidence',
  'confidence_unknown',
  'general_model_unconfirmed',
  'not_confirmed',
  'read_back_rejected',
  'not_understood',
] as const;
export type ReviewReason = (typeof REVIEW_REASONS)[number];

/** How an answer was captured: the deterministic dialogue engine, or the LLM's record_answer. */
export const ANSWER_METHODS = ['engine', 'llm_tool'] as const;
export type AnswerMethod = (typeof ANSWER_METHODS)[number];

/**
 * One captured protocol answer, with what a reviewer needs to judge it. A value that is a guess
 * always carries `needsReview: true` and a reason; `needsReview: false` means the value was heard
 * with confidence or confirmed by the patient.
 */
export const CapturedAnswer = z
  .object({
    /** yes/no → boolean, number → number, else a string; null when nothing could be trusted. */
    value: z.union([z.string(), z.number(), z.boolean(), z.null()]),
    /**
     * 0–1, the lowest of what is known: the recogniser's confidence in the utterance and the
     * dialogue engine's certainty in reading an answer from it.
     */
    confidence: z.number().min(0).max(1),
    /** The recogniser's own confidence in the utterance, when it reported one. */
    sttConfidence: z.number().min(0).max(1).optional(),
    source: z
      .object({
        method: z.enum(ANSWER_METHODS),
        /** `seq` of the patient utterance the value was taken from (the transcript's). */
        seq: z.number().int().nonnegative().optional(),
        /** `seq` of the patient's yes to the read-back. */
        confirmedSeq: z.number().int().nonnegative().optional(),
      })
      .strict(),
    /** The value was read back to the patient and they said yes. */
    confirmed: z.boolean(),
    needsReview: z.boolean(),
    reviewReason: z.enum(REVIEW_REASONS).optional(),
    at: z.date(),
  })
  .strict()
  .refine((a) => a.needsReview === (a.reviewReason !== undefined), {
    message: 'needsReview and reviewReason go together',
  })
  .refine((a) => a.value !== null || a.needsReview, {
    message: 'an answer without a value needs review',
  });
export type CapturedAnswer = z.infer<typeof CapturedAnswer>;

export interface SessionRecord {
  sessionId: string;
  state: SessionState;
  profile: ProfileRef;
  /** The exact profile version the agent ran, once known. */
  profileVersion?: number;
  patientRef: string;
  priority: 'routine' | 'urgent';
  room?: string;
  requestedAt: Date;
  deadline?: Date;
  /** When each state was entered. */
  timestamps: Partial<Record<SessionState, Date>>;
  attempts: number;
  /** Why the session (or its last placement attempt) failed, as a stable code to branch on. */
  failureCode?: string;
  /** The failure in words, for people; never parse it (branch on `failureCode`). */
  failureReason?: string;
  /**
   * Why a session ended (`patient_left`, `end_phrase`, `safety`, `max_duration`, ...).
   * `incomplete`: the call ended (see `endedBy`) with required protocol steps unanswered.
   */
  endReason?: string;
  /** What ended an `incomplete` call: the ending that would otherwise be the endReason. */
  endedBy?: string;
  /** Required protocol fields without an answer when the call ended, in protocol order. */
  unanswered?: string[];
  dispatch?: { dispatchId: string; agentJoinedMs?: number; dispatchedAt?: Date };
  /**
   * The live call was dispatched to a successor by a draining worker (`agent/handoff.ts`):
   * which job it leaves, and when. The job named here leaves the session `active` when its
   * drain runs out, for the successor to resume; the reaper still ends it if nobody comes.
   */
  handoff?: SessionHandoff;
  /** This session re-runs another: which, the how-many-th time, who asked and when. */
  replayOf?: {
    sessionId: string;
    attempt: number;
    by: string;
    at: Date;
    source: ReplayOf['source'];
  };
  summary?: SessionSummary;
  /** By capture field. */
  answers?: Record<string, CapturedAnswer>;
  escalations?: Escalation[];
  updatedAt: Date;
}

/** A request that never became a session: recorded so nothing vanishes silently. */
export interface Rejection {
  messageId: string;
  sessionId?: string;
  reason: string;
  code: string;
  receivedAt: Date;
  /** At most a few hundred bytes, with no patient data: the request's shape, not its content. */
  detail?: string;
}

export const SESSION_EVENT_TYPES = [
  'session.ready',
  'session.started',
  'session.completed',
  'session.failed',
  'session.escalation',
  'session.rejected',
] as const;
export type SessionEventType = (typeof SESSION_EVENT_TYPES)[number];

export const SessionEvent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('session.ready'),
    sessionId: z.string(),
    at: z.iso.datetime(),
    room: z.string(),
    livekitUrl: z.string(),
  }),
  z.object({
    type: z.literal('session.started'),
    sessionId: z.string(),
    at: z.iso.datetime(),
    room: z.string(),
    profile: z.object({ id: z.string(), version: z.number().int() }),
  }),
  z.object({
    type: z.literal('session.completed'),
    sessionId: z.string(),
    at: z.iso.datetime(),
    state: z.enum(['completed', 'interrupted']),
    reason: z.string().optional(),
    /** Required protocol fields left unanswered (reason `incomplete`). */
    unanswered: z.array(z.string()).optional(),
  }),
  z.object({
    type: z.literal('session.failed'),
    sessionId: z.string(),
    at: z.iso.datetime(),
    reason: z.string(),
    code: z.string(),
  }),
  z.object({
    type: z.literal('session.escalation'),
    sessionId: z.string(),
    at: z.iso.datetime(),
    /** The escalation's idempotency key (Escalation.id): consumers de-duplicate on it. */
    escalationId: z.string(),
    ruleId: z.string(),
    severity: z.enum(['urgent', 'emergency']),
    status: z.enum(ESCALATION_STATUSES),
    channel: z.enum(['speech', 'text']),
    trigger: z.object({
      detector: z.enum(['rules', 'classifier']),
      kind: z.enum(['phrase', 'pattern', 'concept', 'classifier']),
      value: z.string(),
    }),
  }),
  /**
   * A request that never became a session (invalid, unknown profile, stale, unsafe text, ...):
   * announced so its sender stops waiting. `messageId` is the Pub/Sub message it arrived in, the
   * only handle when the request had no readable sessionId; consumers de-duplicate on it.
   */
  z.object({
    type: z.literal('session.rejected'),
    sessionId: z.string().optional(),
    messageId: z.string(),
    at: z.iso.datetime(),
    /** A stable RejectionCode (`sessions/intake.ts`). */
    code: z.string(),
    /** In words, for people; describes the request's shape, never its content. */
    reason: z.string(),
  }),
]);
export type SessionEvent = z.infer<typeof SessionEvent>;
