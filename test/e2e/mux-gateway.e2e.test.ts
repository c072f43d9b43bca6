/**
 * One gateway on one port serves, at the same time: the Pinhole proxy, SSH (also inside TLS and
 * through `pinhole forward -L stdio:`), SNI pass-through to another TLS server, plain HTTP, the
 * web site behind TLS, and OpenVPN; behind HAProxy its access log names the real client. All
 * through `bin/pinhole-gateway run` with sslh-style flags, each proven by a real client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { encodeProxyV2 } from '../../gateway/sniff/index.js';
import { startClient, type RunningClient } from '../support/client.js';
import { isAccessRecord, startGateway, type RunningGateway } from '../support/gateway.js';
import { startHaproxy } from '../support/haproxy.js';
import { INITIALIZED, startOpenvpnClient } from '../support/openvpn.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { OTHER_NAME as OTHER, fingerprintVia, httpGet, startPort443Backends, type Port443Backends } from '../support/port443-backends.js';
import { Peers, explainFailure, pinholeBin, runCommand } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';
import { BYTE_PATHS_UNDER_TEST } from '../support/byte-paths.js';

for (const bytePath of BYTE_PATHS_UNDER_TEST) {
describe(`byte path ${bytePath}`, () => {
  const peers = new Peers();
  let origin: Origin;
  let backends: Port443Backends;
  let gateway: RunningGateway;
  let client: RunningClient;
  let link: string;

  const routeArgs = (): string[] => [
    '--ssh', `127.0.0.1:${backends.sshd.port}`,
    '--openvpn', `127.0.0.1:${backends.vpn.port}`,
    '--http', `127.0.0.1:${backends.plainHttpPort}`,
    '--web', `127.0.0.1:${backends.sitePort}`,
    '--sni', `${OTHER}=127.0.0.1:${backends.other.port}`,
    '--sniff-timeout', '1000',
    '--byte-path', bytePath,
  ];
  const restrictTo = (): string[] => [`127.0.0.1:${origin.httpsPort}`, `127.0.0.1:${origin.httpPort}`, `127.0.0.1:${backends.sshd.port}`];

  before(async () => {
    [origin, backends] = await Promise.all([startOrigin(), startPort443Backends(peers)]);
    peers.add(origin);
    gateway = peers.add(await startGateway({ restrictTo: restrictTo(), runArgs: routeArgs() }));
    const said = await gateway.program.waitForLog((r) => typeof r['bytePath'] === 'string', 15_000, 'the byte path line');
    assert.equal(said['bytePath'], bytePath, 'the start-up log says which byte path runs');
    link = await gateway.provision();
    client = peers.add(await startClient({ link }));
  });
  after(() => peers.close());

  test('ssh-keyscan gets the real sshd host key through the gateway port (the timeout route goes to --ssh)', () =>
    explainFailure(peers, async () => {
      const scan = await runCommand('ssh-keyscan', { args: ['-T', '15', '-t', 'ed25519', '-p', String(gateway.port), '127.0.0.1'] });
      assert.ok(scan.stdout.includes(backends.sshd.hostKey), `ssh-keyscan printed the sshd host key:\n${scan.stdout}\n${scan.stderr}`);
    }));

  test('an ssh login with a test key runs a command through the gateway port', () =>
    explainFailure(peers, async () => {
      const result = await backends.sshd.ssh(['-p', String(gateway.port), 'root@127.0.0.1', 'echo', 'hi']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), 'hi');
    }));

  test('SSH inside TLS to the gateway name reaches sshd', () =>
    explainFailure(peers, async () => {
      const proxyCommand = `openssl s_client -quiet -verify_quiet -connect 127.0.0.1:${gateway.port} -servername ${gateway.hostname}`;
      const result = await backends.sshd.ssh(['-o', `ProxyCommand=${proxyCommand}`, 'root@127.0.0.1', 'echo', 'inside tls']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), 'inside tls');
    }));

  test('SSH through `pinhole forward -L stdio:` as ProxyCommand reaches sshd through a proxy tunnel', () =>
    explainFailure(peers, async () => {
      const proxyCommand = `${pinholeBin} forward -L stdio:127.0.0.1:${backends.sshd.port} ${link}`;
      const result = await backends.sshd.ssh(['-o', `ProxyCommand=${proxyCommand}`, 'root@127.0.0.1', 'echo', 'via forward']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), 'via forward');
      await gateway.program.waitForLog((r) => isAccessRecord(r) && r['target'] === `127.0.0.1:${backends.sshd.port}`, 15_000, 'an access log line for the ssh tunnel');
    }));

  test('SNI pass-through: the client sees the other server certificate while the proxy keeps working on the same port', () =>
    explainFailure(peers, async () => {
      const [other, own, proxied] = await Promise.all([
        fingerprintVia(gateway.port, OTHER),
        fingerprintVia(gateway.port, gateway.hostname),
        requestThroughProxy({ proxy: { port: client.port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert }),
      ]);
      assert.equal(other, backends.other.cert.sha256, 'the gateway did not terminate other.test');
      assert.equal(own, gateway.fingerprint);
      assert.equal(proxied.status, 200);
      assert.equal(proxied.body.toString(), 'hello from the origin\n');
      const openssl = await runCommand('openssl', { args: ['s_client', '-connect', `127.0.0.1:${gateway.port}`, '-servername', OTHER, '-brief', '-ign_eof'] });
      assert.match(openssl.stdout + openssl.stderr, /hello from other\.test/);
    }));

  test('plain HTTP on the gateway port reaches --http', () =>
    explainFailure(peers, async () => {
      const res = await httpGet(gateway.port, '/');
      assert.equal(res.status, 200);
      assert.equal(res.body, 'plain http backend\n');
    }));

  test('a browser-like HTTPS request to the gateway name that is not a proxy request gets the --web site', () =>
    explainFailure(peers, async () => {
      const before = backends.siteSaw.length;
      const curl = await runCommand('curl', { args: ['-sS', '-k', '--resolve', `${gateway.hostname}:${gateway.port}:127.0.0.1`, `https://${gateway.hostname}:${gateway.port}/about`] });
      assert.equal(curl.code, 0, curl.stderr);
      assert.equal(curl.stdout.trim(), 'the web site answers GET /about');
      const saw = backends.siteSaw.slice(before).at(-1);
      assert.equal(saw?.['x-forwarded-proto'], 'https');
      assert.equal(saw?.['x-forwarded-for'], '127.0.0.1');
    }));

  test('a real OpenVPN client reaches the real OpenVPN server in TCP mode through the gateway port', () =>
    explainFailure(peers, async () => {
      const vpnClient = peers.watch(startOpenvpnClient(backends.vpnCerts, gateway.port));
      try {
        await vpnClient.waitForLine((l) => l.text.includes(INITIALIZED), 30_000, INITIALIZED);
        await backends.vpn.program.waitForLine((l) => l.text.includes(INITIALIZED), 10_000, `${INITIALIZED} on the server`);
      } finally {
        await vpnClient.stop('SIGTERM', 5_000);
      }
    }));

  test('behind HAProxy with send-proxy-v2, the access log shows the original client address; untrusted PROXY headers are refused', () =>
    explainFailure(peers, async () => {
      const balanced = peers.add(await startGateway({ restrictTo: restrictTo(), runArgs: [...routeArgs(), '--trusted-proxy', '127.0.0.1/32'] }));
      const haproxy = peers.add(await startHaproxy({ backendPort: balanced.port }));
      const user = balanced.users[0]!;
      const res = await requestThroughProxy({
        proxy: {
          port: haproxy.port,
          // tls.connect passes socket.connect() options through: the client's source is 127.0.0.2, haproxy's is 127.0.0.1.
          tls: { servername: balanced.hostname, rejectUnauthorized: false, localAddress: '127.0.0.2', ALPNProtocols: ['http/1.1'] } as ConnectionOptions,
          auth: { user: user.name, password: user.password },
        },
        url: `http://127.0.0.1:${origin.httpPort}/echo`,
      });
      assert.equal(res.status, 200);
      const record = await balanced.program.waitForLog((r) => isAccessRecord(r) && r['target'] === `127.0.0.1:${origin.httpPort}`, 15_000, 'an access log line for the request through haproxy');
      assert.match(String(record['client']), /^127\.0\.0\.2(:\d+)?$/, `the access log names the original client: ${JSON.stringify(record)}`);

      // The main gateway trusts nobody: a PROXY header is refused there.
      const answer = await new Promise<string>((resolve) => {
        const socket = netConnect({ host: '127.0.0.1', port: gateway.port }, () => {
          socket.write(encodeProxyV2({ address: '203.0.113.9', port: 4444 }, { address: '127.0.0.1', port: gateway.port }));
          socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        });
        let got = '';
        socket.on('data', (c: Buffer) => (got += c.toString()));
        socket.once('close', () => resolve(got));
        socket.once('error', () => undefined);
      });
      assert.equal(answer, '', 'nothing is answered to an untrusted PROXY header');
      await gateway.program.waitForLog((r) => String(r.msg).includes('not a trusted proxy'), 10_000, 'the refusal log line');
    }));
});
}
