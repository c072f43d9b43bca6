/**
 * Interactive latency (issue 24): per path and transport, p50 and p99 of
 *   (a) a one-byte echo,
 *   (b) an answer in two small writes 2 ms apart (the delayed-ACK trap),
 *   (c) a new HTTPS request (CONNECT or SOCKS5 or a forward, TLS, GET) while the tunnel's
 *       connection to the gateway is already warm,
 * directly, through the seed's stunnel + Squid, and through Pinhole: `pinhole connect`'s local
 * proxy (HTTP CONNECT and SOCKS5) and `pinhole forward -L` (TCP; stdio on h2), on h2, h1 and wss.
 * The floor row is two plain Node TCP relays in a chain (bench/plain-relay.ts, two processes as
 * Pinhole's client and gateway are): what any two-process Node path costs before TLS or HTTP/2.
 * Everything is on loopback, in the same run; it brings its own gateway, clients and seed stack.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { startClient } from '../test/support/client.js';
import { startGateway } from '../test/support/gateway.js';
import { listenPortOf, pinholeBin, Program, repoRoot, type Peers } from '../test/support/processes.js';
import { startSeedStack } from '../test/support/seed.js';
import { socksConnect } from '../test/support/socks-client.js';
import { startTwoWriteServer, timeExchanges, type ExchangeKind } from '../test/support/two-write-server.js';
import { fetchAndDiscard, openStream, originTls, type OriginTrust, type Route } from './load.js';
import { startPlainRelay } from './port443.js';
import { judge, renderTable, type FigureRow, type Target } from './report.js';

export interface LatencyOptions {
  originPort: number;
  trust: OriginTrust;
  /** Exchanges per path for (a) and (b). */
  exchanges: number;
  /** New requests per path for (c). */
  requests: number;
  say: (text: string) => void;
}

interface Percentiles {
  p50: number;
  p99: number;
}

export interface LatencyPath {
  /** `direct`, the floor, `seed`, `connect`, `socks5`, `forward`, `forward stdio`. */
  path: string;
  transport: string;
  echo?: Percentiles;
  twoWrites?: Percentiles;
  newRequest?: Percentiles;
  error?: string;
}

/** Nearest-rank percentile. */
export const percentile = (values: number[], p: number): number => {
  const sorted = [...values].filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
};

const percentiles = (values: number[]): Percentiles => ({ p50: percentile(values, 50), p99: percentile(values, 99) });

/** How one path reaches a target port: a fresh stream each call. */
type Opener = (targetPort: number) => Promise<Duplex>;

const SEED_USER = { name: 'test', password: 'qY8kd0Cf' };
const FLOOR = 'floor: two Node TCP relays';
const TRANSPORTS = ['h2', 'h1', 'wss'] as const;

const routeOpener = (route: Route): Opener => (port) => openStream(route, port);

const newRequest = async (open: Opener, originPort: number, trust: OriginTrust): Promise<number> => {
  const started = process.hrtime.bigint();
  const secure = await originTls((await open(originPort)) as Socket, trust);
  const result = await fetchAndDiscard(secure, '/hello', 30_000);
  if (result.status !== 200) throw new Error(`GET /hello answered ${result.status}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
};

/** A forward's local ports, by target port, from its "The forward is listening." lines. */
const startForward = async (peers: Peers, transport: string, link: string, targets: number[]): Promise<Map<number, number>> => {
  const args = ['forward', ...targets.flatMap((t) => ['-L', `127.0.0.1:0:127.0.0.1:${t}`]), link, '--transport', transport, '--log-format', 'json'];
  const program = peers.add(new Program(pinholeBin, { name: `forward-${transport}`, args }));
  const ports = new Map<number, number>();
  for (const target of targets) {
    const line = await program.waitForLog((r) => r.msg === 'The forward is listening.' && r['target'] === `127.0.0.1:${target}`, 30_000, `the forward to ${target} listening`);
    ports.set(target, listenPortOf(line));
  }
  return ports;
};

const forwardOpener = (ports: Map<number, number>): Opener => async (target) => {
  const port = ports.get(target);
  if (port === undefined) throw new Error(`no forward to ${target}`);
  const socket = netConnect({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  return socket;
};

/** `pinhole forward -L stdio:` as an SSH ProxyCommand runs it: one process, its stdin and stdout the stream. */
const stdioForward = (peers: Peers, link: string, target: number): Duplex => {
  const child = spawn(pinholeBin, ['forward', '-L', `stdio:127.0.0.1:${target}`, link], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'ignore'] });
  const exited = once(child, 'exit');
  peers.add({ stop: () => (child.exitCode === null ? (child.kill('SIGTERM'), exited) : undefined) });
  const stream = Duplex.from({ readable: child.stdout, writable: child.stdin });
  stream.on('error', () => undefined);
  return stream;
};

export const measureInteractiveLatency = async (peers: Peers, options: LatencyOptions): Promise<{ rows: FigureRow[]; targets: Target[]; paths: LatencyPath[]; table: string }> => {
  const { say, originPort, trust } = options;
  const server = peers.add(await startTwoWriteServer());
  const allowed = [server.port, originPort];
  say('latency: starting a gateway, a client per transport, forwards and the seed stack for the interactive figures');
  const gateway = peers.add(await startGateway({ restrictTo: allowed.map((p) => `127.0.0.1:${p}`) }));
  const link = await gateway.provision();
  // openStream's direct route connects to route.port: each target is its own route.
  const openers: Array<{ path: string; transport: string; open: Opener }> = [{ path: 'direct', transport: '-', open: (port) => openStream({ kind: 'direct', port }, port) }];
  const floor = new Map<number, number>();
  for (const target of allowed) floor.set(target, await startPlainRelay(peers, await startPlainRelay(peers, target, `plain-relay-${target}-b`), `plain-relay-${target}-a`));
  openers.push({ path: FLOOR, transport: '-', open: (port) => openStream({ kind: 'direct', port: floor.get(port) ?? port }, port) });
  const seed = await startSeedStack({ users: [SEED_USER], connectPorts: allowed }).then((s) => peers.add(s), (err: unknown) => err as Error);
  if (seed instanceof Error) say(`latency: the seed stack did not start: ${seed.message.split('\n')[0]}`);
  else openers.push({ path: 'seed (stunnel + Squid)', transport: 'h1', open: routeOpener({ kind: 'proxy', port: seed.port, auth: { user: SEED_USER.name, password: SEED_USER.password } })});
  for (const transport of TRANSPORTS) {
    const client = peers.add(await startClient({ link, extraArgs: ['--transport', transport], name: `pinhole-${transport}` }));
    openers.push({ path: 'connect: HTTP CONNECT', transport, open: routeOpener({ kind: 'proxy', port: client.port })});
    openers.push({ path: 'connect: SOCKS5', transport, open: (port) => socksConnect(client.port, '127.0.0.1', port)});
    const forwards = await startForward(peers, transport, link, allowed);
    openers.push({ path: 'forward -L', transport, open: forwardOpener(forwards)});
  }

  // The ProxyCommand shape: one process per connection, on the default transport (no new requests).
  const stdio = { path: 'forward -L stdio', transport: 'h2', open: async (): Promise<Duplex> => stdioForward(peers, link, server.port) };
  // Rounds: each times one exchange on every path, so the machine's other load falls on all of them
  // alike instead of on whichever path was being measured at the time. The order is shuffled every
  // round: in a fixed order the path timed right after direct or the seed (while Pinhole's
  // processes sat idle) paid their wake-up every time, 0.5-1.5 ms on a loaded machine.
  const lanes: Array<{ entry: LatencyPath; open: Opener; stream?: Duplex; times: Record<ExchangeKind | 'newRequest', number[]> }> = [];
  for (const { path, transport, open } of [...openers, stdio]) {
    const lane = { entry: { path, transport } as LatencyPath, open, times: { echo: [], twoWrites: [], newRequest: [] } };
    try {
      const stream = await open(server.port);
      // Warm the path (JIT, windows) before timing it.
      await timeExchanges(stream, 'echo', 5, 60_000);
      lanes.push({ ...lane, stream });
    } catch (err) {
      lanes.push(failed(lane, err, say));
    }
  }
  const rounds = async (count: number, each: (lane: (typeof lanes)[number]) => Promise<void>): Promise<void> => {
    for (let i = 0; i < count; i += 1) {
      for (const lane of shuffled(lanes)) {
        if (lane.entry.error !== undefined) continue;
        try {
          await each(lane);
        } catch (err) {
          failed(lane, err, say);
        }
      }
    }
  };
  for (const kind of ['echo', 'twoWrites'] as const) {
    await rounds(options.exchanges, async (lane) => void lane.times[kind].push(...(await timeExchanges(lane.stream as Duplex, kind, 1))));
  }
  for (const lane of lanes) lane.stream?.destroy();
  const requesting = lanes.filter((lane) => lane.entry.path !== stdio.path);
  for (const lane of requesting) await newRequest(lane.open, originPort, trust).catch((err: unknown) => failed(lane, err, say));
  await rounds(options.requests, async (lane) => {
    if (lane.entry.path !== stdio.path) lane.times.newRequest.push(await newRequest(lane.open, originPort, trust));
  });
  const paths = lanes.map(({ entry, times }) => {
    const measured: LatencyPath = { ...entry };
    if (times.echo.length > 0) measured.echo = percentiles(times.echo);
    if (times.twoWrites.length > 0) measured.twoWrites = percentiles(times.twoWrites);
    if (times.newRequest.length > 0) measured.newRequest = percentiles(times.newRequest);
    say(`  ${measured.path} ${measured.transport}: echo ${fmt(measured.echo)}, two writes ${fmt(measured.twoWrites)}, new request ${fmt(measured.newRequest)}`);
    return measured;
  });
  return { ...judgeLatency(paths), paths, table: renderLatency(paths) };
};

/** A copy of `items` in random order (Fisher-Yates). */
const shuffled = <T>(items: readonly T[]): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
};

/** Marks a lane failed (its first error is kept) and stops timing it. */
const failed = <L extends { entry: LatencyPath }>(lane: L, err: unknown, say: (text: string) => void): L => {
  if (lane.entry.error === undefined) {
    lane.entry.error = (err as Error).message.split('\n')[0] ?? String(err);
    say(`latency: ${lane.entry.path} (${lane.entry.transport}) failed: ${lane.entry.error}`);
  }
  return lane;
};

const fmt = (p: Percentiles | undefined): string => (p === undefined ? '-' : `${p.p50.toFixed(2)} / ${p.p99.toFixed(2)} ms`);

const isPinhole = (p: LatencyPath): boolean => p.path !== 'direct' && p.path !== FLOOR && !p.path.startsWith('seed');

/** The targets, each judged on the worst Pinhole path. */
export const judgeLatency = (paths: LatencyPath[]): { rows: FigureRow[]; targets: Target[] } => {
  const direct = paths.find((p) => p.path === 'direct');
  const seed = paths.find((p) => p.path.startsWith('seed'));
  const pinhole = paths.filter(isPinhole);
  const worst = (pick: (p: LatencyPath) => number): { value: number; at: string } => {
    let value = Number.NaN;
    let at = '-';
    for (const p of pinhole) {
      const v = pick(p);
      if (Number.isFinite(v) && !(v <= value)) {
        value = v;
        at = `${p.path} ${p.transport}`;
      }
    }
    return { value, at };
  };
  const p50Over = (kind: 'echo' | 'twoWrites'): Target => {
    const base = direct?.[kind]?.p50 ?? Number.NaN;
    const w = worst((p) => p[kind]?.p50 ?? Number.NaN);
    const over = w.value - base;
    return judge(`latency-${kind}`, `${kind === 'echo' ? '(a) one-byte echo' : '(b) two-write answer'}: p50 <= direct + 1 ms, every local proxy and forward path`, over, '<=', 1, `+${over.toFixed(2)} ms (worst: ${w.at}, ${w.value.toFixed(2)} ms; direct ${base.toFixed(2)} ms)`);
  };
  const p99 = worst((p) => Math.max(p.echo?.p99 ?? Number.NaN, p.twoWrites?.p99 ?? Number.NaN, p.newRequest?.p99 ?? Number.NaN));
  const newBase = direct?.newRequest?.p50 ?? Number.NaN;
  const newWorst = worst((p) => p.newRequest?.p50 ?? Number.NaN);
  const newRatio = newWorst.value / newBase;
  const h2 = pinhole.find((p) => p.path === 'connect: HTTP CONNECT' && p.transport === 'h2');
  const row = (key: string, label: string, pick: (p: LatencyPath | undefined) => number | undefined): FigureRow => {
    const values = { direct: pick(direct), seed: pick(seed), pinhole: pick(h2) };
    return { key, label, unit: 'ms', better: 'lower', ...Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && Number.isFinite(v))) };
  };
  return {
    rows: [
      row('latencyEcho', 'one-byte echo p50 (pinhole: CONNECT, h2)', (p) => p?.echo?.p50),
      row('latencyTwoWrites', 'two-write answer p50 (pinhole: CONNECT, h2)', (p) => p?.twoWrites?.p50),
      row('latencyNewRequest', 'new HTTPS request, warm tunnel, p50 (pinhole: CONNECT, h2)', (p) => p?.newRequest?.p50),
    ],
    targets: [
      p50Over('echo'),
      p50Over('twoWrites'),
      judge('latency-p99', 'no Pinhole path has a p99 at or above 40 ms', p99.value, '<=', 39.999, `${p99.value.toFixed(2)} ms (worst: ${p99.at})`),
      judge('latency-new', '(c) new HTTPS request through a warm tunnel <= 1.3x direct', newRatio, '<=', 1.3, `${newRatio.toFixed(2)}x (worst: ${newWorst.at}, ${newWorst.value.toFixed(2)} ms; direct ${newBase.toFixed(2)} ms)`),
    ],
  };
};

export const renderLatency = (paths: LatencyPath[]): string => {
  const header = ['path', 'transport', '(a) echo p50 / p99', '(b) two writes p50 / p99', '(c) new HTTPS request p50 / p99'];
  const rows = paths.map((p) => [p.error ? `${p.path} (FAILED: ${p.error.slice(0, 60)})` : p.path, p.transport, fmt(p.echo), fmt(p.twoWrites), fmt(p.newRequest)]);
  return renderTable(header, rows);
};
