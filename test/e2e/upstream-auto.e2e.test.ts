/**
 * A corporate network: GNOME is set to a proxy auto-configuration URL (a PAC server on loopback)
 * that names a corporate CONNECT proxy for the gateway. `pinhole connect LINK --upstream-proxy
 * auto` reads the setting, fetches and evaluates the PAC, and reaches the gateway through that
 * proxy. Runs in its own D-Bus session so `gsettings` writes a private dconf, not the machine's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { startDesktopSession } from '../support/desktop-session.js';
import { startGateway } from '../support/gateway.js';
import { startOrigin } from '../support/origin.js';
import { explainFailure, listenPortOf, Peers, pinholeBin, Program } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';

/** The corporate proxy: answers CONNECT, records where to, and splices bytes (loopback targets only). */
const startConnectProxy = async (): Promise<{ port: number; targets: string[]; stop: () => Promise<void> }> => {
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const match = /^CONNECT (127\.0\.0\.1):(\d+) HTTP\/1\.1\r\n/.exec(head.subarray(0, end).toString('latin1'));
      if (!match) {
        client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      targets.push(`${match[1]}:${match[2]}`);
      const upstream = connect(Number(match[2]), '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        const rest = head.subarray(end + 4);
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    targets,
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
};

test('with GNOME set to a corporate PAC, --upstream-proxy auto reaches the gateway through the proxy the PAC names', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const origin = peers.add(await startOrigin());
  const gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.httpsPort}`] }));
  const corporate = peers.add(await startConnectProxy());
  const pacFetches: string[] = [];
  const pacServer = createHttpServer((req, res) => {
    pacFetches.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/x-ns-proxy-autoconfig' });
    res.end(`function FindProxyForURL(url, host) {
  if (isInNet(host, "127.0.0.0", "255.0.0.0") && shExpMatch(url, "https://127.0.0.1:${gateway.port}/*")) return "PROXY 127.0.0.1:${corporate.port}; DIRECT";
  return "DIRECT";
}`);
  });
  await new Promise<void>((resolve) => pacServer.listen(0, '127.0.0.1', resolve));
  peers.defer(() => new Promise((resolve) => pacServer.close(resolve)));
  const pacUrl = `http://127.0.0.1:${(pacServer.address() as AddressInfo).port}/corp.pac`;
  const link = await gateway.provision();

  const session = peers.add(await startDesktopSession({ name: 'upstream-auto', desktop: 'gnome' }));
  await session.gsettings('set', 'org.gnome.system.proxy', 'autoconfig-url', pacUrl);
  await session.gsettings('set', 'org.gnome.system.proxy', 'mode', 'auto');
  assert.equal(await session.gsettings('get', 'org.gnome.system.proxy', 'mode'), "'auto'");

  const program = new Program(pinholeBin, {
    name: 'pinhole connect --upstream-proxy auto',
    args: ['connect', link, '--listen', '127.0.0.1:0', '--upstream-proxy', 'auto'],
    env: session.env,
  });
  peers.add({ program, stop: () => program.stop('SIGTERM', 15_000) });

  await explainFailure(peers, async () => {
    const port = listenPortOf(await program.waitForLog((r) => r.msg === 'The local proxy is listening.', 60_000, 'the listening line'));
    assert.deepEqual(pacFetches, ['/corp.pac'], 'the PAC was fetched once from the URL in the GNOME settings');
    const evaluated = program.records.find((r) => r.msg === 'The system proxy auto-configuration was evaluated for the gateway.');
    assert.equal(evaluated?.upstreamProxy, `127.0.0.1:${corporate.port}`);
    assert.ok(corporate.targets.includes(`127.0.0.1:${gateway.port}`), `the gateway was reached through the corporate proxy (it saw ${JSON.stringify(corporate.targets)})`);

    const res = await requestThroughProxy({ proxy: { port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello from the origin\n');
    assert.ok(corporate.targets.every((target) => target === `127.0.0.1:${gateway.port}`), 'the corporate proxy only ever saw the gateway, never the destination');
    assert.deepEqual(await program.stop('SIGTERM', 15_000), { code: 0, signal: null });
  });
});
