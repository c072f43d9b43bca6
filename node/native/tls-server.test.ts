/**
 * The native byte path's TLS server (the gateway's side, gateway/native-tls.ts) over real sockets on
 * 127.0.0.1: the ClientHello a sniffer already read is served first, the decrypted first request
 * head reaches JavaScript and a CONNECT holds the client's further bytes until the hand-over, then
 * TLS <-> TCP both ways with half-close and the tunnel's counts; sessions resume across Node's TLS
 * server and this one (same ticket keys and session id context); garbage under the TLS after the
 * hand-over and a client that vanishes end the relay; a refusal lets the held bytes through.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { before, test } from 'node:test';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { makeSelfSignedCertificate } from '../../test/support/certs.js';
import { tlsHandshake, type Handshake } from '../../test/support/tls-session.js';
import { chooseBytePath, type NativeBytePath, type NativeRelay, type NativeRelayResult, type NativeServerSettings, type ServerContextHandle } from './byte-path.js';

const nativePath = (): NativeBytePath => {
  const choice = chooseBytePath('auto');
  assert.equal(choice.kind, 'native', choice.kind === 'js' ? choice.reason : '');
  return choice.path;
};

const SESSION_ID_CONTEXT = '0123456789abcdef0123456789abcdef';
const CONNECT_HEAD = 'CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\n';
const ANSWER = 'HTTP/1.1 200 Connection Established\r\n\r\n';

let settings: NativeServerSettings;
let context: ServerContextHandle;

before(async () => {
  const cert = await makeSelfSignedCertificate({ commonName: 'gw.test' });
  settings = {
    cert: readFileSync(cert.certPath),
    key: readFileSync(cert.keyPath),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    sessionIdContext: SESSION_ID_CONTEXT,
    alpn: ['h2', 'http/1.1'],
    ticketKeys: [randomBytes(48)],
  };
  context = nativePath().serverContext(settings);
});

/** A TCP connection whose accepted end read the first bytes and put them back, as the gateway's sniffer does. */
async function sniffedPair(): Promise<{ client: Socket; accepted: Socket }> {
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepting = once(server, 'connection') as Promise<[Socket]>;
  const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
  const [[accepted]] = await Promise.all([accepting, once(client, 'connect')]);
  server.close();
  return { client, accepted };
}

const sniffed = (accepted: Socket): Promise<void> =>
  new Promise((resolve) => {
    accepted.once('data', (chunk: Buffer) => {
      accepted.pause();
      accepted.unshift(chunk);
      resolve();
    });
    accepted.resume();
  });

const readUntil = (socket: Socket, done: (got: Buffer) => boolean): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      if (!done(got)) return;
      socket.off('data', onData).off('close', onClose);
      resolve(got);
    };
    const onClose = (): void => reject(new Error(`closed after ${got.length} bytes: ${got.subarray(0, 80).toString('latin1')}`));
    socket.on('data', onData).once('close', onClose);
  });

const readAll = (s: Socket): Promise<Buffer> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('close', () => resolve(Buffer.concat(chunks)));
  });

/** Two ends of a TCP connection: `origin` is the destination the test plays, `toOrigin` what the gateway dialled. */
async function originPair(): Promise<{ origin: Socket; toOrigin: Socket }> {
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepting = once(server, 'connection') as Promise<[Socket]>;
  const toOrigin = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const [[origin]] = await Promise.all([accepting, once(toOrigin, 'connect')]);
  server.close();
  return { origin, toOrigin };
}

interface Accepted {
  tls: TLSSocket;
  raw: Socket;
  relay: NativeRelay;
  decrypted: Socket;
  resumed: boolean;
  done: Promise<NativeRelayResult>;
  /** The first session ticket the server sent. */
  ticket: Promise<Buffer>;
}

/** A TLS client to the native server, handshake done; `session`: a ticket to offer. */
async function accept(options: { session?: Buffer; maxVersion?: 'TLSv1.2' | 'TLSv1.3'; alpn?: string[] } = {}): Promise<Accepted> {
  const path = nativePath();
  const { client: raw, accepted } = await sniffedPair();
  const tls = tlsConnect({
    socket: raw,
    servername: 'gw.test',
    rejectUnauthorized: false,
    ...(options.alpn === undefined ? {} : { ALPNProtocols: options.alpn }),
    ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
    ...(options.session === undefined ? {} : { session: options.session }),
  });
  tls.on('error', () => undefined);
  const ticket = new Promise<Buffer>((resolve) => tls.once('session', resolve));
  await sniffed(accepted);
  let secure!: (resumed: boolean) => void;
  const secured = new Promise<boolean>((resolve) => (secure = resolve));
  let close!: (result: NativeRelayResult) => void;
  const done = new Promise<NativeRelayResult>((resolve) => (close = resolve));
  const { relay, decrypted } = path.tlsAccept(accepted, context, { secure: (_c, _alpn, resumed) => secure(resumed), close: (result) => close(result) });
  decrypted.on('error', () => undefined);
  const [resumed] = await Promise.all([secured, once(tls, 'secureConnect')]);
  return { tls, raw, relay, decrypted, resumed, done, ticket };
}

/** The CONNECT's head reaches JavaScript alone; the bytes after it wait in the engine. */
async function connectHead(a: Accepted, after = ''): Promise<void> {
  a.tls.write(CONNECT_HEAD + after);
  const head = await readUntil(a.decrypted, (got) => got.includes('\r\n\r\n'));
  assert.equal(head.toString('latin1'), CONNECT_HEAD, 'JavaScript gets the head and nothing after it');
}

test('the native TLS server: the head reaches JavaScript, the bytes after a CONNECT wait for the hand-over, then TLS<->TCP both ways with half-close and the tunnel counted', async () => {
  const a = await accept({ alpn: ['http/1.1'] });
  assert.equal(a.tls.alpnProtocol, 'http/1.1');
  assert.equal(a.resumed, false);
  await connectHead(a, 'early:');
  const { origin, toOrigin } = await originPair();
  // The answer goes to the pair, then the destination is handed over (as gateway/native-tls.ts does).
  await new Promise<void>((resolve) => a.decrypted.write(ANSWER, () => resolve()));
  a.relay.handOver(toOrigin, undefined, {});
  a.decrypted.resume();
  const atOrigin = readAll(origin);
  const atClient = readAll(a.tls);
  const upload = randomBytes(2 * 1024 * 1024 + 5);
  a.tls.end(upload);
  const received = await atOrigin;
  assert.equal(received.subarray(0, 6).toString(), 'early:', 'the held bytes go first');
  assert.ok(received.subarray(6).equals(upload));
  // The client half-closed; the destination still answers, then ends.
  const download = randomBytes(3 * 1024 * 1024 + 1);
  origin.end(download);
  const got = await atClient;
  assert.equal(got.subarray(0, ANSWER.length).toString('latin1'), ANSWER, "the client gets JavaScript's answer first");
  assert.ok(got.subarray(ANSWER.length).equals(download));
  const result = await a.done;
  assert.equal(result.error, undefined);
  assert.equal(result.bytesUp, upload.length + 6, 'up: towards the destination, the held bytes included');
  assert.equal(result.bytesDown, download.length);
  if (!a.decrypted.closed) await once(a.decrypted, 'close');
  origin.destroy();
  a.tls.destroy();
});

test('a client that offers no ALPN gets none; a request that is not a CONNECT flows to JavaScript unheld', async () => {
  const a = await accept();
  assert.equal(a.tls.alpnProtocol, false);
  const request = 'GET / HTTP/1.1\r\nHost: gw.test\r\n\r\nGET /second HTTP/1.1\r\nHost: gw.test\r\n\r\n';
  a.tls.write(request);
  const got = await readUntil(a.decrypted, (b) => b.length >= request.length);
  assert.equal(got.toString('latin1'), request);
  a.decrypted.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  a.tls.end();
  assert.match((await readAll(a.tls)).toString('latin1'), /^HTTP\/1\.1 404/);
  await a.done;
});

test('a refused CONNECT (JavaScript ends its side) lets the held bytes through and the session ends', async () => {
  const a = await accept();
  await connectHead(a, 'held');
  const rest = readUntil(a.decrypted, (b) => b.length >= 4);
  a.decrypted.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
  a.relay.release();
  assert.equal((await rest).toString(), 'held');
  assert.match((await readAll(a.tls)).toString('latin1'), /^HTTP\/1\.1 407/);
  a.tls.end();
  await a.done;
});

for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
  test(`${maxVersion}: a session resumes across Node's TLS server and the native one (the same ticket keys and session id context)`, async () => {
    const node = createTlsServer({ cert: settings.cert, key: settings.key, sessionIdContext: SESSION_ID_CONTEXT, ticketKeys: settings.ticketKeys[0], ALPNProtocols: ['h2', 'http/1.1'] }, (s) => {
      // Read until the client ends (ending at once would drop the TLS 1.3 ticket on its way).
      s.on('error', () => undefined);
      s.resume();
    });
    node.listen(0, '127.0.0.1');
    await once(node, 'listening');
    const nodePort = (node.address() as AddressInfo).port;
    const nodeHandshake = (session?: Buffer): Promise<Handshake> => tlsHandshake({ port: nodePort, servername: 'gw.test', maxVersion, ...(session === undefined ? {} : { session }) });
    // Node's ticket resumes on the native server.
    const first = await nodeHandshake();
    assert.equal(first.resumed, false);
    const onNative = await accept({ maxVersion, session: first.ticket });
    assert.equal(onNative.resumed, true, "a ticket from Node's server resumes here");
    assert.equal(onNative.tls.isSessionReused(), true);
    // The native server's ticket resumes on Node's.
    const fresh = await accept({ maxVersion });
    fresh.tls.write(CONNECT_HEAD);
    const nativeTicket = await fresh.ticket;
    const again = await nodeHandshake(nativeTicket);
    assert.equal(again.resumed, true, "a ticket from the native server resumes on Node's");
    for (const a of [onNative, fresh]) {
      a.relay.destroy();
      a.tls.destroy();
      await a.done;
    }
    node.close();
  });
}

test('garbage under the TLS after the hand-over ends the relay with an error and closes the destination', async () => {
  const a = await accept();
  await connectHead(a);
  const { origin, toOrigin } = await originPair();
  await new Promise<void>((resolve) => a.decrypted.write(ANSWER, () => resolve()));
  a.relay.handOver(toOrigin, undefined, {});
  a.decrypted.resume();
  await readUntil(a.tls, (b) => b.length >= ANSWER.length);
  const atOrigin = readAll(origin);
  a.tls.write('tunnelled');
  await readUntil(origin, (b) => b.length >= 9);
  // Not a TLS record: written under the TLS session, on the TCP connection itself.
  a.raw.write(Buffer.from('\x17\x03\x03\x00\x10 this is not a record at all, garbage'));
  const result = await a.done;
  assert.ok(result.error !== undefined, 'the relay ends with an error');
  assert.equal(result.bytesUp, 9);
  await atOrigin;
  origin.destroy();
  a.tls.destroy();
});

test('a client that vanishes mid-stream ends the relay and the destination hears the end', async () => {
  const a = await accept();
  await connectHead(a);
  const { origin, toOrigin } = await originPair();
  origin.on('error', () => undefined);
  await new Promise<void>((resolve) => a.decrypted.write(ANSWER, () => resolve()));
  a.relay.handOver(toOrigin, undefined, {});
  a.decrypted.resume();
  const atOrigin = readAll(origin);
  origin.write(randomBytes(1024 * 1024));
  await readUntil(a.tls, (b) => b.length > ANSWER.length);
  a.raw.resetAndDestroy();
  await a.done;
  await atOrigin;
  origin.destroy();
});

test('a slow destination stops the client at the kernel buffers: nothing queues without bound, every byte arrives once it reads', async () => {
  const a = await accept();
  await connectHead(a);
  const { origin, toOrigin } = await originPair();
  await new Promise<void>((resolve) => a.decrypted.write(ANSWER, () => resolve()));
  a.relay.handOver(toOrigin, undefined, {});
  a.decrypted.resume();
  origin.pause();
  const total = 48 * 1024 * 1024;
  const chunk = Buffer.alloc(1024 * 1024, 9);
  let flushed = 0;
  for (let i = 0; i < total / chunk.length; i++) a.tls.write(chunk, () => (flushed += chunk.length));
  a.tls.end();
  // Until the sender's progress stops (an upper bound is asserted: a starved engine only makes it easier).
  let last = -1;
  let still = 0;
  for (let i = 0; i < 500 && still < 10; i++) {
    await new Promise((r) => setTimeout(r, 20));
    still = flushed === last ? still + 1 : 0;
    last = flushed;
  }
  assert.ok(flushed < 32 * 1024 * 1024, `with the destination stalled, ${flushed} bytes left the client: something queued without bound`);
  let received = 0;
  origin.on('data', (c: Buffer) => (received += c.length));
  origin.resume();
  await once(origin, 'end');
  assert.equal(received, total);
  origin.end();
  const result = await a.done;
  assert.equal(result.bytesUp, total);
  a.tls.destroy();
});

test('a certificate the native server cannot load is refused when the context is built (the gateway keeps Node\'s TLS then)', () => {
  assert.throws(() => nativePath().serverContext({ ...settings, key: Buffer.from('-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n') }), /private key/);
  assert.throws(() => nativePath().serverContext({ ...settings, minVersion: 'TLSv1' }), /does not offer/);
});

