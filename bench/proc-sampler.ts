/**
 * CPU time of the bench's own process tree by role (bench client, scale worker, Temporal dev server, moto), and of
 * the whole machine, read from /proc (Linux). The difference tells how much CPU other processes took meanwhile.
 */
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';

export type CpuGroup = 'bench' | 'worker' | 'temporal' | 'moto' | 'other';

export interface CpuSnapshot {
  atMs: number;
  /** CPU seconds (user + system) so far, per role, of live processes in the bench's tree. */
  byGroup: Record<CpuGroup, number>;
  /** Machine-wide busy and total CPU seconds (all cores) from /proc/stat. */
  systemBusy: number;
  systemTotal: number;
}

export interface CpuUsage {
  wallSeconds: number;
  /** Cores used on average over the span, per role (1.0 = one core fully busy). */
  coresByGroup: Record<CpuGroup, number>;
  /** Cores used by everything on the machine. */
  coresSystem: number;
  /** Cores used by processes outside the bench's tree (other test runs...). */
  coresForeign: number;
  cores: number;
}

const available = fs.existsSync('/proc/self/stat');
let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 on every Linux this runs on
}

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  cpuSeconds: number;
}

function readStat(pid: string): ProcStat | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const open = text.indexOf('(');
    const close = text.lastIndexOf(')');
    const comm = text.slice(open + 1, close);
    const rest = text.slice(close + 2).split(' ');
    // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return { pid: Number(pid), ppid: Number(rest[1]), comm, cpuSeconds: (Number(rest[11]) + Number(rest[12])) / ticksPerSecond };
  } catch {
    return undefined;
  }
}

function classify(p: ProcStat, workerPid: number | undefined): CpuGroup {
  if (p.pid === process.pid) return 'bench';
  if (p.pid === workerPid) return 'worker';
  if (p.comm === 'temporal') return 'temporal';
  if (p.comm.startsWith('python') || p.comm.startsWith('moto')) return 'moto';
  return 'other';
}

function systemCpu(): { busy: number; total: number } {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: (total - idle) / ticksPerSecond, total: total / ticksPerSecond };
  } catch {
    return { busy: 0, total: 0 };
  }
}

export function cpuSnapshot(workerPid?: number): CpuSnapshot {
  const byGroup: Record<CpuGroup, number> = { bench: 0, worker: 0, temporal: 0, moto: 0, other: 0 };
  if (available) {
    const all = fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(readStat)
      .filter((p): p is ProcStat => p !== undefined);
    const children = new Map<number, ProcStat[]>();
    for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
    const self = all.find((p) => p.pid === process.pid);
    const stack = self ? [self] : [];
    while (stack.length) {
      const p = stack.pop() as ProcStat;
      byGroup[classify(p, workerPid)] += p.cpuSeconds;
      stack.push(...(children.get(p.pid) ?? []));
    }
  }
  const sys = systemCpu();
  return { atMs: Date.now(), byGroup, systemBusy: sys.busy, systemTotal: sys.total };
}

export function cpuUsage(from: CpuSnapshot, to: CpuSnapshot): CpuUsage {
  const wallSeconds = Math.max(1e-3, (to.atMs - from.atMs) / 1000);
  const coresByGroup = {} as Record<CpuGroup, number>;
  let mine = 0;
  for (const g of Object.keys(from.byGroup) as CpuGroup[]) {
    // A process that exited in between takes its CPU time with it; never report negative use.
    const used = Math.max(0, to.byGroup[g] - from.byGroup[g]);
    coresByGroup[g] = used / wallSeconds;
    mine += used;
  }
  const busy = Math.max(0, to.systemBusy - from.systemBusy);
  const cores = to.systemTotal > from.systemTotal ? (to.systemTotal - from.systemTotal) / wallSeconds : 0;
  return {
    wallSeconds,
    coresByGroup,
    coresSystem: busy / wallSeconds,
    coresForeign: Math.max(0, busy - mine) / wallSeconds,
    cores: Math.round(cores),
  };
}
