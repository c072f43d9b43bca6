/**
 * The native byte path against the seed's own cloud side (Debian's stunnel4 in server mode in front
 * of Squid with basic auth): the TLS session to the gateway is the addon's, the pin is checked in
 * JavaScript before the password is written, the CONNECT answer is Squid's, and an application's
 * HTTPS request goes through the handed-over socket end to end.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { ConnectFailure } from '../../node/connect-client.js';
import { chooseBytePath, type NativeBytePath } from '../../node/native/byte-path.js';
import { connectNative } from '../../node/native/connect-tunnel.js';
import { deterministicSha256, startOrigin, type Origin } from '../support/origin.js';
import { Peers } from '../support/processes.js';
import { startSeedCloud, type SeedCloud } from '../support/seed.js';
import { createHash } from 'node:crypto';

const user = { name: 'test', password: 'qY8kd0Cf' };
const peers = new Peers();
let origin: Origin;
let cloud: SeedCloud;
let path: NativeBytePath;

before(async () => {
  const choice = chooseBytePath('auto');
  assert.equal(choice.kind, 'native', choice.kind === 'js' ? choice.reason : '');
  path = choice.path;
  origin = peers.add(await startOrigin());
  cloud = peers.add(await startSeedCloud({ users: [user], connectPorts: [origin.httpsPort], hostname: 'gw.example.test' }));
  peers.watch(cloud.squid.program);
  peers.watch(cloud.stunnel.program);
});
after(() => peers.close());

const gatewaySocket = async (): Promise<Socket> => {
  const socket = connect({ port: cloud.port, host: '127.0.0.1' });
  socket.pause();
  await once(socket, 'connect');
  return socket;
};

const pinOf = (pem: string): Buffer => new X509Certificate(pem).raw;
const basic = (name: string, password: string): string => `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;

/** An application's connection: its far end (accepted, paused) is what gets handed over. */
const applicationPair = async (): Promise<[Socket, Socket]> => {
  const server = createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
  const [[peer]] = await Promise.all([accepted, once(client, 'connect')]);
  server.close();
  return [client, peer];
};

const request = (password: string) => ({
  target: { host: '127.0.0.1', port: origin.httpsPort },
  headers: { 'Proxy-Authorization': basic(user.name, password) },
  timeoutMs: 20_000,
});

test('an HTTPS download through stunnel + Squid on the native byte path arrives whole, and the next session is resumed', async () => {
  const expected = pinOf(cloud.stunnel.cert.cert);
  for (const round of [1, 2]) {
    const seen: boolean[] = [];
    const tunnel = await connectNative(path, {
      socket: await gatewaySocket(),
      servername: 'gw.example.test',
      verify: (certificates, resumed) => {
        seen.push(resumed);
        assert.deepEqual(certificates[0], expected, 'the leaf certificate is the gateway pin');
      },
      request: request(user.password),
    });
    assert.equal(tunnel.answer.status, 200);
    const [app, handedOver] = await applicationPair();
    const relayed = tunnel.attach(handedOver);
    const size = 8 * 1024 * 1024;
    const tls = tlsConnect({ socket: app, servername: 'localhost', ca: origin.certificate.cert });
    await once(tls, 'secureConnect');
    tls.write(`GET /bytes/${size} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    const hash = createHash('sha256');
    let head = '';
    let body = 0;
    tls.on('data', (chunk: Buffer) => {
      if (head.endsWith('\r\n\r\n')) {
        hash.update(chunk);
        body += chunk.length;
        return;
      }
      const text = head + chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) {
        head = text;
        return;
      }
      head = text.slice(0, end + 4);
      const rest = chunk.subarray(chunk.length - (text.length - end - 4));
      hash.update(rest);
      body += rest.length;
    });
    await once(tls, 'end');
    tls.destroy();
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.equal(body, size);
    assert.equal(hash.digest('hex'), deterministicSha256(size));
    const result = await relayed;
    assert.ok(result.bytesDown > size, 'the download crossed the native relay');
    if (round === 2) assert.deepEqual(seen, [true], 'the second session resumed the first (and its certificate was judged again)');
  }
});

test('a wrong password is answered 407 by Squid and the tunnel is closed; a pin that does not match writes nothing', async () => {
  const tunnel = await connectNative(path, {
    socket: await gatewaySocket(),
    servername: 'gw.example.test',
    verify: () => undefined,
    request: request('wrong password'),
  });
  assert.equal(tunnel.answer.status, 407);

  let judged = 0;
  await assert.rejects(
    connectNative(path, {
      socket: await gatewaySocket(),
      servername: 'gw.example.test',
      verify: () => {
        judged += 1;
        throw new Error('pin mismatch');
      },
      request: request(user.password),
    }),
    /pin mismatch/,
  );
  assert.equal(judged, 1);
});

test('a gateway that closes before answering CONNECT is a ConnectFailure', async () => {
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
  socket.pause();
  await once(socket, 'connect');
  await assert.rejects(connectNative(path, { socket, servername: 'gw.example.test', verify: () => undefined, request: request(user.password) }), (err: unknown) => err instanceof ConnectFailure && err.code === 'CONNECT_CLOSED');
  server.close();
});
