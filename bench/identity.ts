/**
 * Issue 18's figures, part of `--only auth`: two gateways in their own directories sharing a real
 * redis-server and the fleet's credential keys, an origin that holds tunnels open.
 * - The cost of a tunnel credential per new tunnel: the time from writing a CONNECT (TLS already
 *   up, a fresh connection each) to its 200, with `Bearer CREDENTIAL` (verified offline each time)
 *   over `Basic` for a user already in the success cache, alternating (target <= 1.2x).
 * - Revocation latency, 20 times: a user holds one tunnel on each gateway; from the fleet control
 *   call (what `pinhole-gateway revoke` does once started) to both tunnels closed (target <= 5 s,
 *   median and max). The call's local side does nothing here, so only Redis carries the news.
 */
import { appendFile, copyFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { createLogger } from '../shared/log.js';
import { FleetControl } from '../gateway/control/fleet-control.js';
import { TunnelCredentials } from '../gateway/identity/credentials.js';
import { gatewayCommand, startGateway, type GatewayUser, type RunningGateway } from '../test/support/gateway.js';
import type { Peers } from '../test/support/processes.js';
import { basicAuth, connectToProxy, readReply } from '../test/support/proxy-requests.js';
import { startRedis } from '../test/support/redis.js';
import { judge, median, ratio, type FigureRow, type Target } from './report.js';

export interface IdentityBenchOptions {
  /** Tunnel-open samples per kind (Basic, Bearer). */
  samples: number;
  /** Revocations measured. */
  revocations: number;
  say: (text: string) => void;
}

const USER: GatewayUser = { name: 'bench-user', password: 'bench user pass 1' };
const ISSUER = 'http://127.0.0.1:9/idp';
const logger = createLogger({ name: 'bench', level: 'silent' });

const holdServer = async (): Promise<{ port: number; stop: () => Promise<void> }> => {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};

const tlsTo = (gw: RunningGateway): { port: number; tls: ConnectionOptions } => ({ port: gw.port, tls: { servername: gw.hostname, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] } });

/** A CONNECT on a fresh TLS connection: the ms from writing it to the complete reply head, and the socket (open on 200). */
const connectTimed = async (gw: RunningGateway, target: string, authorization: string): Promise<{ ms: number; status: number; socket: Socket }> => {
  const socket = await connectToProxy(tlsTo(gw));
  socket.on('error', () => undefined);
  const reply = readReply(socket, 20_000, true);
  const started = process.hrtime.bigint();
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${authorization}\r\n\r\n`);
  const { status } = await reply;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (status !== 200) socket.destroy();
  return { ms, status, socket };
};

export async function measureIdentity(peers: Peers, { samples, revocations, say }: IdentityBenchOptions): Promise<{ rows: FigureRow[]; targets: Target[]; details: Record<string, unknown> }> {
  say('auth (identity): a real redis-server, two gateways in their own directories sharing it and the credential keys, an origin holding tunnels open');
  const redis = peers.add(await startRedis());
  const origin = peers.add(await holdServer());
  const target = `127.0.0.1:${origin.port}`;
  const prepare = (keysFrom?: string) => async (dir: string) => {
    const keys = join(dir, 'credential-keys');
    if (keysFrom === undefined) await gatewayCommand(['credential-keys', 'rotate', '--file', keys]);
    else await copyFile(keysFrom, keys);
    await appendFile(join(dir, 'gateway.yaml'), ['identity:', '  issuers:', `    - issuer: ${ISSUER}`, '      audience: pinhole', `state: ${redis.url}`, ''].join('\n'));
  };
  const a = peers.add(await startGateway({ users: [USER], restrictTo: [target], prepare: prepare() }));
  const keysFile = join(a.dir, 'credential-keys');
  const b = peers.add(await startGateway({ users: [USER], restrictTo: [target], prepare: prepare(keysFile) }));
  for (const gw of [a, b]) await gw.program.waitForLog((r) => r.msg === "Listening for the fleet's revocations (Redis).", 30_000, 'the control subscription');
  const credentials = new TunnelCredentials(keysFile, 3600, 30, logger);

  say(`auth (identity): ${samples} new tunnels each with Basic (success cache) and Bearer (a tunnel credential), alternating`);
  const basic = basicAuth(USER.name, USER.password);
  const bearer = `Bearer ${(await credentials.issue({ subject: 'bench-sub', issuer: ISSUER, email: 'bench@example.com' })).credential}`;
  // Warm: the success cache, the JIT of both paths.
  for (let i = 0; i < 5; i++) for (const auth of [basic, bearer]) (await connectTimed(a, target, auth)).socket.destroy();
  const basicMs: number[] = [];
  const bearerMs: number[] = [];
  for (let i = 0; i < samples * 2; i++) {
    const useBearer = i % 2 === 1;
    const r = await connectTimed(a, target, useBearer ? bearer : basic);
    r.socket.destroy();
    if (r.status !== 200) throw new Error(`a ${useBearer ? 'Bearer' : 'Basic'} tunnel got ${r.status}`);
    (useBearer ? bearerMs : basicMs).push(r.ms);
  }

  say(`auth (identity): ${revocations} revocations, each ending one tunnel on each gateway through Redis`);
  const control = new FleetControl({
    state: redis.url,
    lifetimeSeconds: 3600,
    local: { revoke: () => Promise.resolve(), restore: () => Promise.resolve(), disconnect: () => Promise.resolve(false) },
  });
  const latencies: number[] = [];
  for (let i = 0; i < revocations; i++) {
    const subject = `bench-revoked-${i}-${Date.now()}`;
    const credential = `Bearer ${(await credentials.issue({ subject, issuer: ISSUER })).credential}`;
    const held = await Promise.all([a, b].map((gw) => connectTimed(gw, target, credential)));
    if (held.some((h) => h.status !== 200)) throw new Error('a tunnel to be revoked was refused');
    const closed = held.map((h) => new Promise<void>((resolve) => (h.socket.destroyed ? resolve() : h.socket.once('close', () => resolve()))));
    const started = process.hrtime.bigint();
    const outcome = await control.revokeSubject(subject);
    if (outcome.fleet !== 'sent') throw new Error(`the revocation did not reach Redis: ${outcome.reason ?? outcome.fleet}`);
    await Promise.all(closed);
    latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
  }

  const cost = ratio(median(bearerMs), median(basicMs));
  const worst = Math.max(...latencies);
  const rows: FigureRow[] = [
    { key: 'authCredential', label: 'new tunnel: Basic from the success cache (direct col) / Bearer credential (pinhole col)', unit: 'ms', better: 'lower', direct: median(basicMs), pinhole: median(bearerMs), compareTo: 'direct', runs: { direct: basicMs, pinhole: bearerMs } },
    { key: 'authRevocation', label: `revocation to both gateways' tunnels closed (median; max in note), ${latencies.length} runs`, unit: 'ms', better: 'lower', pinhole: median(latencies), runs: { pinhole: latencies }, note: `max ${worst.toFixed(1)} ms` },
  ];
  const targets: Target[] = [
    judge('authCredential', 'new tunnel with a tunnel credential <= 1.2x the htpasswd success-cache path', cost, '<=', 1.2, `${cost.toFixed(2)}x (${median(basicMs).toFixed(2)} -> ${median(bearerMs).toFixed(2)} ms)`),
    judge('authRevocation', 'revocation ends the tunnels on both gateways <= 5 s (max of the runs)', worst / 1000, '<=', 5, `median ${median(latencies).toFixed(1)} ms, max ${worst.toFixed(1)} ms over ${latencies.length}`),
  ];
  return { rows, targets, details: { basicMs, bearerMs, cost, revocationMs: latencies } };
}
