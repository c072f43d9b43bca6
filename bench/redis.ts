/**
 * Issue 28's Redis case: what a Redis that hangs (SIGSTOP) costs a new user. One gateway with
 * `--state` on a real redis-server; each sample is a user's first request (TLS, then HTTP/1.1
 * CONNECT with the right password: penalties consulted, the password checked, the pair's failures
 * forgotten), timed from writing the CONNECT to its 200. Samples with Redis up, then with Redis
 * frozen (the first of them pays the breaker's one deadline; the median is what every later user
 * pays). Target: frozen / up <= 1.5x. A wrong password for an unknown user (a password check that
 * also counts a failure) is reported beside it. Last, issue 28.10's figure: SIGTERM to exit with a
 * tunnel open and Redis frozen again (target: the drain deadline plus one second).
 */
import type { ConnectionOptions } from 'node:tls';
import { startGateway, type GatewayUser } from '../test/support/gateway.js';
import type { Peers } from '../test/support/processes.js';
import { basicAuth, connectToProxy, openTunnel, readReply } from '../test/support/proxy-requests.js';
import { startRedis } from '../test/support/redis.js';
import { judge, median, ratio, type FigureRow, type Target } from './report.js';

export interface RedisOptions {
  originPort: number;
  /** First requests per phase (each a user of its own). */
  samples: number;
  say: (text: string) => void;
}

export interface RedisResult {
  rows: FigureRow[];
  targets: Target[];
  details: Record<string, unknown>;
}

const FROZEN_LINE = /^Redis at .* stopped answering/;
const DRAIN_SECONDS = 2;

/** Time from writing a CONNECT to its complete answer, TLS already up. */
const connectTime = async (port: number, hostname: string, target: string, user: string, password: string): Promise<{ ms: number; status: number }> => {
  const socket = await connectToProxy({ port, tls: { servername: hostname, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] } as ConnectionOptions });
  try {
    const reply = readReply(socket, 20_000, true);
    const started = process.hrtime.bigint();
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${basicAuth(user, password)}\r\n\r\n`);
    const { status } = await reply;
    return { ms: Number(process.hrtime.bigint() - started) / 1e6, status };
  } finally {
    socket.destroy();
  }
};

export async function measureRedis(peers: Peers, options: RedisOptions): Promise<RedisResult> {
  const { say, samples } = options;
  const target = `127.0.0.1:${options.originPort}`;
  const users: GatewayUser[] = Array.from({ length: 2 * samples + 1 }, (_, i) => ({ name: `user-${i}`, password: `password of user ${i}` }));
  say(`redis: starting redis-server and a gateway with --state and ${users.length} users`);
  const redis = peers.add(await startRedis());
  // A frozen Redis would not take SIGTERM: wake it before it is stopped.
  peers.defer(() => redis.program.signal('SIGCONT'));
  const gateway = peers.add(await startGateway({ users, restrictTo: [target], runArgs: ['--state', redis.url, '--drain-seconds', String(DRAIN_SECONDS)] }));
  await gateway.program.waitForLog((r) => r.msg === 'Penalties are shared through Redis.', 15_000, 'the Redis line');
  const first = async (user: GatewayUser): Promise<number> => {
    const r = await connectTime(gateway.port, gateway.hostname, target, user.name, user.password);
    if (r.status !== 200) throw new Error(`${user.name}'s first request got ${r.status}, not 200`);
    return r.ms;
  };
  const wrong = async (i: number): Promise<number> => (await connectTime(gateway.port, gateway.hostname, target, `nobody-${i}`, 'not it')).ms;
  // Warm the gateway's code paths with Redis up (not sampled).
  await first(users[2 * samples] as GatewayUser);

  say(`redis: ${samples} new users' first requests and wrong passwords, Redis up`);
  const up: number[] = [];
  const wrongUp: number[] = [];
  for (let i = 0; i < samples; i++) {
    up.push(await first(users[i] as GatewayUser));
    wrongUp.push(await wrong(i));
  }

  say(`redis: Redis frozen (SIGSTOP); ${samples} more new users' first requests and wrong passwords`);
  redis.program.signal('SIGSTOP');
  const frozen: number[] = [];
  const wrongFrozen: number[] = [];
  for (let i = 0; i < samples; i++) {
    frozen.push(await first(users[samples + i] as GatewayUser));
    wrongFrozen.push(await wrong(samples + i));
  }
  const opened = gateway.program.records.some((r) => typeof r.msg === 'string' && FROZEN_LINE.test(r.msg));
  redis.program.signal('SIGCONT');
  await gateway.program.waitForLog((r) => r.msg === 'The shared state (Redis) is back; penalties are shared again.', 15_000, 'the Redis back line');

  say(`redis: SIGTERM with a tunnel open and Redis frozen (drain ${DRAIN_SECONDS} s)`);
  const user = users[2 * samples] as GatewayUser;
  const tunnel = await openTunnel({ proxy: { port: gateway.port, tls: { servername: gateway.hostname, rejectUnauthorized: false }, auth: { user: user.name, password: user.password } }, target });
  tunnel.socket.on('error', () => undefined);
  redis.program.signal('SIGSTOP');
  const stopStarted = process.hrtime.bigint();
  const stopStatus = await gateway.program.stop('SIGTERM', 60_000);
  const stopMs = Number(process.hrtime.bigint() - stopStarted) / 1e6;
  tunnel.socket.destroy();
  redis.program.signal('SIGCONT');
  if (stopStatus.code !== 0) throw new Error(`the gateway's stop ended with code=${stopStatus.code} signal=${stopStatus.signal}`);
  const stopLimitMs = DRAIN_SECONDS * 1000 + 1000;

  const slowdown = ratio(median(frozen), median(up));
  const note = `first with Redis frozen ${(frozen[0] ?? Number.NaN).toFixed(1)} ms (pays the deadline); breaker ${opened ? 'opened' : 'did NOT open'}`;
  const rows: FigureRow[] = [
    { key: 'redisFrozenFirst', label: "new user's first request, Redis frozen / Redis up", unit: 'ms', better: 'lower', direct: median(up), pinhole: median(frozen), compareTo: 'direct', runs: { direct: up, pinhole: frozen }, note },
    { key: 'redisFrozenWrong', label: 'wrong password, unknown user, Redis frozen / Redis up', unit: 'ms', better: 'lower', direct: median(wrongUp), pinhole: median(wrongFrozen), compareTo: 'direct', runs: { direct: wrongUp, pinhole: wrongFrozen } },
    { key: 'stopExit', label: `SIGTERM to exit, a tunnel open, Redis frozen (drain ${DRAIN_SECONDS} s)`, unit: 'ms', better: 'lower', pinhole: stopMs },
  ];
  const targets = [
    judge('stopExit', `SIGTERM to exit <= drain + 1 s (${stopLimitMs} ms)`, stopMs, '<=', stopLimitMs, `${stopMs.toFixed(0)} ms`),
    judge('redisFrozenFirst', "new user's first request, Redis frozen <= 1.5x Redis up", slowdown, '<=', 1.5, `${slowdown.toFixed(2)}x (${median(up).toFixed(1)} -> ${median(frozen).toFixed(1)} ms); ${note}`),
  ];
  return { rows, targets, details: { up, frozen, wrongUp, wrongFrozen, opened, slowdown, stopMs } };
}
