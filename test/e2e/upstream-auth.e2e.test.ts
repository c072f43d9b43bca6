/**
 * A corporate network whose proxy wants a user name and password: Debian's Squid with
 * basic_ncsa_auth and an htpasswd file stands between `pinhole connect --upstream-proxy auto` and
 * a real gateway. The credentials come from where users already keep them (https_proxy, GNOME's
 * proxy settings); without them, or with wrong ones, connect stops with a code and a sentence,
 * and the password shows up nowhere in what Pinhole printed. A proxy that only offers
 * Negotiate/NTLM is named as such.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDesktopSession } from '../support/desktop-session.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { explainFailure, listenPortOf, Peers, pinholeBin, Program, waitForFileText, type LogRecord } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';
import { startSquid, type RunningSquid } from '../support/seed.js';

const PROXY_USER = 'bob';
/** Needs percent-encoding in a proxy URL: '@', ':', '/', ' ' and '%'. */
const PROXY_PASSWORD = 'p@ss:w/rd 7% corp';
const WRONG_PASSWORD = 'not-the-proxy-password-42';
const encoded = (user: string, password: string): string => `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;

const peers = new Peers();
let origin: Origin;
let gateway: RunningGateway;
let squid: RunningSquid;
let link: string;

before(async () => {
  origin = peers.add(await startOrigin());
  gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.httpsPort}`] }));
  squid = peers.add(await startSquid({ users: [{ name: PROXY_USER, password: PROXY_PASSWORD }], connectPorts: [gateway.port] }));
  link = await gateway.provision();
});
after(() => peers.close());

/** A headless machine's environment: no desktop, its own config folder, the given proxy variables. */
const headlessEnv = async (proxyVars: Record<string, string>): Promise<NodeJS.ProcessEnv> => {
  const home = await mkdtemp(join(tmpdir(), 'pinhole-upstream-auth-'));
  peers.defer(() => rm(home, { recursive: true, force: true }));
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, PINHOLE_CONFIG_DIR: join(home, 'pinhole'), LANG: 'C.UTF-8', ...proxyVars };
};

const startConnect = (name: string, env: NodeJS.ProcessEnv, upstream = 'auto'): Program => {
  const program = new Program(pinholeBin, { name, args: ['connect', link, '--listen', '127.0.0.1:0', '--upstream-proxy', upstream], env });
  peers.add({ program, stop: () => program.stop('SIGTERM', 15_000) });
  return program;
};

/** Traffic flows through Pinhole, the corporate proxy and the gateway; Squid logged the user. */
const assertTrafficFlows = async (program: Program, credentialsFrom?: string): Promise<void> => {
  const port = listenPortOf(await program.waitForLog((r) => r.msg === 'The local proxy is listening.', 60_000, 'the listening line'));
  if (credentialsFrom !== undefined) {
    const read = program.records.find((r) => r.msg === `The corporate proxy's user name and password were read from ${credentialsFrom}.`);
    assert.equal(read?.proxyUser, PROXY_USER, `the log says where the credentials came from:\n${program.stdout}`);
  }
  const res = await requestThroughProxy({ proxy: { port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'hello from the origin\n');
  assert.deepEqual(await program.stop('SIGTERM', 15_000), { code: 0, signal: null });
  // Squid logs a CONNECT when its tunnel ends, so only now that Pinhole has let go of it.
  const tunnel = new RegExp(`TCP_TUNNEL/200 .*CONNECT 127\\.0\\.0\\.1:${gateway.port} ${PROXY_USER} `);
  const accessLog = await waitForFileText(join(squid.dir, 'access.log'), tunnel, 15_000, "Squid's TCP_TUNNEL line for the gateway");
  assert.match(accessLog, tunnel, 'Squid let the authenticated user through to the gateway');
  assert.ok(!program.transcript().includes(PROXY_PASSWORD) && !program.transcript().includes(encodeURIComponent(PROXY_PASSWORD)), 'the password appears nowhere in the output');
};

/** connect stops with exit 1, the code in the log, and one clear line on stderr. */
const assertRefused = async (program: Program, code: string, sentence: RegExp, secrets: string[]): Promise<LogRecord> => {
  const status = await program.exited;
  assert.equal(status.code, 1, `connect exits 1:\n${program.transcript()}`);
  const record = program.records.find((r) => r.code === code);
  assert.ok(record, `a log line carries ${code}:\n${program.stdout}`);
  assert.match(String(record.msg), sentence);
  // Besides the warning about a link given on the command line, which these tests do on purpose.
  const lines = program.stderr.trim().split('\n').filter((l) => l.startsWith('pinhole connect: ') && !l.startsWith('pinhole connect: warning: '));
  assert.equal(lines.length, 1, `stderr has one pinhole connect line:\n${program.stderr}`);
  const line = lines[0]!;
  assert.match(line, sentence);
  for (const secret of secrets) assert.ok(!program.transcript().includes(secret), 'the password appears nowhere in the output');
  return record;
};

test('with https_proxy=http://user:pass@proxy (percent-encoded), connect signs in to the corporate proxy and traffic flows', async () => {
  await explainFailure(peers, async () => {
    const env = await headlessEnv({ https_proxy: `http://${encoded(PROXY_USER, PROXY_PASSWORD)}@127.0.0.1:${squid.port}` });
    const program = startConnect('pinhole connect (https_proxy with credentials)', env);
    await assertTrafficFlows(program, 'the environment (https_proxy)');
  });
});

test('an explicit --upstream-proxy HOST:PORT signs in with the credentials https_proxy gives for that same proxy', async () => {
  await explainFailure(peers, async () => {
    const env = await headlessEnv({ https_proxy: `http://${encoded(PROXY_USER, PROXY_PASSWORD)}@127.0.0.1:${squid.port}` });
    const program = startConnect('pinhole connect (explicit proxy, credentials from https_proxy)', env, `127.0.0.1:${squid.port}`);
    await assertTrafficFlows(program);
  });
});

test('with the user name and password in the GNOME proxy settings, --upstream-proxy auto signs in and traffic flows', async () => {
  await explainFailure(peers, async () => {
    const session = peers.add(await startDesktopSession({ name: 'upstream-auth', desktop: 'gnome' }));
    for (const schema of ['org.gnome.system.proxy.http', 'org.gnome.system.proxy.https']) {
      await session.gsettings('set', schema, 'host', '127.0.0.1');
      await session.gsettings('set', schema, 'port', String(squid.port));
    }
    await session.gsettings('set', 'org.gnome.system.proxy.http', 'use-authentication', 'true');
    await session.gsettings('set', 'org.gnome.system.proxy.http', 'authentication-user', PROXY_USER);
    await session.gsettings('set', 'org.gnome.system.proxy.http', 'authentication-password', PROXY_PASSWORD);
    await session.gsettings('set', 'org.gnome.system.proxy', 'mode', 'manual');
    const program = startConnect('pinhole connect (GNOME credentials)', { ...session.env, PINHOLE_DESKTOP: 'gnome' });
    await assertTrafficFlows(program, 'the GNOME proxy settings');
  });
});

test('without credentials, connect stops with PINHOLE_UPSTREAM_AUTH_REQUIRED and says where it looked', async () => {
  await explainFailure(peers, async () => {
    const env = await headlessEnv({ https_proxy: `http://127.0.0.1:${squid.port}` });
    const program = startConnect('pinhole connect (no proxy credentials)', env);
    const record = await assertRefused(program, 'PINHOLE_UPSTREAM_AUTH_REQUIRED', new RegExp(`The corporate proxy at 127\\.0\\.0\\.1:${squid.port} wants a user name and password \\(HTTP 407\\), and none was found\\. Pinhole looked in https_proxy, .*GNOME proxy settings`), [PROXY_PASSWORD]);
    assert.deepEqual(record.schemes, ['Basic']);
  });
});

test('with a wrong password, connect stops with PINHOLE_UPSTREAM_AUTH_REJECTED, names the user and never prints the password', async () => {
  await explainFailure(peers, async () => {
    const env = await headlessEnv({ HTTPS_PROXY: `http://${encoded(PROXY_USER, WRONG_PASSWORD)}@127.0.0.1:${squid.port}` });
    const program = startConnect('pinhole connect (wrong proxy password)', env);
    const record = await assertRefused(program, 'PINHOLE_UPSTREAM_AUTH_REJECTED', /rejected the user name "bob" and its password \(HTTP 407\)/, [WRONG_PASSWORD, PROXY_PASSWORD]);
    assert.equal(record.user, PROXY_USER);
  });
});

/** A proxy that wants Kerberos/NTLM: every CONNECT gets a 407 offering Negotiate and NTLM only. */
const startNegotiateOnlyProxy = async (): Promise<{ port: number; stop: () => Promise<void> }> => {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    client.once('data', () => client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\nProxy-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
};

test('a corporate proxy that only offers Negotiate or NTLM gets PINHOLE_UPSTREAM_AUTH_UNSUPPORTED naming those schemes', async () => {
  await explainFailure(peers, async () => {
    const kerberos = peers.add(await startNegotiateOnlyProxy());
    const env = await headlessEnv({ http_proxy: `http://${encoded(PROXY_USER, PROXY_PASSWORD)}@127.0.0.1:${kerberos.port}` });
    const program = startConnect('pinhole connect (Negotiate-only proxy)', env);
    await assertRefused(program, 'PINHOLE_UPSTREAM_AUTH_UNSUPPORTED', /asks for Negotiate or NTLM sign-in \(HTTP 407\), and Pinhole only signs in to a corporate proxy with Basic/, [PROXY_PASSWORD]);
  });
});
