/**
 * Bad input and bad luck, each answered with a clear error and never a hang, and each leaving
 * the client and the gateway alive and serving: malformed requests, oversized and trickling
 * headers, destinations outside policy, missing or wrong credentials, bytes that are not TLS,
 * an origin that refuses, and a gateway that vanishes in the middle of a download.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startClient } from '../support/client.js';
import { startGateway } from '../support/gateway.js';
import { explainFailure, freePort, Peers } from '../support/processes.js';
import { basicAuth, openTunnel, readReply, requestThroughProxy, sendRaw, type ProxyAddress } from '../support/proxy-requests.js';
import { startPinholeStack, type PinholeStack } from '../support/stack.js';

let stack: PinholeStack;
let refusingPort: number;
let local: ProxyAddress;
let gatewayTls: ProxyAddress;
let gatewayWithAuth: ProxyAddress;

before(async () => {
  refusingPort = await freePort();
  // The gateway allows exactly the origin's two ports and one port where nothing listens.
  stack = await startPinholeStack({ gatewayRestrictTo: (origin) => [`127.0.0.1:${origin.httpsPort}`, `127.0.0.1:${origin.httpPort}`, `127.0.0.1:${refusingPort}`] });
  local = { port: stack.client.port };
  gatewayTls = { port: stack.gateway.port, tls: { servername: stack.gateway.hostname, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] } };
  const user = stack.gateway.users[0];
  assert.ok(user);
  gatewayWithAuth = { ...gatewayTls, auth: { user: user.name, password: user.password } };
});
after(() => stack?.stop());

const originHttps = (): string => `127.0.0.1:${stack.origin.httpsPort}`;

/** Both programs are still running and a normal request still passes end to end. */
const stillServing = async (): Promise<void> => {
  assert.ok(stack.client.program.running, 'the client is still running');
  assert.ok(stack.gateway.program.running, 'the gateway is still running');
  const res = await requestThroughProxy({ proxy: local, url: `https://${originHttps()}/hello`, timeoutMs: 15_000 });
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'hello from the origin\n');
};

/** Malformed request heads; `extra` carries header lines (the gateway's credentials, so auth is not what fails). */
const malformed = (target: string, extra = ''): Array<[string, string]> => [
  ['a request line that is not HTTP', `THIS IS NOT HTTP\r\n${extra}\r\n`],
  ['a CONNECT target without a port', `CONNECT no-port-here HTTP/1.1\r\nHost: no-port-here\r\n${extra}\r\n`],
  ['a header line without a colon', `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${extra}this header has no colon\r\n\r\n`],
];

test('malformed requests to the local proxy get 400 and the proxy keeps serving', () =>
  explainFailure(stack.peers, async () => {
    for (const [story, bytes] of malformed(originHttps())) {
      const reply = await sendRaw(local, bytes, 15_000);
      assert.equal(reply.status, 400, `${story}: ${reply.status} ${reply.reason}`);
    }
    await stillServing();
  }));

test('malformed requests to the gateway inside TLS get 400 and the gateway keeps serving', () =>
  explainFailure(stack.peers, async () => {
    const auth = gatewayWithAuth.auth;
    assert.ok(auth);
    for (const [story, bytes] of malformed(originHttps(), `Proxy-Authorization: ${basicAuth(auth.user, auth.password)}\r\n`)) {
      const reply = await sendRaw(gatewayWithAuth, bytes, 15_000);
      assert.equal(reply.status, 400, `${story}: ${reply.status} ${reply.reason}`);
    }
    await stillServing();
  }));

const oversized = (target: string, extra = ''): string => `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${extra}X-Big: ${'a'.repeat(128 * 1024)}\r\n\r\n`;

test('oversized request headers get 431 from both proxies', () =>
  explainFailure(stack.peers, async () => {
    const atClient = await sendRaw(local, oversized(originHttps()), 15_000);
    assert.equal(atClient.status, 431, `local proxy: ${atClient.status} ${atClient.reason}`);
    const atGateway = await sendRaw(gatewayWithAuth, oversized(originHttps()), 15_000);
    assert.equal(atGateway.status, 431, `gateway: ${atGateway.status} ${atGateway.reason}`);
    await stillServing();
  }));

/** Sends a request head one byte at a time, never finishing; resolves with the proxy's reply. */
const trickle = async (proxy: ProxyAddress, head: string, everyMs: number, giveUpMs: number): Promise<{ status: number }> => {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s: Socket = proxy.tls
      ? tlsConnect({ host: '127.0.0.1', port: proxy.port, ...proxy.tls }, () => resolve(s))
      : netConnect({ host: '127.0.0.1', port: proxy.port }, () => resolve(s));
    s.once('error', reject);
  });
  socket.on('error', () => undefined);
  let at = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || socket.writableEnded) return;
    socket.write(head.charAt(at % head.length));
    at += 1;
  }, everyMs);
  try {
    return await readReply(socket, giveUpMs, false);
  } finally {
    clearInterval(timer);
    socket.destroy();
  }
};

test('request headers that trickle in forever get 408 from both proxies, not a held connection', () =>
  explainFailure(stack.peers, async () => {
    const head = `CONNECT ${originHttps()} HTTP/1.1\r\nX-Slow: `;
    const [atClient, atGateway] = await Promise.all([trickle(local, head, 500, 28_000), trickle(gatewayWithAuth, head, 500, 28_000)]);
    assert.equal(atClient.status, 408, 'local proxy');
    assert.equal(atGateway.status, 408, 'gateway');
    await stillServing();
  }));

test('a destination outside the gateway policy gets 403 with its reason, at the gateway and through the client', () =>
  explainFailure(stack.peers, async () => {
    // Loopback only (never send traffic elsewhere), but none of it on the allow-list.
    for (const target of ['127.0.0.1:22', `127.0.0.2:${stack.origin.httpsPort}`, '[::1]:443']) {
      const direct = await openTunnel({ proxy: gatewayWithAuth, target });
      assert.equal(direct.status, 403, `gateway, ${target}`);
      assert.match(direct.headers['pinhole-error'] ?? '', /^PINHOLE_(DEST|PORT)_FORBIDDEN$/);
      const viaClient = await openTunnel({ proxy: local, target });
      assert.equal(viaClient.status, 403, `through the client, ${target}`);
      assert.match(viaClient.headers['pinhole-error'] ?? '', /^PINHOLE_(DEST|PORT)_FORBIDDEN$/);
    }
    const plain = await requestThroughProxy({ proxy: local, url: 'http://127.0.0.1:22/', timeoutMs: 15_000 });
    assert.equal(plain.status, 403, 'an absolute-URI request outside policy');
    await stillServing();
  }));

test('missing or wrong credentials at the gateway get 407 with Proxy-Authenticate', () =>
  explainFailure(stack.peers, async () => {
    const missing = await openTunnel({ proxy: gatewayTls, target: originHttps() });
    assert.equal(missing.status, 407);
    assert.match(missing.headers['proxy-authenticate'] ?? '', /^Basic/i);
    assert.equal(missing.headers['pinhole-error'], undefined, 'a plain 407, as Squid sends it');
    const wrong = await openTunnel({ proxy: { ...gatewayTls, auth: { user: 'alice', password: 'wrong' } }, target: originHttps() });
    assert.equal(wrong.status, 407);
    assert.equal(wrong.headers['pinhole-error'], undefined);
    const unknown = await openTunnel({ proxy: { ...gatewayTls, auth: { user: 'mallory', password: 'x' } }, target: originHttps() });
    assert.equal(unknown.status, 407);
    const plain = await sendRaw(gatewayTls, `GET http://${originHttps()}/hello HTTP/1.1\r\nHost: ${originHttps()}\r\n\r\n`);
    assert.equal(plain.status, 407, 'an absolute-URI request without credentials');
    await stillServing();
  }));

test('bytes that are not TLS at the gateway port get the connection closed, and the gateway keeps serving', () =>
  explainFailure(stack.peers, async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port: stack.gateway.port }, () => {
        socket.write(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x42, 0x00, 0x00, 0x01, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22]));
      });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(false);
      }, 25_000);
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    assert.ok(closed, 'the gateway closed the connection');
    await stillServing();
  }));

test('an origin that refuses the connection gives the application 502 with its reason', () =>
  explainFailure(stack.peers, async () => {
    const viaClient = await openTunnel({ proxy: local, target: `127.0.0.1:${refusingPort}` });
    assert.equal(viaClient.status, 502);
    assert.equal(viaClient.headers['pinhole-error'], 'PINHOLE_CONNECT_FAILED');
    const plain = await requestThroughProxy({ proxy: local, url: `http://127.0.0.1:${refusingPort}/`, timeoutMs: 15_000 });
    assert.equal(plain.status, 502);
    const direct = await openTunnel({ proxy: gatewayWithAuth, target: `127.0.0.1:${refusingPort}` });
    assert.equal(direct.status, 502);
    assert.equal(direct.headers['pinhole-error'], 'PINHOLE_CONNECT_FAILED');
    await stillServing();
  }));

test('the gateway vanishing in the middle of a download ends the application connection with an error, and the client lives on', () =>
  explainFailure(stack.peers, async () => {
    const peers = new Peers();
    try {
      const gateway = peers.add(await startGateway({ restrictTo: [originHttps()] }));
      const client = peers.add(await startClient({ link: await gateway.provision() }));
      const length = 1024 * 1024 * 1024;
      const tunnel = await openTunnel({ proxy: { port: client.port }, target: originHttps() });
      assert.equal(tunnel.status, 200);
      const secure = tlsConnect({ socket: tunnel.socket, rejectUnauthorized: false });
      const outcome = await new Promise<{ how: string; bytes: number }>((resolve) => {
        let bytes = 0;
        let killed = false;
        const timer = setTimeout(() => resolve({ how: 'still open after 20 s', bytes }), 20_000);
        const done = (how: string) => (): void => {
          clearTimeout(timer);
          resolve({ how, bytes });
        };
        secure.once('secureConnect', () => secure.write(`GET /bytes/${length} HTTP/1.1\r\nHost: ${originHttps()}\r\n\r\n`));
        secure.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (!killed && bytes > 4 * 1024 * 1024) {
            killed = true;
            gateway.program.kill();
          }
        });
        secure.once('error', done('error'));
        secure.once('close', done('close'));
      });
      secure.destroy();
      assert.notEqual(outcome.how, 'still open after 20 s', 'the application connection ended');
      assert.ok(outcome.bytes < length, 'the download did not complete');
      await gateway.program.exited;
      assert.ok(client.program.running, 'the client is still running after losing the gateway');
      const refused = await openTunnel({ proxy: { port: client.port }, target: originHttps(), timeoutMs: 20_000 });
      assert.ok(refused.status >= 500, `a new tunnel gets a clear 5xx while the gateway is gone, got ${refused.status}`);
      assert.match(refused.headers['pinhole-error'] ?? '', /^PINHOLE_/);
    } catch (err) {
      process.stderr.write(`\n${peers.transcripts()}\n`);
      throw err;
    } finally {
      await peers.close();
    }
  }));
