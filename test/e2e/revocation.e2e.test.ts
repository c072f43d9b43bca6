/**
 * Issue 18.3 and 18.4, with real programs: two `pinhole-gateway run` sharing a real redis-server
 * (each in its own directory, so only Redis carries the news between them; a third started later), `pinhole-gateway revoke` / `user disable` /
 * `user enable` / `sessions` as an operator types them. A revocation ends the user's open tunnels
 * on both gateways (the tunnels' 'close' is the event waited for) and refuses new ones with 403
 * PINHOLE_CREDENTIAL_REVOKED, also on the gateway started afterwards; a users-file user whose name
 * is the same e-mail is left alone (its own namespace). Without Redis, the one gateway hears it
 * through its files; with a Redis that hangs, no tunnel waits and the CLI says the fleet was not told.
 */
import assert from 'node:assert/strict';
import { appendFile, copyFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../shared/log.js';
import { TunnelCredentials } from '../../gateway/identity/credentials.js';
import { gatewayCommand, startGateway, type GatewayUser, type RunningGateway } from '../support/gateway.js';
import { Peers, explainFailure, freePort, gatewayBin, runCommand, type LogRecord } from '../support/processes.js';
import { basicAuth, openTunnel } from '../support/proxy-requests.js';
import { startRedis } from '../support/redis.js';

const ALICE: GatewayUser = { name: 'alice', password: 'alice pass 1' };
/** A users-file user whose name is the identity provider user's e-mail: the namespaces must not mix. */
const NAMESAKE: GatewayUser = { name: 'alice@example.com', password: 'namesake pass 2' };
const OIDC_ALICE = { subject: 'alice-sub', issuer: 'http://127.0.0.1:9/idp', email: 'alice@example.com' };
const REVOKED = 'PINHOLE_CREDENTIAL_REVOKED';
const logger = createLogger({ name: 'test', level: 'silent' });

/** A destination that holds every connection open and echoes: tunnels stay up until someone ends them. */
const startEcho = async (): Promise<{ port: number; stop: () => Promise<void> }> => {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};

/** gateway.yaml's identity block (the issuer is never asked: these tests sign credentials with the fleet's key file, as the exchange does) and the key file. */
const withIdentity = async (dir: string, keysFrom?: string): Promise<void> => {
  const keys = join(dir, 'credential-keys');
  if (keysFrom === undefined) await gatewayCommand(['credential-keys', 'rotate', '--file', keys]);
  else await copyFile(keysFrom, keys);
  await appendFile(join(dir, 'gateway.yaml'), ['identity:', '  issuers:', `    - issuer: ${OIDC_ALICE.issuer}`, '      audience: pinhole', ''].join('\n'));
};

interface Tunnel {
  socket: Socket;
  closed: Promise<void>;
}

const tunnelThrough = async (gw: RunningGateway, target: string, authorization: string): Promise<{ status: number; code: string | undefined; tunnel?: Tunnel }> => {
  const reply = await openTunnel({ proxy: { port: gw.port, tls: { servername: gw.hostname, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] } }, target, headers: { 'proxy-authorization': authorization } });
  const code = reply.headers['pinhole-error'] as string | undefined;
  if (reply.status !== 200) return { status: reply.status, code };
  reply.socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => reply.socket.once('close', () => resolve()));
  return { status: 200, code, tunnel: { socket: reply.socket, closed } };
};

/** The tunnel still carries bytes both ways. */
const echoes = (tunnel: Tunnel): Promise<boolean> =>
  new Promise((resolve) => {
    tunnel.socket.once('data', (d: Buffer) => resolve(d.toString() === 'ping'));
    tunnel.socket.write('ping');
  });

const open = async (gw: RunningGateway, target: string, authorization: string): Promise<Tunnel> => {
  const r = await tunnelThrough(gw, target, authorization);
  assert.equal(r.status, 200, `a tunnel through ${gw.port} (${r.code})`);
  return r.tunnel as Tunnel;
};

const refusedCode = async (gw: RunningGateway, target: string, authorization: string): Promise<string> => {
  const r = await tunnelThrough(gw, target, authorization);
  r.tunnel?.socket.destroy();
  return `${r.status} ${r.code}`;
};

const cli = (args: string[]): ReturnType<typeof runCommand> => runCommand(gatewayBin, { name: 'pinhole-gateway', args });

/** Resolves at the next log record (after those seen so far) that `matches`. */
const nextLog = (gw: RunningGateway, matches: (r: LogRecord) => boolean, what: string): Promise<LogRecord> => {
  const seen = gw.program.records.filter(matches).length;
  return gw.program.waitForLogs(matches, seen + 1, 30_000, what).then((all) => all[all.length - 1] as LogRecord);
};

const SUBSCRIBED = "Listening for the fleet's revocations (Redis).";
const USERS_RELOADED = 'The users file was reloaded.';

test('revoke and user disable end the user\'s tunnels on both gateways sharing Redis, refuse new ones there and on a gateway started later; the namesake users-file user is untouched; sessions lists them', { timeout: 240_000 }, async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const echo = peers.add(await startEcho());
  const redis = peers.add(await startRedis());
  const target = `127.0.0.1:${echo.port}`;
  const adminA = await freePort();
  // The fleet's Redis in gateway.yaml (where the CLI finds it too); the gateway started later gets it as a flag.
  const state = ['--state', redis.url];
  const withState =
    (keysFrom?: string) =>
    async (dir: string): Promise<void> => {
      await withIdentity(dir, keysFrom);
      await appendFile(join(dir, 'gateway.yaml'), `state: ${redis.url}\n`);
    };
  const a = peers.add(await startGateway({ users: [ALICE, NAMESAKE], restrictTo: [target], runArgs: ['--admin', `127.0.0.1:${adminA}`], prepare: withState() }));
  // B has its own directory (its own users and revoked files, the fleet's credential keys): only Redis can tell it.
  const b = peers.add(await startGateway({ users: [ALICE, NAMESAKE], restrictTo: [target], prepare: withState(join(a.dir, 'credential-keys')) }));
  await explainFailure(peers, async () => {
    for (const gw of [a, b]) await gw.program.waitForLog((r) => r.msg === SUBSCRIBED, 30_000, SUBSCRIBED);
    const credentials = new TunnelCredentials(join(a.dir, 'credential-keys'), 3600, 30, logger);
    const bearer = `Bearer ${(await credentials.issue(OIDC_ALICE)).credential}`;
    const basicAlice = basicAuth(ALICE.name, ALICE.password);
    const basicNamesake = basicAuth(NAMESAKE.name, NAMESAKE.password);

    const oidcOnA = await open(a, target, bearer);
    const oidcOnB = await open(b, target, bearer);
    const namesakeOnA = await open(a, target, basicNamesake);
    const aliceOnA = await open(a, target, basicAlice);
    const aliceOnB = await open(b, target, basicAlice);
    assert.ok(await echoes(oidcOnA));

    // The sessions view: the e-mail user and its users-file namesake are two sessions, never a destination.
    const listed = (await (await fetch(`http://127.0.0.1:${adminA}/sessions`)).json()) as { sessions: Array<Record<string, unknown>> };
    const rows = listed.sessions.map((s) => `${String(s['kind'])} ${String(s['user'])} ${String(s['tunnels'])}`).sort();
    assert.deepEqual(rows, ['htpasswd alice 1', 'htpasswd alice@example.com 1', 'oidc alice@example.com 1']);
    const oidcRow = listed.sessions.find((s) => s['kind'] === 'oidc');
    assert.equal(oidcRow?.['subject'], OIDC_ALICE.subject);
    assert.ok(Number(oidcRow?.['bytesUp']) >= 4 && Number(oidcRow?.['bytesDown']) >= 4, JSON.stringify(oidcRow));
    assert.ok(!JSON.stringify(listed).includes(String(echo.port)), 'no destination in the sessions view');
    const json = await cli(['sessions', '--admin', `127.0.0.1:${adminA}`, '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as unknown[]).length, 3);
    const table = await cli(['sessions', '--admin', `127.0.0.1:${adminA}`]);
    assert.match(table.stdout, /^USER\s+KIND\s+SOURCE\s+GATEWAY\s+FOR\s+TUNNELS\s+UP\s+DOWN\s+VIA\s+SESSION$/m);
    assert.match(table.stdout, /^alice@example\.com\s+oidc\s+127\.0\.0\.1\s+\S+\s+\S+\s+1\s+/m);

    // revoke --email: both gateways end the tunnels (the event), new ones are refused with the code.
    const revoke = await cli(['revoke', '--dir', a.dir, '--email', 'alice@example.com']);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match(revoke.stdout, /revoked.*on every gateway of the fleet/);
    await Promise.all([oidcOnA.closed, oidcOnB.closed]);
    assert.equal(await refusedCode(a, target, bearer), `403 ${REVOKED}`);
    assert.equal(await refusedCode(b, target, bearer), `403 ${REVOKED}`);
    assert.ok(await echoes(namesakeOnA), 'the users-file user named alice@example.com keeps its tunnel');
    assert.equal((await open(a, target, basicNamesake)).socket.destroy() !== undefined, true);
    // Refused revoked users are not guessers: no penalty was counted.
    assert.equal(a.program.records.filter((r) => r.msg?.startsWith('Too many wrong passwords') === true).length, 0);

    // A gateway started afterwards, in its own directory (nothing in its files): Redis's deny list refuses.
    const c = peers.add(await startGateway({ users: [ALICE], restrictTo: [target], runArgs: state, prepare: (dir) => withIdentity(dir, join(a.dir, 'credential-keys')) }));
    await c.program.waitForLog((r) => r.msg === 'A revocation is in force: its tunnels end and new ones are refused.' && r['from'] === 'fleet', 30_000, 'the fleet deny list read at start');
    assert.equal(await refusedCode(c, target, bearer), `403 ${REVOKED}`);

    // user disable: the users-file user's tunnels end on both, refused on all three (C's own file still has alice).
    // A reads its users file again after the disable (the mark): waited for here, so the reload
    // awaited after the enable below is the enable's and not this one's, late.
    const disabledOnA = nextLog(a, (r) => r.msg === USERS_RELOADED, 'the users file reloaded on A after the disable');
    const disable = await cli(['user', 'disable', 'alice', '--dir', a.dir]);
    assert.equal(disable.code, 0, disable.stderr);
    await Promise.all([aliceOnA.closed, aliceOnB.closed, disabledOnA]);
    for (const gw of [a, b, c]) assert.equal(await refusedCode(gw, target, basicAlice), `403 ${REVOKED}`);
    assert.equal(await refusedCode(a, target, basicAuth('alice', 'a wrong guess')), '407 undefined', 'a wrong password still reads as one');

    // user enable: the fleet lifts it, and the gateways' users file loses the mark.
    const reloadedA = nextLog(a, (r) => r.msg === USERS_RELOADED, 'the users file reloaded on A');
    const lifted = [a, b, c].map((gw) => nextLog(gw, (r) => r.msg === 'A revocation was lifted.', 'the lift'));
    const enable = await cli(['user', 'enable', 'alice', '--dir', a.dir]);
    assert.equal(enable.code, 0, enable.stderr);
    await Promise.all([reloadedA, ...lifted]);
    for (const gw of [a, b, c]) (await open(gw, target, basicAlice)).socket.destroy();
  });
});

test('without Redis, on the one gateway: revoke and user disable reach it through its files; the CLI says no other gateway was told', { timeout: 180_000 }, async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const echo = peers.add(await startEcho());
  const target = `127.0.0.1:${echo.port}`;
  const gw = peers.add(await startGateway({ users: [ALICE], restrictTo: [target], prepare: (dir) => withIdentity(dir) }));
  await explainFailure(peers, async () => {
    const credentials = new TunnelCredentials(join(gw.dir, 'credential-keys'), 3600, 30, logger);
    const bearer = `Bearer ${(await credentials.issue(OIDC_ALICE)).credential}`;
    const basicAlice = basicAuth(ALICE.name, ALICE.password);
    const oidc = await open(gw, target, bearer);
    const alice = await open(gw, target, basicAlice);

    const revoke = await cli(['revoke', '--dir', gw.dir, '--subject', OIDC_ALICE.subject]);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match(revoke.stdout, /on this gateway .*no other gateway was told/);
    await oidc.closed;
    const line = await gw.program.waitForLog((r) => r['end'] === 'revoked', 15_000, 'the access line of the revoked tunnel');
    assert.equal(line['user'], OIDC_ALICE.email);
    assert.equal(await refusedCode(gw, target, bearer), `403 ${REVOKED}`);
    assert.ok(await echoes(alice), 'another user keeps working');

    const disable = await cli(['user', 'disable', 'alice', '--dir', gw.dir]);
    assert.equal(disable.code, 0, disable.stderr);
    await alice.closed;
    assert.equal(await refusedCode(gw, target, basicAlice), `403 ${REVOKED}`);
    const unknown = await cli(['user', 'disable', 'mallory', '--dir', gw.dir]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no user mallory/);
  });
});

test('a Redis that hangs while revoking: the CLI says the fleet was not told, the gateway beside it refuses anyway, and no tunnel waits for Redis', { timeout: 180_000 }, async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const echo = peers.add(await startEcho());
  const redis = peers.add(await startRedis());
  peers.defer(() => redis.program.signal('SIGCONT'));
  const target = `127.0.0.1:${echo.port}`;
  const gw = peers.add(await startGateway({ users: [ALICE], restrictTo: [target], runArgs: ['--state', redis.url], prepare: (dir) => withIdentity(dir) }));
  const cliState = ['--state', redis.url];
  await explainFailure(peers, async () => {
    await gw.program.waitForLog((r) => r.msg === SUBSCRIBED, 30_000, SUBSCRIBED);
    const credentials = new TunnelCredentials(join(gw.dir, 'credential-keys'), 3600, 30, logger);
    const bearer = `Bearer ${(await credentials.issue(OIDC_ALICE)).credential}`;
    const oidc = await open(gw, target, bearer);
    const basicAlice = basicAuth(ALICE.name, ALICE.password);
    (await open(gw, target, basicAlice)).socket.destroy();

    redis.program.signal('SIGSTOP');
    const revoking = cli(['revoke', '--dir', gw.dir, '--email', OIDC_ALICE.email, ...cliState]);
    // While the CLI waits for the frozen Redis, tunnels open as ever (the success cache; the deny list is in memory).
    const during = await open(gw, target, basicAlice);
    assert.ok(await echoes(during));
    const revoke = await revoking;
    assert.equal(revoke.code, 1);
    assert.match(revoke.stderr, /on this gateway only .*the rest of the fleet was NOT told: Redis at redis:\/\/127\.0\.0\.1:\d+\/?: no answer within 2000 ms\. Run the same command again once Redis answers\./);
    await oidc.closed;
    assert.equal(await refusedCode(gw, target, bearer), `403 ${REVOKED}`);
    assert.ok(await echoes(during), 'the other tunnel never stalled');
    during.socket.destroy();
    redis.program.signal('SIGCONT');
  });
});
