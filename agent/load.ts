/**
 * The load a worker reports to LiveKit, which offers jobs only to workers below the threshold.
 * Machine CPU (sampled between calls) and, optionally, a hard cap on concurrent sessions: a
 * worker at its cap reports 1 (full) whatever the CPU says.
 */
import { cpus } from 'node:os';

export interface LoadOptions {
  /** Count machine CPU. */
  cpu: boolean;
  /** Concurrent sessions at which the worker is full; 0 means no cap. */
  maxJobs: number;
}

interface CpuTimes {
  idle: number;
  total: number;
}

function cpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

/** Returns a load function: `activeJobs` in, a value in [0, 1] out. */
export function createLoadFunction(opts: LoadOptions): (activeJobs: number) => number {
  let last = cpuTimes();
  return (activeJobs) => {
    if (opts.maxJobs > 0 && activeJobs >= opts.maxJobs) return 1;
    if (!opts.cpu) return opts.maxJobs > 0 ? activeJobs / opts.maxJobs / 2 : 0;
    const now = cpuTimes();
    const total = now.total - last.total;
    const busy = total - (now.idle - last.idle);
    last = now;
    return total > 0 ? Math.min(1, Math.max(0, busy / total)) : 0;
  };
}
