/**
 * `npm run bench -- --only console` (issue 19): how fast the operator console's pages answer with
 * 1,000 users in the users file and 200 live sessions over two gateways, with an hour of fleet
 * history. Each page (the HTML and the JSON each view loads) is asked in turn, signed in, and its
 * p50/p99 printed; the floor beside it is a gateway admin listener's /readyz in the same run.
 * The two gateways are stand-in admin listeners serving a real gateway's /metrics text, /readyz,
 * and a /sessions list of 100 sessions each in the shape the console reads (shared/operator-api.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../shared/log.js';
import type { GatewaySession } from '../shared/operator-api.js';
import { ensureUiBuilt } from '../node/ui-build.js';
import { DEFAULT_PENALTIES } from '../gateway/auth/penalties.js';
import { FleetWatch } from '../gateway/console/fleet-watch.js';
import { startOperatorConsole } from '../gateway/console/server.js';
import { GatewayMetrics } from '../gateway/metrics.js';
import { repoRoot } from '../test/support/processes.js';
import { judge, type FigureRow, type Target } from './report.js';

export interface ConsoleBenchOptions {
  requests: number;
  historyPoints: number;
  say: (line: string) => void;
}

const USERS = 1_000;
const SESSIONS_PER_GATEWAY = 100;
const LIMIT_MS = 100;

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

const standInGateway = async (index: number): Promise<Server> => {
  const metrics = new GatewayMetrics({ defaultMetrics: true });
  const sessions: GatewaySession[] = Array.from({ length: SESSIONS_PER_GATEWAY }, (_, i) => ({
    id: `gw${index}-s${i}`,
    user: `user${(i * 7 + index) % USERS}`,
    client: `198.51.100.${i % 250}`,
    transport: 'h2',
    tunnels: i % 5,
    bytesUp: i * 1000,
    bytesDown: i * 50_000,
    since: Date.now() - i * 60_000,
  }));
  const server = createServer((req, res) => {
    if (req.url === '/readyz') return void res.writeHead(200).end('ready\n');
    if (req.url === '/sessions') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sessions }));
    if (req.url === '/metrics') return void metrics.registry.metrics().then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text));
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
};

const timeGets = async (url: string, headers: Record<string, string>, count: number): Promise<number[]> => {
  const times: number[] = [];
  for (let i = 0; i < count + 5; i++) {
    const started = performance.now();
    const reply = await fetch(url, { headers });
    await reply.arrayBuffer();
    if (reply.status !== 200) throw new Error(`${url} answered ${reply.status}`);
    if (i >= 5) times.push(performance.now() - started); // the first five warm the connection and the JIT
  }
  return times;
};

export const measureConsole = async (options: ConsoleBenchOptions): Promise<{ rows: FigureRow[]; targets: Target[] }> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-bench-console-'));
  const logger = createLogger({ name: 'bench', level: 'silent' });
  const gateways = [await standInGateway(0), await standInGateway(1)];
  const usersFile = join(dir, 'users.htpasswd');
  await writeFile(usersFile, Array.from({ length: USERS }, (_, i) => `user${i}:$2b$10$${String(i).padStart(53, 'a')}\n`).join(''));
  const fleet = new FleetWatch({
    targets: gateways.map((g, i) => ({ name: `gw${i + 1}`, admin: `http://127.0.0.1:${(g.address() as AddressInfo).port}` })),
    intervalMs: 3_600_000,
    timeoutMs: 2_000,
    logger,
  });
  const staticDir = await ensureUiBuilt({ configFile: join(repoRoot, 'vite.operator.config.ts'), outDir: join(repoRoot, 'renderer', 'operator', 'dist'), sources: [join(repoRoot, 'renderer'), join(repoRoot, 'shared')] });
  const running = await startOperatorConsole({
    listen: { host: '127.0.0.1', port: 0 },
    usersFile,
    fleet,
    link: async () => 'pinhole://unused',
    staticDir,
    logger,
    version: 'bench',
    penalties: DEFAULT_PENALTIES,
    tokenLifetimeMs: 60_000,
  });
  try {
    // An hour of history, as a console that has run for one.
    for (let i = 0; i < options.historyPoints; i++) await fleet.poll();
    const signIn = await fetch(running.url, { redirect: 'manual' });
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const floor = await timeGets(`http://127.0.0.1:${(gateways[0]!.address() as AddressInfo).port}/readyz`, {}, options.requests);
    const floorP99 = percentile(floor, 99);
    options.say(`  floor: an admin listener's /readyz p50 ${percentile(floor, 50).toFixed(2)} ms, p99 ${floorP99.toFixed(2)} ms`);
    const rows: FigureRow[] = [];
    const targets: Target[] = [];
    for (const [key, label, path] of [
      ['consolePage', 'the page (index.html)', '/'],
      ['consoleUsers', `users (${USERS} users, per-user sessions)`, '/api/users'],
      ['consoleFleet', `fleet (2 gateways, ${options.historyPoints} points each)`, '/api/fleet'],
      ['consoleSessions', `sessions (${2 * SESSIONS_PER_GATEWAY} live)`, '/api/sessions'],
    ] as const) {
      const times = await timeGets(`${running.origin}${path}`, { cookie }, options.requests);
      const p50 = percentile(times, 50);
      const p99 = percentile(times, 99);
      options.say(`  console ${label}: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (${(p99 / floorP99).toFixed(1)}x the /readyz floor)`);
      rows.push({ key, label: `console: ${label}, p99 (direct: an admin /readyz)`, unit: 'ms', better: 'lower', direct: floorP99, pinhole: p99, runs: { direct: floor, pinhole: times }, compareTo: 'direct', note: `p50 ${p50.toFixed(2)} ms` });
      targets.push(judge(key, `console ${label} answers in under ${LIMIT_MS} ms (p99)`, p99, '<=', LIMIT_MS, `p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`));
    }
    return { rows, targets };
  } finally {
    fleet.stop();
    await running.close();
    for (const g of gateways) await new Promise((resolve) => g.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
};
