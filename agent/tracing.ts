/**
 * The agent's spans, in the two kinds of process the framework runs.
 *
 * The worker's main process (`agent-worker`) has one span per job it accepts, parented on the
 * dispatcher's dispatch span through the job metadata's `trace`.
 *
 * A job process (`agent-job`) hands the framework our provider: its spans (`job_entrypoint`,
 * `agent_session`, `user_turn`, `agent_turn`, `llm_node`, `tts_node`, ...) are redacted and
 * exported with ours. The framework starts `job_entrypoint` before our entry runs, in a context
 * of its own, so the provider it gets gives any root span the job's remote parent (read from the
 * job in the framework's job context); our `agent.session` span is then a child of
 * `job_entrypoint`, and the framework's session spans are children of ours.
 */
import { getJobContext, telemetry, type JobRequest } from '@livekit/agents';
import { type Context } from '@opentelemetry/api';
import type { Config } from '../infra/config.ts';
import type { Logger } from '../infra/logger.ts';
import {
  contextFrom,
  startTracing,
  tracerFor,
  withFallbackParent,
  type Tracing,
} from '../infra/tracing.ts';
import { readJobMetadata } from '../sessions/intake.ts';

export const agentTracer = tracerFor('agent');

/** The trace a job's metadata carries, if any (never throws). */
function parentOfMetadata(metadata: string | undefined): Context | undefined {
  const read = readJobMetadata(metadata);
  return read.ok && read.trace ? contextFrom(read.trace) : undefined;
}

/** Tracing for the worker's main process. */
export function startWorkerTracing(cfg: Config, logger: Logger): Tracing {
  return startTracing({ service: 'agent-worker', cfg: cfg.tracing, logger });
}

/**
 * The `ServerOptions.requestFunc` that accepts every job (the framework's default) inside a
 * span continuing the dispatch's trace. Undefined while tracing is off: the default stays.
 */
export function tracedJobRequests(
  tracing: Tracing,
): ((req: JobRequest) => Promise<void>) | undefined {
  if (!tracing.enabled) return undefined;
  return (req) =>
    agentTracer.span('agent.job_request', () => req.accept(), {
      parent: parentOfMetadata(req.job.metadata),
      attributes: { 'lk.job_id': req.id, 'lk.agent_name': req.agentName },
    });
}

let jobParent: { jobId: string; parent: Context | undefined } | undefined;

/** The remote parent of the job this code runs for (framework job context), cached per job. */
function currentJobParent(): Context | undefined {
  const ctx = getJobContext(false);
  if (!ctx) return undefined;
  if (jobParent?.jobId !== ctx.job.id) {
    jobParent = { jobId: ctx.job.id, parent: parentOfMetadata(ctx.job.metadata) };
  }
  return jobParent.parent;
}

/**
 * Tracing for a job process, framework included. Call before the job starts (prewarm): the
 * framework opens `job_entrypoint` before our entry runs.
 */
export function startJobTracing(cfg: Config, logger: Logger): Tracing {
  const tracing = startTracing({ service: 'agent-job', cfg: cfg.tracing, logger });
  if (!tracing.provider) return tracing;
  telemetry.setTracerProvider(withFallbackParent(tracing.provider, currentJobParent), {
    registerSpanProcessor: (p) => tracing.registerSpanProcessor(p),
    // The framework's own PII filter, behind our allow-list: two locks on the same door.
    allowPii: false,
  });
  return tracing;
}
