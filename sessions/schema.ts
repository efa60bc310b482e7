/**
 * The contracts the dispatcher and the agent share. Named once, here.
 * Schemas validate data at boundaries (Pub/Sub messages, job metadata); the inferred types are
 * used inside.
 */
import { z } from 'zod';

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

export const PatientRef = z
  .object({
    /** An opaque reference into the EHR; never a name or an MRN in clear. */
    ref: z.string().regex(OPAQUE_ID, 'patient.ref must be an opaque identifier'),
    displayName: z.string().min(1).max(80).optional(),
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
}

export interface LatencySummary {
  count: number;
  medianMs: number;
  p95Ms: number;
}

export interface SessionSummary {
  turns: { patient: number; agent: number; interrupted: number };
  latency: Partial<Record<keyof TurnLatency, LatencySummary>>;
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
  /** Why a session ended (`patient_left`, `end_phrase`, `safety`, `max_duration`, ...). */
  endReason?: string;
  dispatch?: { dispatchId: string; agentJoinedMs?: number; dispatchedAt?: Date };
  summary?: SessionSummary;
  answers?: Record<string, unknown>;
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
]);
export type SessionEvent = z.infer<typeof SessionEvent>;
