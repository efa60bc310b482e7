/**
 * What the bench reads from Linux's /proc: the machine's CPU counters, and the processes of a
 * worker's process group (the worker, its job processes and its inference process all share the
 * group the bench started it in), classified by what they run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

/** Linux reports CPU time in clock ticks; 100 per second on every x86-64 kernel config in use. */
const TICKS_PER_S = 100;
const PAGE_BYTES = 4096;
const MB = 1024 * 1024;

export type ProcKind = 'main' | 'job' | 'inference' | 'other';

export interface ProcInfo {
  pid: number;
  ppid: number;
  kind: ProcKind;
  rssMb: number;
  /**
   * Proportional set size: each shared page split among the processes mapping it, so the PSS of
   * a group adds up to the memory it really holds. Only when the snapshot asked for it.
   */
  pssMb?: number;
  /** utime + stime + reaped children's, in ticks. */
  cpuTicks: number;
}

export interface GroupSnapshot {
  at: number;
  procs: ProcInfo[];
  totalRssMb: number;
  /** NaN unless the snapshot asked for PSS (or the kernel has no smaps_rollup). */
  totalPssMb: number;
  cpuTicks: number;
}

/**
 * The `Name: <n> kB` fields of /proc/<pid>/smaps_rollup, in kB (Rss, Pss, Pss_Anon, …). The
 * first line is the address range and `[rollup]`; it has no such field.
 */
export function parseSmapsRollup(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+):\s+(\d+) kB$/gm)) {
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Pss of one process in MB; undefined when it is gone or the kernel has no rollup (< 4.14). */
export function pssMb(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = parseSmapsRollup(text).Pss;
  return kb === undefined ? undefined : (kb * 1024) / MB;
}

function readStat(pid: string): { ppid: number; pgrp: number; rss: number; cpu: number } | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name can hold spaces and parentheses: fields start after the last ')'.
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state); fields are 1-based in proc(5).
    const field = (n: number) => Number(f[n - 3]);
    return {
      ppid: field(4),
      pgrp: field(5),
      cpu: field(14) + field(15) + field(16) + field(17),
      rss: field(24),
    };
  } catch {
    return null; // gone between readdir and read
  }
}

function kindOf(pid: string, pgid: number): ProcKind {
  if (Number(pid) === pgid) return 'main';
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmd.includes('job_proc_lazy_main')) return 'job';
    if (cmd.includes('inference_proc_lazy_main')) return 'inference';
  } catch {
    // gone
  }
  return 'other';
}

/**
 * Every live process in process group `pgid`. With `pss`, each one's PSS too (reading
 * smaps_rollup walks the page tables: ~1 ms per process here, fine once a second).
 */
export function groupSnapshot(pgid: number, opts: { pss?: boolean } = {}): GroupSnapshot {
  const procs: ProcInfo[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const st = readStat(pid);
    if (!st || st.pgrp !== pgid) continue;
    procs.push({
      pid: Number(pid),
      ppid: st.ppid,
      kind: kindOf(pid, pgid),
      rssMb: (st.rss * PAGE_BYTES) / MB,
      ...(opts.pss ? { pssMb: pssMb(Number(pid)) ?? Number.NaN } : {}),
      cpuTicks: st.cpu,
    });
  }
  return {
    at: performance.now(),
    procs,
    totalRssMb: procs.reduce((a, p) => a + p.rssMb, 0),
    totalPssMb: procs.reduce((a, p) => a + (p.pssMb ?? Number.NaN), 0),
    cpuTicks: procs.reduce((a, p) => a + p.cpuTicks, 0),
  };
}

export function rssOf(s: GroupSnapshot, kind: ProcKind): number {
  return s.procs.filter((p) => p.kind === kind).reduce((a, p) => a + p.rssMb, 0);
}

/** Summed PSS of the processes of one kind (NaN if the snapshot has no PSS). */
export function pssOf(s: GroupSnapshot, kind: ProcKind): number {
  return s.procs.filter((p) => p.kind === kind).reduce((a, p) => a + (p.pssMb ?? Number.NaN), 0);
}

export function countOf(s: GroupSnapshot, kind: ProcKind): number {
  return s.procs.filter((p) => p.kind === kind).length;
}

/** This process's own CPU ticks (the bench driver: patients, stand-ins). */
export function selfCpuTicks(): number {
  const u = process.cpuUsage();
  return ((u.user + u.system) / 1e6) * TICKS_PER_S;
}

interface MachineTicks {
  busy: number;
  total: number;
}

export function machineTicks(): MachineTicks {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface CpuWindow {
  /** Whole machine, 0..1 of all cores. */
  machineBusy: number;
  /** Cores the worker's process group used on average. */
  workerCores: number;
  /** Cores the bench driver itself used (patients, stand-ins). */
  benchCores: number;
  seconds: number;
}

/** Starts measuring CPU; call the result to stop and read the window. */
export function cpuWindow(pgid: number): () => CpuWindow {
  const m0 = machineTicks();
  const g0 = groupSnapshot(pgid).cpuTicks;
  const s0 = selfCpuTicks();
  const t0 = performance.now();
  return () => {
    const m1 = machineTicks();
    const g1 = groupSnapshot(pgid).cpuTicks;
    const s1 = selfCpuTicks();
    const seconds = (performance.now() - t0) / 1000;
    const ticks = seconds * TICKS_PER_S;
    return {
      machineBusy: m1.total > m0.total ? (m1.busy - m0.busy) / (m1.total - m0.total) : NaN,
      // Job processes that exited in the window are counted through their parent's reaped time.
      workerCores: ticks > 0 ? Math.max(0, g1 - g0) / ticks : NaN,
      benchCores: ticks > 0 ? (s1 - s0) / ticks : NaN,
      seconds,
    };
  };
}

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  node: string;
  kernel: string;
  memoryGb: number;
  /** 1, 5 and 15 minute load averages when the run started. */
  loadAverageAtStart: [number, number, number];
}

export function describeMachine(): MachineInfo {
  const c = cpus();
  const [a, b, d] = loadavg();
  return {
    cores: c.length,
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    node: process.version,
    kernel: release(),
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    loadAverageAtStart: [a ?? 0, b ?? 0, d ?? 0],
  };
}

export function loadAverageNow(): number {
  return loadavg()[0] ?? 0;
}
