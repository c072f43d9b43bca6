/**
 * Issue 18, the gateway's side: a real OpenID provider (oidc-provider on loopback, its own keys),
 * a real `pinhole-gateway run` trusting it, a token exchanged at `POST /pinhole/credential` for a
 * tunnel credential, and tunnels through the HTTP/1.1 and HTTP/2 doors authenticated by it; each
 * bad input with its `Pinhole-Error` code; the htpasswd path unchanged beside it.
 */
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect as h2connect } from 'node:http2';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '../../shared/log.js';
import { TunnelCredentials } from '../../gateway/identity/credentials.js';
import { DEFAULT_USER, gatewayCommand, isAccessRecord, startGateway, type RunningGateway } from '../support/gateway.js';
import { startIdp, type RunningIdp } from '../support/oidc-provider.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { basicAuth, openTunnel, type ProxyAddress } from '../support/proxy-requests.js';

const ALICE = { id: 'alice', email: 'alice@example.com', groups: ['staff'] };
const BOB = { id: 'bob', email: 'bob@elsewhere.org' };

interface Setup {
  idp: RunningIdp;
  gateway: RunningGateway;
  origin: Origin;
  /** An issuer the gateway trusts where nothing listens. */
  downIssuer: string;
  keysFile: string;
}

const closedPort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
};

const setUp = async (): Promise<Setup> => {
  const idp = await startIdp([ALICE, BOB]);
  const origin = await startOrigin();
  const downIssuer = `http://127.0.0.1:${await closedPort()}`;
  const gateway = await startGateway({
    restrictTo: [`127.0.0.1:${origin.httpPort}`],
    // The flag wins over the file's 7200.
    runArgs: ['--credential-lifetime', '3600'],
    prepare: async (dir) => {
      await gatewayCommand(['credential-keys', 'rotate', '--file', join(dir, 'credential-keys')]);
      await appendFile(
        join(dir, 'gateway.yaml'),
        [
          'identity:',
          '  credentialLifetime: 7200',
          '  issuers:',
          `    - issuer: ${idp.issuer}`,
          `      audience: ${idp.audience}`,
          '      allowedDomains: [example.com]',
          `    - issuer: ${downIssuer}`,
          `      audience: ${idp.audience}`,
          '',
        ].join('\n'),
      );
    },
  });
  return { idp, gateway, origin, downIssuer, keysFile: join(gateway.dir, 'credential-keys') };
};

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request to the gateway itself (its certificate is self-signed: pinning is the client's business, not this test's). */
const toGateway = (gateway: RunningGateway, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: gateway.port, servername: gateway.hostname, rejectUnauthorized: false, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });

const exchange = (gateway: RunningGateway, token: string): Promise<Answer> => toGateway(gateway, 'POST', '/pinhole/credential', { authorization: `Bearer ${token}` });

const credentialFor = async (setup: Setup, user = ALICE): Promise<string> => {
  const answer = await exchange(setup.gateway, await setup.idp.token(user));
  assert.equal(answer.status, 200, answer.body);
  return (JSON.parse(answer.body) as { credential: string }).credential;
};

const proxy = (gateway: RunningGateway): ProxyAddress => ({ port: gateway.port, tls: { servername: gateway.hostname, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] } });

/** GET /hello over an open tunnel to the origin's HTTP port. */
const helloThrough = (socket: Socket): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', reject);
    socket.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.write('GET /hello HTTP/1.0\r\nHost: origin\r\n\r\n');
  });

const h1Tunnel = async (setup: Setup, authorization: string): Promise<{ status: number; code: string | undefined; body?: string }> => {
  const reply = await openTunnel({ proxy: proxy(setup.gateway), target: `127.0.0.1:${setup.origin.httpPort}`, headers: { 'proxy-authorization': authorization } });
  if (reply.status !== 200) return { status: reply.status, code: reply.headers['pinhole-error'] };
  const text = await helloThrough(reply.socket);
  return { status: 200, code: undefined, body: text.slice(text.indexOf('\r\n\r\n') + 4) };
};

/** CONNECT on an HTTP/2 stream, GET /hello through it; settles once the origin's whole answer (HTTP/1.0: it closes after) came back, or on a refusal. */
const h2Tunnel = (setup: Setup, authorization: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const session = h2connect(`https://127.0.0.1:${setup.gateway.port}`, { servername: setup.gateway.hostname, rejectUnauthorized: false });
    const done = (result: { status: number; body: string } | Error): void => {
      session.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    session.on('error', done);
    const stream = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${setup.origin.httpPort}`, 'proxy-authorization': authorization });
    let status = 0;
    let text = '';
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      if (status === 200) stream.write('GET /hello HTTP/1.0\r\nHost: origin\r\n\r\n');
      else done({ status, body: '' });
    });
    stream.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      if (text.endsWith('hello from the origin\n')) done({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    stream.on('error', done);
  });

// One provider, origin and gateway for the whole file (starting a gateway is most of each test's time); the last test stops the provider.
let shared: Setup;
before(async () => {
  shared = await setUp();
});
after(async () => {
  await shared.gateway.stop();
  await shared.origin.stop();
  await shared.idp.close();
});

test('a token from the identity provider buys a tunnel credential; tunnels through the HTTP/1.1 and HTTP/2 doors carry it; htpasswd users work beside it', async () => {
  const setup = shared;
  const answer = await exchange(setup.gateway, await setup.idp.token(ALICE));
  assert.equal(answer.status, 200, answer.body);
  assert.equal(answer.headers['cache-control'], 'no-store');
  const issued = JSON.parse(answer.body) as { credential: string; expiresAt: string; user: string };
  assert.equal(issued.user, 'alice@example.com');
  const lifetime = Date.parse(issued.expiresAt) - Date.now();
  assert.ok(lifetime > 3500_000 && lifetime <= 3600_000, `the credential lives --credential-lifetime (3600 s), not ${lifetime} ms`);

  assert.deepEqual(await h1Tunnel(setup, `Bearer ${issued.credential}`), { status: 200, code: undefined, body: 'hello from the origin\n' });
  assert.deepEqual(await h2Tunnel(setup, `Bearer ${issued.credential}`), { status: 200, body: 'hello from the origin\n' });
  assert.deepEqual(await h1Tunnel(setup, basicAuth(DEFAULT_USER.name, DEFAULT_USER.password)), { status: 200, code: undefined, body: 'hello from the origin\n' });
  // The access lines are written as each relay ends, a moment after the client saw the end.
  const users = (await setup.gateway.program.waitForLogs(isAccessRecord, 3, 15_000, 'three access-log lines')).map((r) => r['user']);
  assert.deepEqual(users.filter((u) => u === 'alice@example.com').length, 2, JSON.stringify(users));
  assert.ok(users.includes(DEFAULT_USER.name));
  // The profile route takes the credential too: this gateway has no endpoints set, which it tells only a signed-in user.
  const profile = await toGateway(setup.gateway, 'GET', '/.well-known/pinhole/profile', { authorization: `Bearer ${issued.credential}` });
  assert.match(profile.body, /publishes no profile/);
  const forgedProfile = await toGateway(setup.gateway, 'GET', '/.well-known/pinhole/profile', { authorization: `Bearer ${issued.credential.slice(0, -4)}AAAA` });
  assert.equal(forgedProfile.status, 401);
});

test('bad tokens at the exchange each get their Pinhole-Error code; a request without a token is the web site\'s', async () => {
  const setup = shared;
  const { idp } = setup;
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: idp.issuer, aud: idp.audience, sub: 'alice', email: 'alice@example.com' };
  const cases: [string, string, number, string][] = [
    ['expired', await idp.sign({ ...claims, iat: now - 7200, exp: now - 3600 }), 401, 'PINHOLE_IDENTITY_TOKEN_EXPIRED'],
    ['forged', `${(await idp.token(ALICE)).slice(0, -8)}AAAAAAAA`, 401, 'PINHOLE_IDENTITY_TOKEN_INVALID'],
    ['not a token', 'abc.def', 401, 'PINHOLE_IDENTITY_TOKEN_INVALID'],
    ['unknown issuer', await idp.sign({ ...claims, iss: 'https://idp.evil.example', exp: now + 600 }), 401, 'PINHOLE_IDENTITY_ISSUER_UNKNOWN'],
    ['wrong audience', await idp.sign({ ...claims, aud: 'another-app', exp: now + 600 }), 401, 'PINHOLE_IDENTITY_AUDIENCE_MISMATCH'],
    ['domain not allowed', await idp.token(BOB), 403, 'PINHOLE_IDENTITY_NOT_ALLOWED'],
    ['issuer down', await idp.sign({ ...claims, iss: setup.downIssuer, exp: now + 600 }), 503, 'PINHOLE_IDENTITY_ISSUER_UNREACHABLE'],
  ];
  for (const [what, token, status, code] of cases) {
    const answer = await exchange(setup.gateway, token);
    assert.equal(answer.status, status, `${what}: ${answer.body}`);
    assert.equal(answer.headers['pinhole-error'], code, what);
    assert.ok(!answer.body.includes('credential"'), what);
  }
  const stranger = await toGateway(setup.gateway, 'POST', '/pinhole/credential');
  assert.equal(stranger.status, 404);
  assert.equal(stranger.headers['pinhole-error'], undefined);
  const wrongMethod = await toGateway(setup.gateway, 'GET', '/pinhole/credential', { authorization: `Bearer ${await idp.token(ALICE)}` });
  assert.equal(wrongMethod.headers['pinhole-error'], 'PINHOLE_BAD_REQUEST');
});

test('credential-keys rotate on a running gateway: the new key signs, credentials signed with the old one keep working', async () => {
  const setup = shared;
  const before = await credentialFor(setup);
  await gatewayCommand(['credential-keys', 'rotate', '--file', setup.keysFile]);
  await setup.gateway.program.waitForLog((r) => r.msg === 'The tunnel-credential keys were reloaded.', 30_000);
  const after = await credentialFor(setup);
  const kid = (jwt: string): unknown => (JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString()) as { kid?: unknown }).kid;
  assert.notEqual(kid(after), kid(before));
  assert.equal((await h1Tunnel(setup, `Bearer ${before}`)).status, 200);
  assert.equal((await h1Tunnel(setup, `Bearer ${after}`)).status, 200);
});

test('expired and forged tunnel credentials are refused (expired with its code, forged as a wrong password); credentials keep working while the provider is down', async () => {
  const setup = shared;
  const credential = await credentialFor(setup);
  const logger = createLogger({ name: 'test', level: 'silent' });
  const fleetKeys = new TunnelCredentials(setup.keysFile, 3600, 0, logger);
  const expired = (await fleetKeys.issue({ subject: 'alice', issuer: setup.idp.issuer, email: 'alice@example.com' }, Date.now() - 2 * 3600_000)).credential;
  assert.deepEqual(await h1Tunnel(setup, `Bearer ${expired}`), { status: 407, code: 'PINHOLE_CREDENTIAL_EXPIRED' });
  const forged = `${credential.slice(0, -6)}AAAAAA`;
  const refused = await h1Tunnel(setup, `Bearer ${forged}`);
  assert.equal(refused.status, 407);
  assert.equal(refused.code, undefined, 'a forged credential is a stranger: a plain 407, as for a wrong password');
  await setup.gateway.program.waitForLog((r) => r['code'] === 'PINHOLE_CREDENTIAL_INVALID', 15_000, 'the log line naming the refusal');

  await setup.idp.close();
  assert.equal((await h1Tunnel(setup, `Bearer ${credential}`)).status, 200, 'the provider is down: the credential is checked offline');
});
