/**
 * Reads the `.cpuprofile` files that `node --cpu-prof` wrote and answers "where does the time
 * go": self time per function (name + file:line), largest first.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export interface HotFunction {
  name: string;
  where: string;
  selfMs: number;
  /** Share of all sampled time in this profile, percent. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  /** Sampled time when the thread was not idle. */
  totalMs: number;
  idleMs: number;
  top: HotFunction[];
}

const shortUrl = (url: string): string => url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(/^.*\/work\/main\//, '');

export const summarizeProfile = (profile: CpuProfile, file: string, top = 15): ProfileSummary => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i += 1) {
    const id = samples[i] as number;
    // Each sample's time is the delta to the next one.
    const us = deltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  }
  const perFunction = new Map<string, HotFunction>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const name = node.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const where = node.callFrame.url ? `${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const entry = perFunction.get(key) ?? { name, where, selfMs: 0, percent: 0 };
    entry.selfMs += us / 1000;
    perFunction.set(key, entry);
  }
  const list = [...perFunction.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  for (const entry of list) entry.percent = total > 0 ? (entry.selfMs * 1000 * 100) / total : 0;
  return { file, totalMs: total / 1000, idleMs: idle / 1000, top: list };
};

/** Every profile in `dir`, summarized. */
export const summarizeProfiles = async (dir: string, top = 15): Promise<ProfileSummary[]> => {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  const out: ProfileSummary[] = [];
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    out.push(summarizeProfile(profile, join(dir, file), top));
  }
  // The busiest thread first (the main thread; tsx's loader worker is nearly idle).
  return out.sort((a, b) => b.totalMs - a.totalMs);
};

export const renderProfile = (summary: ProfileSummary, label: string): string =>
  [
    `${label}: ${summary.file} (${summary.totalMs.toFixed(0)} ms busy, ${summary.idleMs.toFixed(0)} ms idle; share of busy time)`,
    ...summary.top.map((f) => `  ${f.percent.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(6)} ms  ${f.name}  ${f.where}`),
  ].join('\n');
