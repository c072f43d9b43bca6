/**
 * What the kernel knows about the processes under measurement, read from /proc (Linux only):
 * CPU time, memory and open file descriptors of a process and all its descendants (Squid's
 * helpers are children; stunnel's threads live inside its one process, so they count there).
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Kernel clock ticks per second (`getconf CLK_TCK`); 100 on every Linux we run on. */
const TICKS_PER_SECOND = 100;

interface StatLine {
  pid: number;
  ppid: number;
  /** utime and stime in ticks (all threads of the process): the program itself, the kernel for it. */
  user: number;
  system: number;
}

const readStat = (pid: number): StatLine | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses; fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is state (field 3), so field N is fields[N - 3].
    return { pid, ppid: Number(fields[1]), user: Number(fields[11]), system: Number(fields[12]) };
  } catch {
    return undefined;
  }
};

const allPids = (): number[] =>
  readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);

/** The given roots and every descendant alive now. */
export const processTree = (roots: number[]): number[] => {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const stat = readStat(pid);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
    children.set(stat.ppid, list);
  }
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return [...seen].filter((pid) => readStat(pid) !== undefined);
};

/** CPU ticks per PID of a process tree: take one before and one after, then `cpuSecondsBetween`. */
export type CpuSnapshot = Map<number, { user: number; system: number }>;

export const cpuSnapshot = (roots: number[]): CpuSnapshot => {
  const snapshot: CpuSnapshot = new Map();
  for (const pid of processTree(roots)) {
    const stat = readStat(pid);
    if (stat) snapshot.set(pid, { user: stat.user, system: stat.system });
  }
  return snapshot;
};

/** User and system CPU seconds spent between two snapshots (a process born in between counts from zero). */
export const cpuSplitBetween = (before: CpuSnapshot, after: CpuSnapshot): { user: number; system: number } => {
  let user = 0;
  let system = 0;
  for (const [pid, now] of after) {
    user += now.user - (before.get(pid)?.user ?? 0);
    system += now.system - (before.get(pid)?.system ?? 0);
  }
  return { user: user / TICKS_PER_SECOND, system: system / TICKS_PER_SECOND };
};

/** CPU seconds spent between two snapshots, user and system together. */
export const cpuSecondsBetween = (before: CpuSnapshot, after: CpuSnapshot): number => {
  const { user, system } = cpuSplitBetween(before, after);
  return user + system;
};

export interface MemoryUse {
  /** Resident set size, bytes, summed over the tree. */
  rss: number;
  /** Proportional set size (shared pages split between sharers), bytes; equals rss when the kernel has no smaps_rollup. */
  pss: number;
  processes: number;
  threads: number;
}

const kbField = (text: string, name: string): number | undefined => {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return match?.[1] ? Number(match[1]) * 1024 : undefined;
};

export const memoryOf = (roots: number[]): MemoryUse => {
  const use: MemoryUse = { rss: 0, pss: 0, processes: 0, threads: 0 };
  for (const pid of processTree(roots)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const rss = kbField(status, 'VmRSS') ?? 0;
      let pss = rss;
      try {
        pss = kbField(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss') ?? rss;
      } catch {
        // no smaps_rollup on this kernel
      }
      use.rss += rss;
      use.pss += pss;
      use.processes += 1;
      use.threads += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
    } catch {
      // exited while we looked
    }
  }
  return use;
};

/** Open file descriptors of one process (not its children). */
export const fdCount = (pid: number): number => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
};

/** The soft limit on open files of this process. */
export const openFileLimit = (): number => {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return match?.[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match?.[1] ?? 1024);
};
