/**
 * What the route plugins need, passed in as one bag (real clients in api/main.ts; the same real
 * clients, pointed at test databases and topics, in tests).
 */
import type { Db } from 'mongodb';
import type { EducationStore } from '../education/index.ts';
import type { ClipRenderer } from '../education/render.ts';
import type { Config } from '../infra/config.ts';
import type { FollowUpStore, KnowledgeStore } from '../knowledge/index.ts';
import type { ProfileStore } from '../prompts/store.ts';
import type { SessionRequest } from '../sessions/schema.ts';
import type { SessionStore, UtteranceStore } from '../sessions/store.ts';
import type { ClipLinks } from './education/links.ts';
import type { EventHub } from './events/hub.ts';
import type { JoinLinks } from './join/links.ts';
import type { IdempotencyKeys } from './sessions/idempotency.ts';

export interface RequestPublisher {
  /** Resolves once Pub/Sub has accepted the request. */
  publish(request: SessionRequest): Promise<void>;
}

export interface RoomCloser {
  /** Closes the room and disconnects everyone; a missing room is not an error. */
  deleteRoom(room: string): Promise<void>;
}

export interface ApiDeps {
  cfg: Config;
  db: Db;
  sessions: SessionStore;
  utterances: UtteranceStore;
  profiles: ProfileStore;
  /** Care-team documents (knowledge/) and the follow-ups calls leave. */
  knowledge: KnowledgeStore;
  followUps: FollowUpStore;
  /** Education scripts, clips and their audio (education/). */
  education: EducationStore;
  /** Runs render jobs; the API starts it and closes it at shutdown. */
  clipRenderer: ClipRenderer;
  /** Signs and checks patient links to one clip. */
  clipLinks: ClipLinks;
  requests: RequestPublisher;
  rooms: RoomCloser;
  idempotency: IdempotencyKeys;
  joinLinks: JoinLinks;
  events: EventHub;
  now: () => Date;
  /** How often the transcript tail looks for new utterances. @defaultValue 500 */
  transcriptPollMs?: number;
}
