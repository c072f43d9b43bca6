/**
 * Port 443 shared, proven with real clients against the gateway's multiplexer front
 * (gateway/mux/*, assembled by test/support/mux-front.ts): SSH (ssh-keyscan, ssh login, SSH
 * inside TLS), SNI pass-through to another TLS server, plain HTTP, the web site behind TLS,
 * OpenVPN, WebSocket tunnels, and HAProxy's PROXY v2 in front.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { encodeProxyV2, parseProxyHeader } from '../../gateway/sniff/index.js';
import { createLogger } from '../../shared/log.js';
import { WssTransport } from '../../main/tunnel/wss-transport.js';
import { makeSelfSignedCertificate, type TestCertificate } from '../support/certs.js';
import { startHaproxy } from '../support/haproxy.js';
import { startMuxFront, type MuxFront } from '../support/mux-front.js';
import type { MuxFlagValues } from '../../gateway/mux/config.js';
import { INITIALIZED, startOpenvpnClient } from '../support/openvpn.js';
import { OTHER_NAME as OTHER, fingerprintVia, httpGet, listenOnLoopback, startPort443Backends, type Port443Backends } from '../support/port443-backends.js';
import { Peers, explainFailure, runCommand } from '../support/processes.js';
import { BYTE_PATHS_UNDER_TEST, nativeBytePath } from '../support/byte-paths.js';

for (const bytePath of BYTE_PATHS_UNDER_TEST) {
describe(`byte path ${bytePath}`, () => {
  const OWN = 'gw.example.test';
  const peers = new Peers();
  let gwCert: TestCertificate;
  let backends: Port443Backends;
  let echo: Server;
  let front: MuxFront;

  const portOf = (s: { address(): AddressInfo | string | null }): number => (s.address() as AddressInfo).port;

  before(async () => {
    [gwCert, backends] = await Promise.all([makeSelfSignedCertificate({ commonName: OWN, altNames: [OWN] }), startPort443Backends(peers)]);
    echo = createNetServer((s) => s.pipe(s));
    await listenOnLoopback(echo);
    peers.defer(() => echo.close());
    front = peers.add(await startMuxFront({ cert: gwCert, ownName: OWN, flags: routes(), native: bytePath === 'native' ? nativeBytePath() : undefined }));
  });
  after(() => peers.close());

  const routes = (): MuxFlagValues => ({
    ssh: `127.0.0.1:${backends.sshd.port}`,
    openvpn: `127.0.0.1:${backends.vpn.port}`,
    http: `127.0.0.1:${backends.plainHttpPort}`,
    web: `127.0.0.1:${backends.sitePort}`,
    sni: [`${OTHER}=127.0.0.1:${backends.other.port}`],
    'sniff-timeout': '1000',
  });

  test('ssh-keyscan, which waits for the server to speak first, gets the real sshd host key through the shared port', () =>
    explainFailure(peers, async () => {
      const scan = await runCommand('ssh-keyscan', { args: ['-T', '15', '-t', 'ed25519', '-p', String(front.port), '127.0.0.1'] });
      assert.ok(scan.stdout.includes(backends.sshd.hostKey), `ssh-keyscan printed the sshd host key:\n${scan.stdout}\n${scan.stderr}`);
    }));

  test('an ssh login with a test key runs a command through the shared port', () =>
    explainFailure(peers, async () => {
      const result = await backends.sshd.ssh(['-p', String(front.port), 'root@127.0.0.1', 'echo', 'hi from sshd']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), 'hi from sshd');
    }));

  test('SSH carried inside TLS to the gateway name (openssl s_client as ProxyCommand) reaches sshd', () =>
    explainFailure(peers, async () => {
      const proxyCommand = `openssl s_client -quiet -verify_quiet -connect 127.0.0.1:${front.port} -servername ${OWN}`;
      const result = await backends.sshd.ssh(['-o', `ProxyCommand=${proxyCommand}`, 'root@127.0.0.1', 'echo', 'inside tls']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), 'inside tls');
      await front.log.first((r) => r['route'] === 'ssh-in-tls', 'a log line naming the ssh-in-tls route');
    }));

  test('TLS for another name passes through untouched: the client sees that server certificate, while the gateway name still gets the gateway', () =>
    explainFailure(peers, async () => {
      const [other, own] = await Promise.all([fingerprintVia(front.port, OTHER), fingerprintVia(front.port, OWN)]);
      assert.equal(other, backends.other.cert.sha256, 'the SNI route was not terminated by the gateway');
      assert.equal(own, gwCert.sha256, 'the gateway name is terminated by the gateway');
      const openssl = await runCommand('openssl', {
        args: ['s_client', '-connect', `127.0.0.1:${front.port}`, '-servername', OTHER, '-brief', '-ign_eof'],
        stdin: '',
      });
      assert.match(openssl.stdout + openssl.stderr, /hello from other\.test/);
    }));

  test('plain HTTP on the shared port reaches the --http backend', () =>
    explainFailure(peers, async () => {
      const res = await httpGet(front.port, '/');
      assert.equal(res.status, 200);
      assert.equal(res.body, 'plain http backend\n');
      // The access line counts the sniffed request head (handed over, on the native path) and the answer.
      const ended = await front.log.first((r) => r['route'] === 'http' && r['msg'] === 'A pass-through connection ended.', 'the pass-through line for the http route');
      assert.equal(ended['bytePath'], bytePath, 'the byte path this suite runs moved the bytes');
      assert.ok(Number(ended['bytesUp']) >= 'GET / HTTP/1.1\r\n'.length, `the request counted up: ${String(ended['bytesUp'])}`);
      assert.ok(Number(ended['bytesDown']) > res.body.length, `the answer counted down: ${String(ended['bytesDown'])}`);
    }));

  test('a browser-like HTTPS request to the gateway name gets the --web site, with X-Forwarded-For and -Proto', () =>
    explainFailure(peers, async () => {
      const before = backends.siteSaw.length;
      const curl = await runCommand('curl', {
        args: ['-sS', '-k', '--resolve', `${OWN}:${front.port}:127.0.0.1`, `https://${OWN}:${front.port}/index.html`],
      });
      assert.equal(curl.code, 0, curl.stderr);
      assert.equal(curl.stdout.trim(), 'the web site answers GET /index.html');
      const saw = backends.siteSaw.slice(before).at(-1);
      assert.equal(saw?.['x-forwarded-for'], '127.0.0.1');
      assert.equal(saw?.['x-forwarded-proto'], 'https');
      assert.equal(saw?.['host'], `${OWN}:${front.port}`);
    }));

  test('a real OpenVPN client reaches the real OpenVPN server in TCP mode through the shared port', () =>
    explainFailure(peers, async () => {
      const client = peers.watch(startOpenvpnClient(backends.vpnCerts, front.port));
      try {
        await client.waitForLine((l) => l.text.includes(INITIALIZED), 30_000, INITIALIZED);
        await backends.vpn.program.waitForLine((l) => l.text.includes(INITIALIZED), 10_000, `${INITIALIZED} on the server`);
      } finally {
        await client.stop('SIGTERM', 5_000);
      }
      await front.log.first((r) => r['route'] === 'openvpn', 'a pass-through log line for the openvpn route');
    }));

  test('a WebSocket tunnel on the tunnel path carries a TCP echo', () =>
    explainFailure(peers, async () => {
      const transport = new WssTransport({
        endpoints: [{ host: '127.0.0.1', port: front.port }],
        serverName: OWN,
        trust: { kind: 'pin', pin: gwCert.sha256 },
        user: 'tester',
        password: 'unused',
        logger: createLogger({ name: 'test', level: 'silent' }),
        poolSize: 0,
      });
      try {
        const stream = await transport.open({ host: '127.0.0.1', port: portOf(echo) });
        const back = await new Promise<string>((resolve, reject) => {
          let got = '';
          stream.on('data', (c: Buffer) => {
            got += c.toString();
            if (got.length >= 11) resolve(got);
          });
          stream.once('error', reject);
          stream.write('echo via ws');
        });
        stream.destroy();
        assert.equal(back, 'echo via ws');
      } finally {
        await transport.close();
      }
    }));

  test('behind HAProxy with send-proxy-v2, the gateway logs the original client address and the web site sees it', () =>
    explainFailure(peers, async () => {
      // Only haproxy (127.0.0.1) may send PROXY headers to this gateway.
      const balanced = peers.add(await startMuxFront({ cert: gwCert, ownName: OWN, flags: { ...routes(), 'trusted-proxy': ['127.0.0.1/32'] }, native: bytePath === 'native' ? nativeBytePath() : undefined }));
      const haproxy = peers.add(await startHaproxy({ backendPort: balanced.port }));
      const res = await httpGet(haproxy.port, '/via-haproxy', '127.0.0.2');
      assert.equal(res.status, 200);
      assert.equal(res.body, 'plain http backend\n');
      const record = await balanced.log.first(
        (r) => r['msg'] === 'A pass-through connection ended.' && r['route'] === 'http' && String(r['client']).startsWith('127.0.0.2:'),
        'a pass-through line naming client 127.0.0.2',
      );
      assert.ok(record);
      const before = backends.siteSaw.length;
      const curl = await runCommand('curl', {
        args: ['-sS', '-k', '--interface', '127.0.0.2', '--resolve', `${OWN}:${haproxy.port}:127.0.0.1`, `https://${OWN}:${haproxy.port}/behind-haproxy`],
      });
      assert.equal(curl.code, 0, curl.stderr);
      assert.equal(backends.siteSaw.slice(before).at(-1)?.['x-forwarded-for'], '127.0.0.2', 'the web site sees the original client, not haproxy');
      const direct = await new Promise<string>((resolve) => {
        const socket = netConnect({ host: '127.0.0.1', port: balanced.port }, () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
        let got = '';
        socket.on('data', (c: Buffer) => (got += c.toString()));
        socket.once('close', () => resolve(got));
        socket.once('error', () => undefined);
      });
      assert.equal(direct, '', 'a connection from the trusted address without a PROXY header is closed');
      await balanced.log.first((r) => String(r['msg']).includes('did not start with a valid PROXY header'), 'the line about the missing PROXY header');
    }));

  test('a PROXY header from an address that is not a trusted proxy is refused and logged', () =>
    explainFailure(peers, async () => {
      const before = front.multiplexer.stats.refusedProxyHeaders;
      const outcome = await new Promise<string>((resolve) => {
        const socket = netConnect({ host: '127.0.0.1', port: front.port, localAddress: '127.0.0.2' }, () => {
          socket.write(encodeProxyV2({ address: '203.0.113.9', port: 4444 }, { address: '127.0.0.1', port: front.port }));
          socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        });
        let got = '';
        socket.on('data', (c: Buffer) => (got += c.toString()));
        socket.once('close', () => resolve(got));
        socket.once('error', () => undefined);
      });
      assert.equal(outcome, '', 'nothing was answered');
      assert.equal(front.multiplexer.stats.refusedProxyHeaders, before + 1);
      await front.log.first((r) => String(r['msg']).includes('not a trusted proxy') && r['peer'] === '127.0.0.2', 'the line about the untrusted PROXY header');
    }));

  test('a pass-through route with --send-proxy gives its backend a PROXY v2 header naming the real client, then the client bytes untouched', () =>
    explainFailure(peers, async () => {
      const received: Buffer[] = [];
      let gotAll: () => void = () => undefined;
      const allIn = new Promise<void>((resolve) => (gotAll = resolve));
      const backend = createNetServer((s) => {
        s.on('data', (c: Buffer) => {
          received.push(c);
          // The v2 signature itself holds \r\n\r\n: wait for the end of the request after the header.
          const so = Buffer.concat(received);
          const header = parseProxyHeader(so);
          if (header.kind === 'header' && so.subarray(header.header.length).includes('\r\n\r\n')) {
            gotAll();
            s.end();
          }
        });
      });
      await listenOnLoopback(backend);
      peers.defer(() => backend.close());
      const proxied = peers.add(await startMuxFront({ cert: gwCert, ownName: OWN, flags: { http: `127.0.0.1:${portOf(backend)}`, 'send-proxy': ['http=v2'] }, native: bytePath === 'native' ? nativeBytePath() : undefined }));
      const request = 'GET /with-proxy-header HTTP/1.1\r\nHost: x\r\n\r\n';
      const socket = netConnect({ host: '127.0.0.1', port: proxied.port, localAddress: '127.0.0.2' }, () => socket.write(request));
      socket.on('error', () => undefined);
      await allIn;
      socket.destroy();
      const bytes = Buffer.concat(received);
      const parsed = parseProxyHeader(bytes);
      assert.equal(parsed.kind, 'header');
      if (parsed.kind !== 'header') return;
      assert.equal(parsed.header.version, 2);
      assert.equal(parsed.header.source?.address, '127.0.0.2');
      assert.equal(bytes.subarray(parsed.header.length).toString(), request, 'the client bytes follow unchanged');
    }));
});
}
