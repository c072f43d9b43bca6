/**
 * The renderer's one view of the engine: the latest status, stats, throughput history, log tail,
 * apps, settings and profiles, kept current from the contract's events (with a slow poll for
 * stats so the sparkline moves even between engine events).
 */
import { useEffect, useState } from 'react';
import type { AppList, Client, Info, ProfileList, UiSettings } from '../shared/contract.js';
import type { EngineStats, EngineStatus, LogLine } from '../shared/engine-api.js';

export interface ThroughputSample {
  time: number;
  /** Bytes per second, both directions. */
  rate: number;
}

export interface EngineState {
  status: EngineStatus | undefined;
  stats: EngineStats | undefined;
  throughput: ThroughputSample[];
  log: LogLine[];
  apps: AppList | undefined;
  settings: UiSettings | undefined;
  profiles: ProfileList | undefined;
  info: Info | undefined;
}

const MAX_LOG = 2000;
const MAX_SAMPLES = 60;

export const useEngineState = (client: Client): [EngineState, () => Promise<void>] => {
  const [state, setState] = useState<EngineState>({
    status: undefined,
    stats: undefined,
    throughput: [],
    log: [],
    apps: undefined,
    settings: undefined,
    profiles: undefined,
    info: undefined,
  });

  const refreshInfo = async (): Promise<void> => {
    const info = await client.getInfo();
    setState((s) => ({ ...s, info }));
  };

  useEffect(() => {
    // Throughput is sampled once a second from the poll below, so every point covers the same span.
    let last: { time: number; bytes: number } | undefined;
    const addStats = (stats: EngineStats): void => setState((s) => ({ ...s, stats }));
    const sample = (stats: EngineStats): void => {
      const now = Date.now();
      const bytes = stats.bytesUp + stats.bytesDown;
      const previous = last;
      last = { time: now, bytes };
      setState((s) => {
        if (!previous || now <= previous.time) return { ...s, stats };
        const rate = Math.max(0, ((bytes - previous.bytes) * 1000) / (now - previous.time));
        return { ...s, stats, throughput: [...s.throughput, { time: now, rate }].slice(-MAX_SAMPLES) };
      });
    };
    const disposers = [
      client.on('status', (status) => {
        setState((s) => ({ ...s, status }));
        void client.getInfo().then((info) => setState((s) => ({ ...s, info })), () => undefined);
      }),
      client.on('stats', addStats),
      client.on('log', (line) => setState((s) => (s.log.some((l) => l.seq === line.seq) ? s : { ...s, log: [...s.log, line].slice(-MAX_LOG) }))),
      client.on('apps', (apps) => setState((s) => ({ ...s, apps }))),
      client.on('settings', (settings) => setState((s) => ({ ...s, settings }))),
      client.on('profiles', (profiles) => setState((s) => ({ ...s, profiles }))),
    ];
    void Promise.all([client.getStatus(), client.getStats(), client.getLog({}), client.getApps(), client.getSettings(), client.listProfiles(), client.getInfo()]).then(
      ([status, stats, log, apps, settings, profiles, info]) => {
        sample(stats);
        // Events may have arrived while these were in flight; they are newer, so they win.
        const loaded = new Set(log.lines.map((line) => line.seq));
        setState((s) => ({
          ...s,
          status: s.status ?? status,
          apps: s.apps ?? apps,
          settings: s.settings ?? settings,
          profiles: s.profiles ?? profiles,
          info: s.info ?? info,
          log: [...log.lines, ...s.log.filter((line) => !loaded.has(line.seq))].slice(-MAX_LOG),
        }));
      },
      () => undefined,
    );
    const timer = setInterval(() => {
      void client.getStats().then(sample, () => undefined);
    }, 1000);
    return () => {
      clearInterval(timer);
      for (const dispose of disposers) dispose();
    };
  }, [client]);

  return [state, refreshInfo];
};

export const formatBytes = (bytes: number): string => {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
};
