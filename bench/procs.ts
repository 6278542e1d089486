// What the benchmark reads about processes from /proc (Linux): CPU time and peak memory.
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux (sysconf(_SC_CLK_TCK)), so one tick is 10 ms.

/** User + system CPU milliseconds a process has used so far. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (proc(5), counting from field 3 "state").
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** Pids whose command name is `comm` (e.g. every postgres backend). */
export function pidsNamed(comm: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Children (and their children) of a process. */
export function descendants(pid: number): number[] {
  const all: number[] = [];
  const walk = (p: number) => {
    let children: string[] = [];
    try {
      children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      return;
    }
    for (const c of children.map(Number)) {
      all.push(c);
      walk(c);
    }
  };
  walk(pid);
  return all;
}

/** CPU milliseconds of a set of processes, keyed by pid so a later sample can be subtracted. */
export function cpuSample(pids: number[]): Map<number, number> {
  return new Map(pids.map((p) => [p, cpuMs(p)]));
}

export function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
  return sum;
}

/** Peak resident set size (VmHWM) in MB. */
export function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}
