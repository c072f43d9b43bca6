import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FIXTURES, fixture } from './fixtures/fixtures.js';
import { PROBES } from './probes.js';
import { readProxyHeader, sniff, type SniffResult } from './sniff.js';
import { encodeProxyV2 } from './proxy-protocol.js';

/** A loopback listener whose next accepted socket is handed to the test, plus a client socket. */
async function connection(t: TestContext): Promise<{ server: net.Socket; client: net.Socket; chunks: Buffer[] }> {
  const listener = net.createServer({ pauseOnConnect: true });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  client.setNoDelay(true);
  client.on('error', () => {});
  await once(client, 'connect');
  const [server] = await accepted;
  server.on('error', () => {});
  const chunks: Buffer[] = [];
  server.prependListener('data', (c: Buffer) => chunks.push(c));
  t.after(() => {
    client.destroy();
    server.destroy();
    listener.close();
  });
  return { server, client, chunks };
}

/** Everything the socket delivers from now on until the peer ends. */
async function drain(socket: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  socket.on('data', (c: Buffer) => parts.push(c));
  socket.resume();
  await once(socket, 'end');
  return Buffer.concat(parts);
}

const options = { probes: PROBES, timeoutMs: 5000 };

test('a TLS client is recognised from its first read, with no copy, and its bytes are replayed intact', async (t) => {
  const { server, client, chunks } = await connection(t);
  const hello = fixture(FIXTURES.tlsChromium);
  client.write(hello);
  const result = await sniff(server, options);
  assert.equal(result.result, 'match');
  assert.equal(result.result === 'match' && result.name, 'tls');
  assert.equal(result.result === 'match' && result.hello?.serverName, 'x.test');
  assert.equal(chunks.length, 1, 'decided on the first chunk');
  assert.equal(result.head, chunks[0], 'the head is the first chunk itself, not a copy');
  client.end('after the hello');
  assert.deepEqual(await drain(server), Buffer.concat([hello, Buffer.from('after the hello')]));
});

test('a ClientHello split across two TCP segments waits for the second and joins them', async (t) => {
  const { server, client, chunks } = await connection(t);
  const hello = fixture(FIXTURES.tlsCurl);
  client.write(hello.subarray(0, 100));
  const sniffed = sniff(server, options);
  // The second segment is sent only once the sniffer has read the first on its own.
  await once(server, 'data');
  client.write(hello.subarray(100));
  const result = await sniffed;
  assert.equal(result.result === 'match' && result.hello?.serverName, 'x.test');
  assert.ok(chunks.length >= 2);
  assert.deepEqual(result.head, hello);
});

test('a client that waits for the server to speak (ssh-keyscan) gets a timeout, and nothing is lost', async (t) => {
  const { server } = await connection(t);
  const result = await sniff(server, { ...options, timeoutMs: 150 });
  assert.deepEqual(result, { result: 'timeout', head: Buffer.alloc(0) });
});

test('a partial banner that stalls times out with its bytes replayed', async (t) => {
  const { server, client } = await connection(t);
  client.write('SSH-2');
  const result = await sniff(server, { ...options, timeoutMs: 150 });
  assert.equal(result.result, 'timeout');
  assert.equal(result.result === 'timeout' && result.head.toString(), 'SSH-2');
  client.end('.0-late\r\n');
  assert.equal((await drain(server)).toString(), 'SSH-2.0-late\r\n');
});

test('a peer that closes before deciding gives closed', async (t) => {
  const { server, client } = await connection(t);
  client.end('GE');
  const result: SniffResult = await sniff(server, options);
  assert.equal(result.result, 'closed');
  assert.equal(result.head.toString(), 'GE');
});

test('a peer that resets at once gives closed', async (t) => {
  const { server, client } = await connection(t);
  client.resetAndDestroy();
  const result = await sniff(server, options);
  assert.equal(result.result, 'closed');
});

test('garbage is none at once, and a byte budget stops a slow endless request line', async (t) => {
  const garbage = await connection(t);
  garbage.client.write(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  const none = await sniff(garbage.server, options);
  assert.deepEqual(none, { result: 'none', head: Buffer.from([0xde, 0xad, 0xbe, 0xef]) });

  const slow = await connection(t);
  slow.client.write(`GET /${'a'.repeat(200)}`);
  const limited = await sniff(slow.server, { ...options, maxBytes: 64 });
  assert.equal(limited.result, 'none');
});

test('after sniffing, a TLSSocket wrapped around the same socket completes the handshake (termination works)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-sniff-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=gw.pinhole.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ]);
  const [key, cert] = await Promise.all([readFile(join(dir, 'key.pem')), readFile(join(dir, 'cert.pem'))]);

  const listener = net.createServer({ pauseOnConnect: true });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  t.after(() => listener.close());
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = tls.connect({
    port: (listener.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    servername: 'gw.pinhole.test',
    ca: cert,
    ALPNProtocols: ['http/1.1'],
  });
  t.after(() => client.destroy());
  const [raw] = await accepted;
  const result = await sniff(raw, options);
  assert.equal(result.result === 'match' && result.hello?.serverName, 'gw.pinhole.test');

  const terminated = new tls.TLSSocket(raw, { isServer: true, key, cert, ALPNProtocols: ['http/1.1'] });
  t.after(() => terminated.destroy());
  terminated.on('data', (c: Buffer) => terminated.end(Buffer.concat([Buffer.from('echo: '), c])));
  await once(client, 'secureConnect');
  client.write('hi');
  const [reply] = (await once(client, 'data')) as [Buffer];
  assert.equal(reply.toString(), 'echo: hi');
  assert.equal(client.alpnProtocol, 'http/1.1');
});

test('behind a balancer: the PROXY v2 header is read, then the TLS hello after it is sniffed from the same read', async (t) => {
  const { server, client } = await connection(t);
  const header = encodeProxyV2({ address: '203.0.113.50', port: 40001 }, { address: '127.0.0.1', port: 443 });
  const hello = fixture(FIXTURES.tlsNode);
  client.write(Buffer.concat([header, hello]));
  const read = await readProxyHeader(server, { timeoutMs: 5000 });
  assert.equal(read.result, 'header');
  assert.deepEqual(read.result === 'header' && read.header.source, { address: '203.0.113.50', port: 40001 });
  const result = await sniff(server, options);
  assert.equal(result.result === 'match' && result.hello?.serverName, 'gw.pinhole.test');
  assert.deepEqual(result.head, hello);
});

test("haproxy's real v1 header is consumed and the client's line follows", async (t) => {
  const { server, client } = await connection(t);
  client.end(fixture(FIXTURES.proxyV1Tcp4));
  const read = await readProxyHeader(server, { timeoutMs: 5000 });
  assert.equal(read.result === 'header' && read.header.family, 'tcp4');
  assert.equal((await drain(server)).toString(), 'hello from the client\n');
});

test('a connection without a PROXY header, where one is required, is reported invalid with its bytes', async (t) => {
  const { server, client } = await connection(t);
  client.write(fixture(FIXTURES.tlsCurl));
  const read = await readProxyHeader(server, { timeoutMs: 5000 });
  assert.equal(read.result, 'invalid');
  assert.deepEqual(read.result === 'invalid' && read.head, fixture(FIXTURES.tlsCurl));
});
