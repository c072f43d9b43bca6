/**
 * Issue 20's benchmark case, "roaming": two `pinhole connect` clients side by side in one client
 * namespace with two uplinks to a gateway namespace (test/support/roaming-netns.ts), one watching
 * the network (the default) and one with `--no-netwatch`, both living through the same events:
 * - a route change: the default route moves to the other uplink and the old address goes (a
 *   laptop leaving one Wi-Fi for another); time from the change to the first successful new request;
 * - the uplink returns: the only uplink down for 30 s (5 s with --quick) and back; time from the
 *   link coming back to the first successful new request;
 * - a resume: both clients stopped (SIGSTOP) for 90 s (5 s with --quick) and continued; time from
 *   SIGCONT to the first successful new request.
 * Each figure is the median and max of `runs`; targets <= 2 s each. A "new request" is what an
 * application does: curl through the local proxy with its own 10 s timeout, tried again at once
 * after a failure until one succeeds.
 */
import { Peers } from '../test/support/processes.js';
import { httpStatusOf, RoamingNetwork, type RoamingClient, type Uplink } from '../test/support/roaming-netns.js';
import { judge, median, type FigureRow, type Target } from './report.js';

export interface RoamingBenchOptions {
  runs: number;
  /** How long the uplink stays down and the clients stay stopped. */
  downMs: number;
  stoppedMs: number;
  say: (text: string) => void;
}

export interface RoamingBenchResult {
  rows: FigureRow[];
  targets: Target[];
  details: Record<string, unknown>;
}

const since = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e6;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** New requests until one succeeds; the time from `started` to that success (NaN after `budgetMs`). */
const firstSuccess = async (network: RoamingNetwork, client: RoamingClient, started: bigint, budgetMs = 60_000): Promise<number> => {
  while (since(started) < budgetMs) {
    const result = await network.curl(client, '/hello', 10);
    if (result.code === 0 && httpStatusOf(result) === '200') return since(started);
  }
  return Number.NaN;
};

/** Both clients answer (between runs: the previous event is fully over). */
const bothHealthy = async (network: RoamingNetwork, clients: RoamingClient[]): Promise<void> => {
  for (const client of clients) {
    const took = await firstSuccess(network, client, process.hrtime.bigint(), 120_000);
    if (Number.isNaN(took)) throw new Error(`${client.program.name} did not recover between runs`);
  }
};

const stats = (values: number[]): { median: number; max: number } => ({ median: median(values), max: Math.max(...values) });

export const measureRoaming = async (options: RoamingBenchOptions): Promise<RoamingBenchResult> => {
  const peers = new Peers();
  try {
    const network = await RoamingNetwork.start(peers);
    const watching = await network.startClient([], 'pinhole-netwatch');
    const blind = await network.startClient(['--no-netwatch'], 'pinhole-no-netwatch');
    const clients = [watching, blind];
    const measure = (started: bigint): Promise<number[]> => Promise.all(clients.map((client) => firstSuccess(network, client, started)));
    const runs = { route: [[], []], uplink: [[], []], resume: [[], []] } as Record<'route' | 'uplink' | 'resume', [number[], number[]]>;
    const record = (what: keyof typeof runs, values: number[]): void => {
      runs[what][0].push(values[0] as number);
      runs[what][1].push(values[1] as number);
    };
    await bothHealthy(network, clients);

    options.say(`roaming: the default route moves to the other uplink, the old address gone (${options.runs} runs)`);
    let on: Uplink = 'up1';
    for (let run = 0; run < options.runs; run++) {
      const next: Uplink = on === 'up1' ? 'up2' : 'up1';
      const started = process.hrtime.bigint();
      await network.useUplink(next);
      await network.dropAddress(on);
      record('route', await measure(started));
      await network.restoreAddress(on);
      on = next;
      await bothHealthy(network, clients);
    }

    options.say(`roaming: the only uplink down for ${options.downMs / 1000} s and back (${options.runs} runs)`);
    for (let run = 0; run < options.runs; run++) {
      await network.setLink(on, 'down');
      // The scenario: the link stays down this long.
      await pause(options.downMs);
      const started = process.hrtime.bigint();
      await network.setLink(on, 'up');
      await network.useUplink(on);
      record('uplink', await measure(started));
      await bothHealthy(network, clients);
    }

    options.say(`roaming: both clients stopped for ${options.stoppedMs / 1000} s and continued (${options.runs} runs)`);
    for (let run = 0; run < options.runs; run++) {
      const pids = clients.map((client) => client.program.pid as number);
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      await pause(options.stoppedMs);
      const started = process.hrtime.bigint();
      for (const pid of pids) process.kill(pid, 'SIGCONT');
      record('resume', await measure(started));
      await bothHealthy(network, clients);
    }

    const labels = { route: 'route change', uplink: `uplink back after ${options.downMs / 1000} s down`, resume: `resume after ${options.stoppedMs / 1000} s stopped` } as const;
    const rows: FigureRow[] = [];
    const targets: Target[] = [];
    for (const what of ['route', 'uplink', 'resume'] as const) {
      const [withWatch, without] = runs[what];
      const a = stats(withWatch);
      const b = stats(without);
      rows.push({
        key: `roaming_${what}`,
        label: `${labels[what]} to the first successful new request; direct = --no-netwatch, pinhole = netwatch (median; max ${a.max.toFixed(0)} vs ${b.max.toFixed(0)} ms)`,
        unit: 'ms',
        better: 'lower',
        direct: b.median,
        pinhole: a.median,
        runs: { direct: without, pinhole: withWatch },
        compareTo: 'direct',
      });
      targets.push(judge(`roaming_${what}`, `issue 20: ${labels[what]}, first successful new request <= 2 s (max of ${options.runs})`, a.max, '<=', 2_000, `median ${a.median.toFixed(0)} ms, max ${a.max.toFixed(0)} ms (--no-netwatch: median ${b.median.toFixed(0)}, max ${b.max.toFixed(0)} ms)`));
    }
    return { rows, targets, details: { runs, downMs: options.downMs, stoppedMs: options.stoppedMs } };
  } finally {
    await peers.close();
  }
};
