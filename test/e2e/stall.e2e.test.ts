/**
 * Issue 28 item 4, with real gateways: a relay between the client and the gateway in use stalls
 * (connections stay up, nothing moves either way: a congested Wi-Fi, a loaded middlebox).
 * (a) A stall shorter than the session timeout: a tunnel whose TLS to its origin was established
 *     before it keeps working after it (bytes both ways, the bytes written during the stall
 *     included), while a new request during the stall goes through the other gateway.
 * (b) A stall longer than the session timeout: the tunnel open on the stalled session is reset
 *     (the application sees ECONNRESET, not a hang), and not before the timeout.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { targetFromLink } from '../../shared/link-target.js';
import { Engine } from '../../main/engine.js';
import type { GatewayChoiceOptions } from '../../main/tunnel/transport.js';
import { makeSelfSignedCertificate, type TestCertificate } from '../support/certs.js';
import { startGateway } from '../support/gateway.js';
import { startFreezableRelay, type FreezableRelay } from '../support/hung-endpoint.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { explainFailure, Peers, waitUntil } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';

const local = (port: number): string => `127.0.0.1:${port}`;
const ECHO_NAME = 'echo.example.test';

/** A TLS echo origin on 127.0.0.1: every byte comes back, the connection stays open as long as the client wants. */
const startTlsEcho = async (cert: TestCertificate): Promise<{ port: number; stop: () => Promise<void> }> => {
  const sockets = new Set<TLSSocket>();
  const server = createTlsServer({ cert: cert.cert, key: cert.key }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
};

/** CONNECT through the local proxy, then TLS to the echo origin over the tunnel. */
const openEchoTunnel = async (proxyPort: number, echoPort: number, cert: TestCertificate): Promise<{ raw: Socket; tls: TLSSocket }> => {
  const raw = netConnect({ host: '127.0.0.1', port: proxyPort });
  await once(raw, 'connect');
  raw.write(`CONNECT ${local(echoPort)} HTTP/1.1\r\nHost: ${local(echoPort)}\r\n\r\n`);
  let head = '';
  while (!head.includes('\r\n\r\n')) {
    const [chunk] = (await once(raw, 'data')) as [Buffer];
    head += chunk.toString('latin1');
  }
  assert.match(head, /^HTTP\/1\.1 200 /);
  const tls = tlsConnect({ socket: raw, servername: ECHO_NAME, ca: cert.cert });
  await once(tls, 'secureConnect');
  return { raw, tls };
};

/** Collects what the tunnel echoes; `waitFor(text)` resolves once it has arrived. */
const echoReader = (tls: TLSSocket): { waitFor: (text: string, timeoutMs: number) => Promise<void> } => {
  let received = '';
  tls.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
  return { waitFor: (text, timeoutMs) => waitUntil(() => received.includes(text), timeoutMs, `"${text}" echoed`).then(() => undefined) };
};

interface Stand {
  peers: Peers;
  origin: Origin;
  cert: TestCertificate;
  echoPort: number;
  relay: FreezableRelay;
  engine: Engine;
  port: number;
}

/** Two gateways, the first one (the one in use) behind a relay that can stall; an engine connected to both. */
const stand = async (t: TestContext, choice: GatewayChoiceOptions): Promise<Stand> => {
  const peers = new Peers();
  t.after(() => peers.close());
  const origin = peers.add(await startOrigin());
  const cert = await makeSelfSignedCertificate({ commonName: ECHO_NAME, altNames: [ECHO_NAME] });
  const echo = peers.add(await startTlsEcho(cert));
  const restrictTo = [local(origin.httpsPort), local(echo.port)];
  const first = peers.add(await startGateway({ restrictTo }));
  const second = peers.add(await startGateway({ restrictTo, sameDirAs: first }));
  const relay = peers.add(await startFreezableRelay({ target: { port: first.port } }));
  const link = await first.provision({ endpoints: [local(relay.port), local(second.port)] });
  const engine = new Engine({ logLevel: 'debug', ...(process.env['STALL_DEBUG'] ? { logDestination: process.stderr } : {}) });
  peers.defer(() => engine.disconnect());
  const { target, password } = targetFromLink(link);
  // Probes far apart: the client stays on the first gateway (no spread move) until it stalls.
  const { listen } = await engine.connect(target, password, { listen: '127.0.0.1:0', gatewayChoice: { probeIntervalMs: 600_000, ...choice } });
  const port = Number(listen.split(':').at(-1));
  assert.equal(engine.getStatus().gateways?.inUse, local(relay.port), 'the first gateway (behind the relay) is in use');
  return { peers, origin, cert, echoPort: echo.port, relay, engine, port };
};

const hello = async (origin: Origin, port: number): Promise<void> => {
  const reply = await requestThroughProxy({ proxy: { port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert, timeoutMs: 30_000 });
  assert.equal(reply.status, 200);
  assert.equal(reply.body.toString(), 'hello from the origin\n');
};

test('(a) a stall shorter than the session timeout: the open tunnel keeps working after it, and a new request during it goes through the other gateway', async (t) => {
  const { peers, origin, cert, echoPort, relay, engine, port } = await stand(t, {});
  await explainFailure(peers, async () => {
    const { tls } = await openEchoTunnel(port, echoPort, cert);
    const echoed = echoReader(tls);
    let ended: Error | 'closed' | undefined;
    tls.on('error', (err) => (ended ??= err));
    tls.once('close', () => (ended ??= 'closed'));
    tls.write('before the stall\n');
    await echoed.waitFor('before the stall\n', 30_000);

    relay.freeze();
    tls.write('during the stall\n');
    // A new request: its CONNECT waits, the PING it triggers goes unanswered, it is sent to the other gateway.
    await hello(origin, port);
    const status = engine.getStatus().gateways;
    assert.notEqual(status?.inUse, local(relay.port), 'new tunnels left the stalled gateway');
    assert.equal(status?.endpoints.find((e) => e.endpoint === local(relay.port))?.health, 'down');
    assert.equal(ended, undefined, 'the open tunnel was not ended by the stall');

    relay.thaw();
    await echoed.waitFor('during the stall\n', 30_000);
    tls.write('after the stall\n');
    await echoed.waitFor('after the stall\n', 30_000);
    assert.equal(ended, undefined, 'the tunnel is still open');
    assert.ok(!engine.getLog().some((line) => /tunnels are reset/.test(line.msg)), 'no session was declared gone');
    tls.end();
  });
});

test('(b) a stall longer than the session timeout: the tunnel on the stalled session is reset, not left hanging, and not before the timeout', async (t) => {
  const sessionTimeoutMs = 4_000;
  const { peers, origin, cert, echoPort, relay, engine, port } = await stand(t, { sessionTimeoutMs });
  await explainFailure(peers, async () => {
    const { tls } = await openEchoTunnel(port, echoPort, cert);
    const echoed = echoReader(tls);
    tls.write('before the stall\n');
    await echoed.waitFor('before the stall\n', 30_000);
    const closed = new Promise<{ error: NodeJS.ErrnoException | undefined; at: number }>((resolve) => {
      let error: NodeJS.ErrnoException | undefined;
      tls.on('error', (err: NodeJS.ErrnoException) => (error ??= err));
      tls.once('close', () => resolve({ error, at: performance.now() }));
    });

    relay.freeze();
    const frozenAt = performance.now();
    tls.write('into the stall\n');
    await hello(origin, port);
    const outcome = await Promise.race([closed, new Promise<'hang'>((resolve) => setTimeout(() => resolve('hang'), 60_000).unref())]);
    assert.notEqual(outcome, 'hang', 'the application was told (the tunnel did not hang)');
    if (outcome === 'hang') return;
    assert.equal(outcome.error?.code, 'ECONNRESET', `the application saw a reset (${outcome.error?.code ?? 'a clean close'})`);
    assert.ok(outcome.at - frozenAt >= sessionTimeoutMs - 100, `reset ${Math.round(outcome.at - frozenAt)} ms after the stall began, not before the ${sessionTimeoutMs} ms timeout`);
    assert.ok(engine.getLog().some((line) => /tunnels are reset/.test(line.msg)), 'the log says the session was given up and why');
    await hello(origin, port);

  });
});
