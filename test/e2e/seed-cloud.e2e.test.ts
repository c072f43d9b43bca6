/**
 * Compatibility with the seed's own cloud side: the Pinhole client against Debian's stunnel4 in
 * server mode in front of Squid with basic_ncsa_auth and an `htpasswd -c` users file, exactly as
 * the seed configures them. Nothing on the server side knows about Pinhole.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startClient, type ClientOptions } from '../support/client.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { explainFailure, Peers } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';
import { startSeedCloud, type SeedCloud } from '../support/seed.js';

const seedUser = { name: 'test', password: 'qY8kd0Cf' };
const peers = new Peers();
let origin: Origin;
let cloud: SeedCloud;

before(async () => {
  origin = peers.add(await startOrigin());
  cloud = peers.add(await startSeedCloud({ users: [seedUser], connectPorts: [origin.httpsPort], hostname: 'gw.example.test' }));
  peers.watch(cloud.squid.program);
  peers.watch(cloud.stunnel.program);
});
after(() => peers.close());

const server = (): string => `127.0.0.1:${cloud.port}`;

const passesHttpsAndHttp = async (options: ClientOptions, bytePath?: 'native' | 'js'): Promise<void> => {
  const client = peers.add(await startClient(options));
  if (bytePath !== undefined) {
    const said = await client.program.waitForLog((r) => typeof r['bytePath'] === 'string', 5_000, 'the byte path log line');
    assert.equal(said['bytePath'], bytePath, 'the start-up log says which byte path runs');
  }
  const secure = await requestThroughProxy({ proxy: { port: client.port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
  assert.equal(secure.status, 200);
  assert.equal(secure.body.toString(), 'hello from the origin\n');
  const plain = await requestThroughProxy({ proxy: { port: client.port }, url: `http://127.0.0.1:${origin.httpPort}/echo`, headers: { 'x-seed': 'yes' } });
  assert.equal(
    plain.status,
    200,
    `plain HTTP through the seed's Squid: ${plain.status} ${String(plain.headers['pinhole-error'] ?? '')} (Squid's default rules deny CONNECT to non-SSL ports, so plain HTTP must travel as an absolute-URI request)`,
  );
  const echo = JSON.parse(plain.body.toString()) as { headers: Record<string, string> };
  assert.equal(echo.headers['x-seed'], 'yes');
  const big = await requestThroughProxy({ proxy: { port: client.port }, url: `https://127.0.0.1:${origin.httpsPort}/bytes/5000000`, sink: 'hash' });
  assert.equal(big.bytes, 5_000_000);
  assert.equal(big.sha256, big.headers['x-sha256']);
  const exit = await client.stop();
  assert.equal(exit.code, 0, 'the client exits 0 on SIGTERM');
};

// Both byte paths (issue 27): the native one carries HTTP/1.1 tunnels' bytes, the JavaScript one is the reference.
for (const bytePath of ['native', 'js'] as const) {
  test(`the client with --transport h1, a pinned certificate and --byte-path ${bytePath} passes HTTPS and HTTP through stunnel + Squid`, () =>
    explainFailure(peers, () =>
      passesHttpsAndHttp(
        {
          server: server(),
          user: seedUser.name,
          password: seedUser.password,
          pin: cloud.stunnel.cert.sha256,
          serverName: 'gw.example.test',
          transport: 'h1',
          name: `pinhole-h1-${bytePath}`,
          extraArgs: ['--byte-path', bytePath],
        },
        bytePath,
      ),
    ));
}

test('the client left to negotiate (h2 offered, stunnel + Squid answer HTTP/1.1) falls back and passes, trusting a CA file', () =>
  explainFailure(peers, () =>
    passesHttpsAndHttp({
      server: server(),
      user: seedUser.name,
      password: seedUser.password,
      ca: cloud.stunnel.cert.certPath,
      serverName: 'gw.example.test',
      name: 'pinhole-negotiated',
    }),
  ));

test('a wrong password gives the application a clear auth error from the client, and the client log says so', () =>
  explainFailure(peers, async () => {
    const client = peers.add(
      await startClient({ server: server(), user: seedUser.name, password: 'not-the-password', insecure: true, transport: 'h1', name: 'pinhole-wrong-password' }),
    );
    const res = await requestThroughProxy({ proxy: { port: client.port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, timeoutMs: 15_000 });
    assert.ok(res.status === 502 || res.status === 407, `the application gets a 407-derived error, got ${res.status}`);
    assert.equal(res.headers['pinhole-error'], 'PINHOLE_AUTH_REJECTED');
    const plain = await requestThroughProxy({ proxy: { port: client.port }, url: `http://127.0.0.1:${origin.httpPort}/hello`, timeoutMs: 15_000 });
    assert.notEqual(plain.status, 200, 'a plain HTTP request is refused too');
    assert.equal(plain.headers['pinhole-error'], 'PINHOLE_AUTH_REJECTED');
    const line = await client.program.waitForLog(
      (r) => JSON.stringify(r).includes('PINHOLE_AUTH_REJECTED') || /password|credential|auth/i.test(String(r.msg ?? '')),
      15_000,
      'a client log line about the rejected credentials',
    );
    assert.ok(line);
    assert.ok(!client.program.stdout.includes('not-the-password'), 'the password never reaches the log');
    assert.ok(
      client.program.records.some((r) => /insecure|not verif|verification/i.test(JSON.stringify(r))),
      '--insecure is logged as a warning',
    );
    assert.ok(client.program.running, 'the client is still running');
  }));
