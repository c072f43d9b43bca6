/**
 * The misbehaving-gateway starters do what their names say: the hung endpoint takes a ClientHello
 * and never answers, the freezable relay holds bytes while frozen and delivers them on thaw, and
 * SIGSTOP on a real `pinhole-gateway run` stalls a TLS handshake until SIGCONT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect, createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startFreezableGateway } from './freezable-gateway.js';
import { refusedPort, startFreezableRelay, startHungEndpoint } from './hung-endpoint.js';
import { waitUntil } from './processes.js';

/** Resolves 'secure' when the handshake completes within `ms`, 'silent' when it does not. */
const handshake = (port: number, ms: number): Promise<'secure' | 'silent' | 'error'> =>
  new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'gw.example.test', rejectUnauthorized: false });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('silent');
    }, ms);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('secure');
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve('error');
    });
  });

test('a hung endpoint accepts TCP, swallows the ClientHello and never answers', async (t) => {
  const hung = await startHungEndpoint();
  t.after(() => hung.stop());
  assert.equal(await handshake(hung.port, 400), 'silent');
  assert.equal(hung.accepted(), 1);
  assert.ok(hung.bytesReceived() > 0, 'the ClientHello arrived');
  await waitUntil(() => hung.open() === 0, 10_000, 'the abandoned connection to close');
});

test('a refused port refuses at once', async () => {
  const port = await refusedPort();
  const socket = netConnect({ host: '127.0.0.1', port });
  const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNREFUSED');
});

test('a frozen relay holds bytes in both directions on open connections and delivers them on thaw', async (t) => {
  const echo = createServer((socket) => socket.pipe(socket));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const relay = await startFreezableRelay({ target: { port: (echo.address() as AddressInfo).port } });
  const client = netConnect({ host: '127.0.0.1', port: relay.port });
  t.after(async () => {
    client.destroy();
    await relay.stop();
    await new Promise((r) => echo.close(r));
  });
  await once(client, 'connect');
  let got = '';
  client.on('data', (chunk: Buffer) => (got += chunk.toString()));
  client.write('before ');
  await waitUntil(() => got === 'before ', 10_000, 'the echo before the freeze');
  relay.freeze();
  assert.equal(relay.frozen, true);
  client.write('during');
  // Not a wait for an event: a stretch in which nothing must happen is the behaviour under test.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(got, 'before ', 'nothing moves while frozen');
  assert.equal(client.destroyed, false, 'the connection stays up');
  relay.thaw();
  await waitUntil(() => got === 'before during', 10_000, 'the held bytes after thaw');
});

test('SIGSTOP on a real gateway stalls a TLS handshake with TCP still accepted, and SIGCONT lets it through', async (t) => {
  const gateway = await startFreezableGateway();
  t.after(() => gateway.stop());
  assert.equal(await handshake(gateway.port, 10_000), 'secure');
  gateway.freeze();
  assert.equal(gateway.frozen, true);
  assert.equal(await handshake(gateway.port, 700), 'silent');
  gateway.thaw();
  assert.equal(await handshake(gateway.port, 10_000), 'secure');
  gateway.freeze();
  const status = await gateway.stop();
  assert.equal(status.code, 0, 'stopping a frozen gateway thaws it first, so it drains and exits 0');
});
