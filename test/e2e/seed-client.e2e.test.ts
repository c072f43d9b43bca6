/**
 * Compatibility with the seed's own client side: stunnel4 in client mode (verify=0,
 * sslVersion=TLSv1.2, no SNI since it connects to an address) and `curl -x user:pass@...`, exactly
 * as in the seed, against the Pinhole gateway instead of stunnel server + Squid.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { isAccessRecord, startGateway, type RunningGateway } from '../support/gateway.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { explainFailure, Peers, runCommand } from '../support/processes.js';
import { startStunnelClient, type RunningPeer } from '../support/seed.js';

const alice = { name: 'alice', password: 'qY8kd0Cf-alice' };
const peers = new Peers();
let origin: Origin;
let gateway: RunningGateway;
let stunnel: RunningPeer;

before(async () => {
  origin = peers.add(await startOrigin());
  gateway = peers.add(await startGateway({ users: [alice], restrictTo: [`127.0.0.1:${origin.httpsPort}`, `127.0.0.1:${origin.httpPort}`] }));
  stunnel = peers.add(await startStunnelClient({ connect: gateway.port, verify: 0, sslVersion: 'TLSv1.2' }));
  peers.watch(stunnel.program);
});
after(() => peers.close());

const curl = (proxyUser: string, url: string, extra: string[] = []): ReturnType<typeof runCommand> =>
  runCommand('curl', { args: ['-sS', '--max-time', '20', '-x', `http://${proxyUser}@127.0.0.1:${stunnel.port}`, ...extra, url] });

test('curl through the seed stunnel client reaches an HTTPS origin through the Pinhole gateway', () =>
  explainFailure(peers, async () => {
    const result = await curl(`${alice.name}:${alice.password}`, `https://127.0.0.1:${origin.httpsPort}/hello`, ['-k']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'hello from the origin');
    // The tunnel's line is written when the gateway sees it close, which can be just after curl exits.
    const access = await gateway.program.waitForLog((r) => isAccessRecord(r) && r['target'] === `127.0.0.1:${origin.httpsPort}`, 15_000, 'the gateway to log the tunnel');
    assert.equal(access['user'], 'alice');
    assert.equal(access['proto'], 'http/1.1');
  }));

test('curl through the seed stunnel client reaches a plain HTTP origin by absolute URI', () =>
  explainFailure(peers, async () => {
    const result = await curl(`${alice.name}:${alice.password}`, `http://127.0.0.1:${origin.httpPort}/echo`, ['-H', 'x-seed-client: curl']);
    assert.equal(result.code, 0, result.stderr);
    const echo = JSON.parse(result.stdout) as { headers: Record<string, string> };
    assert.equal(echo.headers['x-seed-client'], 'curl');
    assert.equal(echo.headers['proxy-authorization'], undefined, 'the proxy credentials stop at the gateway');
  }));

test('curl with a wrong password gets the 407 Squid would have given', () =>
  explainFailure(peers, async () => {
    const result = await curl(`${alice.name}:wrong`, `https://127.0.0.1:${origin.httpsPort}/hello`, ['-k']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /407/);
    const plain = await runCommand('curl', {
      args: ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '20', '-x', `http://127.0.0.1:${stunnel.port}`, `http://127.0.0.1:${origin.httpPort}/hello`],
    });
    assert.equal(plain.stdout, '407', 'no credentials at all: 407');
  }));
