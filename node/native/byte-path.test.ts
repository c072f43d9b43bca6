/**
 * The native byte path over real sockets on 127.0.0.1: a plain relay and a TLS client session
 * (handshake, the peer's certificate judged in JavaScript, the CONNECT head, the handover of the
 * application's socket), each with the relay's close semantics: each direction ends on its own,
 * a peer that vanishes tears both down, bytes are counted, descriptors are given back.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, readlinkSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { makeSelfSignedCertificate } from '../../test/support/certs.js';
import { chooseBytePath, type NativeBytePath, type NativeRelay, type NativeRelayResult } from './byte-path.js';

/** Open sockets of this process (the splice path keeps a bounded pool of pipes on purpose: not counted). */
const openDescriptors = (): number =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;

const nativePath = (): NativeBytePath => {
  const choice = chooseBytePath('auto');
  assert.equal(choice.kind, 'native', choice.kind === 'js' ? choice.reason : '');
  return choice.path;
};

/** Two ends of one TCP connection, both half-open; the accepted end paused before it reads. */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const [[peer]] = await Promise.all([accepted, once(client, 'connect')]);
  server.close();
  return [client, peer];
}

const readAll = (s: Socket): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });

const socketClosed = async (s: Socket): Promise<void> => {
  if (!s.closed) await once(s, 'close');
};

const ended = async (s: Socket): Promise<void> => {
  s.resume();
  if (!s.readableEnded) await once(s, 'end');
};

const deferred = <T>(): { promise: Promise<T>; resolve: (value: T) => void } => {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
};

const closed = (events: { close?: (r: NativeRelayResult) => void }): Promise<NativeRelayResult> =>
  new Promise((resolve) => {
    events.close = resolve;
  });

/** The application's connection relayed natively to an origin's: both far ends are the test's. */
async function plainRelay(path: NativeBytePath, options: { copy?: boolean } = {}): Promise<{ app: Socket; originAccepted: Socket; relay: NativeRelay; done: Promise<NativeRelayResult> }> {
  const [app, appAccepted] = await socketPair();
  const [origin, originAccepted] = await socketPair();
  const events: Parameters<NativeBytePath['relayPlain']>[2] = {};
  const done = closed(events);
  const relay = path.relayPlain(appAccepted, origin, events, options);
  return { app, originAccepted, relay, done };
}

test('on Linux the addon loads and runs with the OpenSSL that node exports', () => {
  const path = nativePath();
  assert.match(path.openssl, new RegExp(`OpenSSL ${process.versions.openssl.replace(/\+.*$/, '').replace(/\./g, '\\.')}`));
});

/** One plain relay that moves a byte each way and ends: leaves the engine's pipe pool as a relay finds it later. */
async function shortPlainRelay(path: NativeBytePath): Promise<NativeRelayResult> {
  const { app, originAccepted, done } = await plainRelay(path);
  const atApp = readAll(app);
  originAccepted.resume();
  app.end('u');
  await ended(originAccepted);
  originAccepted.end('d');
  await atApp;
  const result = await done;
  app.destroy();
  originAccepted.destroy();
  await Promise.all([socketClosed(app), socketClosed(originAccepted)]);
  return result;
}

for (const copy of [false, true]) {
test(`a plain relay (${copy ? 'copying through buffers' : 'splice() through pipes'}) carries bytes both ways, each direction ends on its own, counts both and gives every descriptor back`, async () => {
  const path = nativePath();
  // The pipes a splicing relay takes go back to the engine's pool: let the pool hold them before counting.
  await shortPlainRelay(path);
  const before = openDescriptors();
  const { app, originAccepted, done } = await plainRelay(path, { copy });
  originAccepted.resume();

  const upload = Buffer.alloc(3 * 1024 * 1024 + 7, 'u');
  const download = Buffer.alloc(5 * 1024 * 1024 + 3, 'd');
  const atOrigin = readAll(originAccepted);
  const atApp = readAll(app);
  app.end(upload);
  // The origin still answers after the application's FIN (half-close), then ends too.
  assert.deepEqual(createHash('sha256').update(await atOrigin).digest(), createHash('sha256').update(upload).digest());
  originAccepted.end(download);
  assert.equal((await atApp).length, download.length);
  const result = await done;
  assert.equal(result.error, undefined);
  assert.equal(result.bytesUp, upload.length);
  assert.equal(result.bytesDown, download.length);
  assert.equal(result.splicedBytes, copy ? 0 : upload.length + download.length);
  app.destroy();
  originAccepted.destroy();
  await Promise.all([socketClosed(app), socketClosed(originAccepted)]);
  assert.equal(openDescriptors(), before);
});
}

test('a peer that resets mid-stream ends the relay with an error and closes the other side', async () => {
  const path = nativePath();
  const { app, originAccepted, done } = await plainRelay(path);
  app.on('error', () => undefined);
  app.resume();
  originAccepted.write(Buffer.alloc(64 * 1024, 1));
  await once(app, 'data');
  originAccepted.resetAndDestroy();
  const result = await done;
  assert.match(result.error?.message ?? '', /reset/);
  // The application's connection is closed (its FIN arrives), as the JavaScript relay's teardown does.
  await ended(app);
  app.destroy();
});

interface Gateway {
  port: number;
  certificateDer: Buffer;
  /** The plaintext side of each accepted TLS connection. */
  accepted: Promise<TLSSocket>;
  close(): Promise<void>;
}

/** A TLS server standing in for the gateway: answers a CONNECT head with 200, then is the origin. */
async function tlsGateway(): Promise<Gateway> {
  const certificate = await makeSelfSignedCertificate({ commonName: 'gw.test', altNames: ['gw.test'] });
  let accept!: (s: TLSSocket) => void;
  const accepted = new Promise<TLSSocket>((resolve) => (accept = resolve));
  const server = createTlsServer({ cert: certificate.cert, key: certificate.key, ALPNProtocols: ['http/1.1'], allowHalfOpen: true }, (socket) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      accept(socket);
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    certificateDer: new X509Certificate(certificate.cert).raw,
    accepted,
    close: async () => {
      server.close();
      await once(server, 'close');
    },
  };
}

test('a TLS session: the handshake runs natively, JavaScript judges the certificate, the CONNECT head is answered, then the application is relayed with half-close', async () => {
  const path = nativePath();
  const before = openDescriptors();
  const gateway = await tlsGateway();
  const toGateway = connect({ port: gateway.port, host: '127.0.0.1' });
  toGateway.pause();
  await once(toGateway, 'connect');

  const secure = deferred<{ certificates: Buffer[]; alpn: string }>();
  const head = deferred<Buffer>();
  const events: Parameters<NativeBytePath['tlsConnect']>[3] = {
    secure: (certificates, alpn) => secure.resolve({ certificates, alpn }),
    head: (h) => head.resolve(h),
  };
  const done = closed(events);
  const tunnel = path.tlsConnect(toGateway, 'gw.test', ['http/1.1'], events);

  const peer = await secure.promise;
  assert.equal(peer.alpn, 'http/1.1');
  assert.deepEqual(peer.certificates[0], gateway.certificateDer, 'the leaf certificate reaches JavaScript for the pin check');
  tunnel.verified(Buffer.from('CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\n'));
  assert.match((await head.promise).toString('latin1'), /^HTTP\/1\.1 200 /);

  const [app, appAccepted] = await socketPair();
  tunnel.attach(appAccepted, Buffer.from('early:'), Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n'));
  const origin = await gateway.accepted;
  const atOrigin = readAll(origin);
  origin.resume();
  const atApp = readAll(app);
  const upload = Buffer.alloc(2 * 1024 * 1024, 'a');
  app.end(upload);
  const received = await atOrigin;
  assert.equal(received.subarray(0, 6).toString(), 'early:');
  assert.equal(received.length, upload.length + 6);
  const download = Buffer.alloc(4 * 1024 * 1024 + 11, 'z');
  origin.end(download);
  const got = await atApp;
  assert.match(got.subarray(0, 40).toString('latin1'), /^HTTP\/1\.1 200 Connection established\r\n\r\n/);
  assert.equal(got.length, download.length + 39);
  const result = await done;
  assert.equal(result.error, undefined);
  // Counted: what the native path read from each side (the bytes handed over are the owner's to count).
  assert.equal(result.bytesUp, upload.length);
  assert.equal(result.bytesDown, download.length);
  app.destroy();
  await socketClosed(app);
  await gateway.close();
  assert.equal(openDescriptors(), before);
});

test('garbage instead of a TLS handshake ends the session with an error before any certificate is reported', async () => {
  const path = nativePath();
  const server = createServer((s) => {
    // The client resets once it gives up on the handshake: expected here.
    s.on('error', () => undefined);
    s.end(Buffer.from('SSH-2.0-OpenSSH_9.2\r\nnot tls at all\r\n'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
  socket.pause();
  await once(socket, 'connect');
  let secured = false;
  const events: Parameters<NativeBytePath['tlsConnect']>[3] = { secure: () => (secured = true) };
  const done = closed(events);
  path.tlsConnect(socket, 'gw.test', ['http/1.1'], events);
  const result = await done;
  assert.equal(secured, false);
  assert.match(result.error?.message ?? '', /TLS handshake/);
  server.close();
});

test('a relay destroyed by its owner ends at once and closes both sides', async () => {
  const path = nativePath();
  const { app, originAccepted, done, relay } = await plainRelay(path);
  relay.destroy();
  const result = await done;
  assert.equal(result.error?.message, 'destroyed');
  await Promise.all([ended(app), ended(originAccepted)]);
  app.destroy();
  originAccepted.destroy();
});

test('a slow reader stops the writer at the kernel buffers: the native path never queues without bound, and every byte arrives once the reader reads', async () => {
  const path = nativePath();
  const { app, originAccepted, done } = await plainRelay(path);
  app.pause();
  const total = 64 * 1024 * 1024;
  // 1 MiB writes, each flushed to the kernel when its callback runs.
  const chunk = Buffer.alloc(1024 * 1024, 7);
  let flushed = 0;
  for (let i = 0; i < total / chunk.length; i++) originAccepted.write(chunk, () => (flushed += chunk.length));
  const written = new Promise<void>((resolve) => originAccepted.end(resolve));
  // Let the bytes go as far as they can while the application reads nothing: until the sender's
  // progress stops (an upper bound is asserted, so a starved native thread only makes it easier).
  let last = -1;
  let still = 0;
  for (let i = 0; i < 500 && still < 10; i++) {
    await new Promise((r) => setTimeout(r, 20));
    still = flushed === last ? still + 1 : 0;
    last = flushed;
  }
  assert.ok(flushed < 48 * 1024 * 1024, `with the reader stalled, ${flushed} bytes left the sender: something queued without bound`);
  let received = 0;
  app.on('data', (chunk: Buffer) => (received += chunk.length));
  await ended(app);
  await written;
  assert.equal(received, total);
  app.end();
  const result = await done;
  assert.equal(result.bytesDown, total);
  assert.equal(result.splicedBytes, total, 'the slow reader ran on the splice path');
  app.destroy();
  originAccepted.destroy();
});
