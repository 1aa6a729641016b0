/**
 * CPU time per process group from /proc (Linux), so a benchmark can say where each request's
 * CPU went. The V8 profiler cannot: on a saturated VM it samples wall time, and a thread waiting
 * for a core inside a system call shows up as CPU.
 */
import { readdirSync, readFileSync } from 'node:fs';

/**
 * A group is a list of pids or a pattern its processes' command lines match. A group named
 * `of which ...` is a part of another one (say, one database's backends of the whole server): it is
 * reported, not added to the total.
 */
export type ProcessGroups = Record<string, readonly number[] | RegExp>;

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux architecture Node.js supports

function ticksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0; // gone
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** CPU milliseconds used so far by each group's processes (threads included). */
export function cpuSnapshot(groups: ProcessGroups): Record<string, number> {
  let all: number[] | undefined;
  const snapshot: Record<string, number> = {};
  for (const [name, members] of Object.entries(groups)) {
    let pids: readonly number[];
    if (!(members instanceof RegExp)) pids = members;
    else {
      all ??= readdirSync('/proc')
        .filter((entry) => /^\d+$/.test(entry))
        .map(Number);
      pids = all.filter((pid) => members.test(commandLine(pid)));
    }
    snapshot[name] = pids.reduce((sum, pid) => sum + (ticksOf(pid) * 1000) / TICKS_PER_SECOND, 0);
  }
  return snapshot;
}

/** CPU milliseconds per request for each group between two snapshots. */
export function cpuPerRequest(
  before: Record<string, number>,
  after: Record<string, number>,
  requests: number,
): Record<string, number> {
  const perRequest: Record<string, number> = {};
  let total = 0;
  for (const [name, ms] of Object.entries(after)) {
    const used = ms - (before[name] ?? 0);
    if (!name.startsWith('of which ')) total += used;
    perRequest[name] = Math.round((used / Math.max(requests, 1)) * 100) / 100;
  }
  perRequest['total'] = Math.round((total / Math.max(requests, 1)) * 100) / 100;
  return perRequest;
}
