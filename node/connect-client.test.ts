/** The one CONNECT client against a hand-driven proxy on 127.0.0.1. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { authorityOf, ConnectFailure, connectTlsOptions, sendConnect } from './connect-client.js';

/** A proxy that answers every request with `reply` (after the request head arrived). */
async function proxy(reply: string | undefined): Promise<{ socket: Socket; seen: Promise<string>; close: () => void }> {
  let seenResolve!: (s: string) => void;
  const seen = new Promise<string>((r) => (seenResolve = r));
  const server = createServer((s) => {
    let text = '';
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        seenResolve(text);
        if (reply !== undefined) s.write(reply);
      }
    });
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
  await once(socket, 'connect');
  return { socket, seen, close: () => server.close() };
}

test('a 200 resolves with the socket paused and the tunnel bytes after the head put back', async () => {
  const p = await proxy('HTTP/1.1 200 Connection Established\r\nX-A: 1\r\n\r\nearly');
  const answer = await sendConnect(p.socket, { target: { host: '2001:db8::1', port: 443 }, headers: { 'Proxy-Authorization': 'Basic eA==' }, timeoutMs: 5_000 });
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['x-a'], '1');
  assert.match(await p.seen, /^CONNECT \[2001:db8::1\]:443 HTTP\/1\.1\r\nHost: \[2001:db8::1\]:443\r\nProxy-Authorization: Basic eA==\r\n\r\n$/);
  assert.equal(p.socket.isPaused(), true);
  const [first] = (await Promise.all([once(p.socket, 'data'), Promise.resolve(p.socket.resume())]))[0] as [Buffer];
  assert.equal(first.toString(), 'early');
  p.socket.destroy();
  p.close();
});

test('a refusal resolves with its status and headers and the socket is already destroyed (no app byte can follow)', async () => {
  const p = await proxy('HTTP/1.1 407 Proxy Authentication Required\r\nPinhole-Error: PINHOLE_AUTH_MISSING\r\nContent-Length: 0\r\n\r\n');
  const answer = await sendConnect(p.socket, { target: { host: 'example.com', port: 443 }, timeoutMs: 5_000 });
  assert.equal(answer.status, 407);
  assert.equal(answer.headers['pinhole-error'], 'PINHOLE_AUTH_MISSING');
  assert.equal(p.socket.destroyed, true);
  p.close();
});

test('a reply that is not HTTP, a close and silence each reject with their own code', async () => {
  const codes: string[] = [];
  for (const reply of ['SSH-2.0-x\r\n\r\n', undefined]) {
    const p = await proxy(reply);
    if (reply === undefined) void p.seen.then(() => undefined);
    const err = await sendConnect(p.socket, { target: { host: 'a', port: 1 }, timeoutMs: reply === undefined ? 50 : 5_000 }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ConnectFailure);
    codes.push(err.code);
    p.close();
  }
  const p = await proxy(undefined);
  const pending = sendConnect(p.socket, { target: { host: 'a', port: 1 }, timeoutMs: 5_000 });
  await p.seen;
  p.socket.destroy();
  codes.push(((await pending.then(() => undefined, (e: unknown) => e)) as ConnectFailure).code);
  p.close();
  assert.deepEqual(codes, ['CONNECT_REPLY_INVALID', 'CONNECT_TIMEOUT', 'CONNECT_CLOSED']);
});

test('the TLS leg of a CONNECT: ALPN http/1.1, no SNI for an IP literal', () => {
  assert.deepEqual(connectTlsOptions('gw.example.com'), { servername: 'gw.example.com', ALPNProtocols: ['http/1.1'] });
  assert.deepEqual(connectTlsOptions('192.0.2.1'), { ALPNProtocols: ['http/1.1'] });
  assert.deepEqual(connectTlsOptions('[2001:db8::1]'), { ALPNProtocols: ['http/1.1'] });
  assert.equal(authorityOf({ host: '::1', port: 8 }), '[::1]:8');
  assert.equal(authorityOf({ host: '[::1]', port: 8 }), '[::1]:8');
});
