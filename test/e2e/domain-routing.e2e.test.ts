/**
 * A provisioning link that carries a domain list: exactly those hosts go through the tunnel (the
 * gateway's access log shows them), everything else goes direct (the gateway never hears of it),
 * and the PAC the local proxy serves makes the same decision. Loopback only: `localhost` is the
 * listed name, the 127.0.0.1 literal is the same origin reached directly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { decodeLink } from '../../shared/link.js';
import { evaluatePac } from '../../main/upstream/pac-eval.js';
import { startClient } from '../support/client.js';
import { DEFAULT_USER, gatewayCommand, isAccessRecord, startGateway } from '../support/gateway.js';
import { startOrigin } from '../support/origin.js';
import { explainFailure, Peers } from '../support/processes.js';
import { openTunnel, requestThroughProxy } from '../support/proxy-requests.js';

/** What an application does with one request it closes after: CONNECT, a GET with Connection: close, read to the end. */
const getThroughConnect = async (proxyPort: number, host: string, port: number): Promise<{ status: number; body: string }> => {
  const tunnel = await openTunnel({ proxy: { port: proxyPort }, target: `${host}:${port}` });
  if (tunnel.status !== 200) return { status: tunnel.status, body: tunnel.body.toString() };
  const chunks: Buffer[] = [];
  tunnel.socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    tunnel.socket.once('end', () => resolve());
    tunnel.socket.once('error', reject);
  });
  tunnel.socket.write(`GET /hello HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`);
  await ended;
  tunnel.socket.end();
  const text = Buffer.concat(chunks).toString();
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), body: text.slice(text.indexOf('\r\n\r\n') + 4) };
};

const getText = (port: number, path: string): Promise<{ status: number; type: string; body: string }> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.once('error', reject);
    req.end();
  });

test('a link with a domain list sends exactly the listed domains through the tunnel, the rest direct, and its PAC agrees', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const origin = peers.add(await startOrigin());
  const ports = [origin.httpsPort, origin.httpPort];
  const gateway = peers.add(await startGateway({ restrictTo: ports.flatMap((p) => [`localhost:${p}`, `127.0.0.1:${p}`]) }));
  const provisioned = await gatewayCommand(
    ['provision', '--dir', gateway.dir, '--user', DEFAULT_USER.name, '--endpoint', `127.0.0.1:${gateway.port}`, '--domain', 'localhost', '--domain', '.vendor.example', '--password-stdin'],
    `${DEFAULT_USER.password}\n`,
  );
  const link = provisioned.stdout.trim();
  assert.deepEqual(decodeLink(link).domains, ['localhost', '.vendor.example'], 'provision --domain puts the list in the link');
  const client = peers.add(await startClient({ link }));
  const proxy = { port: client.port };
  const targets = (): string[] => gateway.accessLog().map((r) => String(r.target));

  await explainFailure(peers, async () => {
    // Applications that close their connections: the gateway logs a tunnel when it ends.
    const tunnelled = await getThroughConnect(client.port, 'localhost', origin.httpPort);
    assert.equal(tunnelled.status, 200);
    assert.match(tunnelled.body, /hello from the origin/);
    await gateway.program.waitForLog((r) => isAccessRecord(r) && r['target'] === `localhost:${origin.httpPort}`, 15_000, 'the listed domain in the gateway access log');

    const httpBefore = origin.connections.http;
    const direct = await getThroughConnect(client.port, '127.0.0.1', origin.httpPort);
    assert.equal(direct.status, 200);
    assert.match(direct.body, /hello from the origin/);
    assert.ok(origin.connections.http > httpBefore, 'the origin was reached directly');

    // Browsers' HTTPS and plain absolute-URI requests are routed the same way.
    const https = await requestThroughProxy({ proxy, url: `https://localhost:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
    assert.equal(https.status, 200);
    const httpsDirect = await requestThroughProxy({ proxy, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
    assert.equal(httpsDirect.status, 200);
    const plainDirect = await requestThroughProxy({ proxy, url: `http://127.0.0.1:${origin.httpPort}/echo` });
    assert.equal(plainDirect.status, 200);

    // One more closed tunnel after the direct ones: once it is logged, the log is current.
    assert.equal((await getThroughConnect(client.port, 'localhost', origin.httpPort)).status, 200);
    await gateway.program.waitForLogs((r) => isAccessRecord(r) && r['target'] === `localhost:${origin.httpPort}`, 2, 15_000, 'the second tunnelled request in the access log');
    assert.deepEqual(
      targets().filter((target) => target.includes('127.0.0.1')),
      [],
      'the unlisted 127.0.0.1 destinations never reached the gateway',
    );

    const pac = await getText(client.port, '/proxy.pac');
    assert.equal(pac.status, 200);
    const answer = (host: string): string => evaluatePac(pac.body, `https://${host}/`, host).answer;
    assert.equal(answer('localhost'), `PROXY 127.0.0.1:${client.port}`);
    assert.equal(answer('api.vendor.example'), `PROXY 127.0.0.1:${client.port}`);
    assert.equal(answer('vendor.example'), `PROXY 127.0.0.1:${client.port}`);
    assert.equal(answer('127.0.0.1'), 'DIRECT');
    assert.equal(answer('example.org'), 'DIRECT');
  });
});
