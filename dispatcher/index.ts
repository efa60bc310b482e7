/**
 * The dispatcher: Pub/Sub session requests → agents in LiveKit rooms, one per session.
 */
export {
  Dispatcher,
  defaults,
  dispatcherSettings,
  type DispatcherOptions,
  type PlacementTimings,
  type Readiness,
  type Settlement,
  type StopReport,
} from './dispatcher.ts';
export { runDispatcher, type RunningDispatcher, type RunOverrides } from './main.ts';
export { systemClock, type Clock } from '../infra/time.ts';
export { startOpsServer, type OpsServer, type OpsServerOptions } from './http.ts';
export {
  InMemoryPlacementLeases,
  MongoPlacementLeases,
  type Announcement,
  type PlacementLeases,
} from './leases.ts';
export {
  LiveKitAgentRooms,
  type AgentPresence,
  type AgentRooms,
  type DispatchRef,
  type RoomTimeouts,
} from './livekit.ts';
export { DispatcherMetrics, OUTCOMES, type Outcome } from './metrics.ts';
export {
  InMemoryProfileCatalog,
  PublishedProfileCatalog,
  type ProfileCatalog,
} from './profiles.ts';
export { REJECTION_CODES, type RejectionCode } from '../sessions/intake.ts';
export {
  REAPER_CODES,
  Reaper,
  reaperDefaults,
  type ReaperOptions,
  type SweepReport,
} from './reaper.ts';
export { PubSubRequestSource, type InboundMessage, type RequestSource } from './source.ts';
