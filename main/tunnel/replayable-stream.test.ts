/**
 * An early tunnel refused unprocessed by a stopping gateway (REFUSED_STREAM) is sent again on a
 * fresh connection with the bytes the application had already written: the application never
 * notices. Past the replay limit, or once answered, nothing is kept.
 */
import assert from 'node:assert/strict';
import { constants, createSecureServer, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../shared/log.js';
import { makeSelfSignedCertificate } from '../../test/support/certs.js';
import { H2Transport } from './h2-transport.js';
import { REPLAY_LIMIT, ReplayableStream } from './replayable-stream.js';

const readText = (stream: NodeJS.ReadableStream, length: number): Promise<string> =>
  new Promise((resolve, reject) => {
    let got = '';
    stream.on('data', (chunk: Buffer) => {
      got += chunk.toString();
      if (got.length >= length) resolve(got);
    });
    stream.once('error', reject);
  });

test('what was written before the move is written again to the next stream, and what comes after follows it', async () => {
  // The first stream swallows what it gets (the gateway refused it); the next one is an echo.
  const first = new Duplex({ write: (_chunk, _encoding, done) => done(), read: () => undefined });
  const next = new PassThrough();
  const stream = new ReplayableStream(first);
  stream.write('hello ');
  stream.replaceWith(next);
  stream.write('world');
  assert.equal(await readText(stream, 11), 'hello world', 'the next stream (an echo) got both writes, in order');
  stream.settle();
  assert.equal(stream.canReplay, false);
  assert.throws(() => stream.replaceWith(new PassThrough()), /Nothing to replay/);
  stream.destroy();
});

test(`past ${REPLAY_LIMIT / 1024} KiB written nothing more is kept, so no replay is offered`, () => {
  const stream = new ReplayableStream(new PassThrough({ highWaterMark: 4 * REPLAY_LIMIT }));
  stream.write(Buffer.alloc(REPLAY_LIMIT));
  assert.equal(stream.canReplay, true);
  stream.write(Buffer.alloc(1));
  assert.equal(stream.canReplay, false);
  stream.destroy();
});

test('an early tunnel whose CONNECT a stopping gateway refused (REFUSED_STREAM + GOAWAY) goes through on a fresh connection, bytes included', async (t) => {
  const cert = await makeSelfSignedCertificate({ commonName: 'gw.example.test', altNames: ['gw.example.test'] });
  const sessions: ServerHttp2Session[] = [];
  let refused = 0;
  const server = createSecureServer({ cert: cert.cert, key: cert.key, ALPNProtocols: ['h2'] });
  server.on('session', (session: ServerHttp2Session) => sessions.push(session));
  server.on('stream', (stream: ServerHttp2Stream) => {
    // A stream closed with REFUSED_STREAM reports it as an error on this side too.
    stream.on('error', () => undefined);
    if (sessions.length === 1) {
      refused++;
      stream.session?.goaway(constants.NGHTTP2_NO_ERROR, 0);
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    stream.respond({ ':status': 200 });
    stream.pipe(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const session of sessions) session.destroy();
    server.close();
  });
  const transport = new H2Transport({
    endpoints: [{ host: '127.0.0.1', port: (server.address() as AddressInfo).port }],
    serverName: 'gw.example.test',
    trust: { kind: 'pin', pin: cert.sha256 },
    user: 'alice',
    password: 'pw',
    logger: createLogger({ name: 'test', level: 'silent' }),
  });
  t.after(() => transport.close());
  const { stream, answered } = await transport.openEarly({ host: 'example.org', port: 443 });
  stream.write('first bytes, sent with the CONNECT');
  await answered;
  assert.equal(await readText(stream, 34), 'first bytes, sent with the CONNECT');
  assert.equal(refused, 1);
  assert.equal(sessions.length, 2, 'the second CONNECT rode a fresh connection');
  stream.destroy();
});

test('holding until the answer (a whole HTTP/1.1 or WebSocket connection): nothing is read and the end is not passed on before settle, even across a move', async () => {
  const first = new PassThrough();
  first.write('HTTP/1.1 200 the answer head, read by the transport');
  const stream = new ReplayableStream(first, { holdUntilAnswer: true });
  const received: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => received.push(chunk));
  stream.end('request');
  const next = new PassThrough();
  stream.replaceWith(next);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(received.length, 0, 'nothing read before the answer');
  assert.equal(next.writableEnded, false, 'the end waits for the answer');
  assert.equal(next.read()?.toString(), 'request', 'the bytes were replayed on the next connection');
  next.write('from the destination');
  stream.settle();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(next.writableEnded, true, 'the end goes on once answered');
  assert.equal(Buffer.concat(received).toString(), 'from the destination');
  stream.destroy();
});

test('a tunnel that ended cleanly both ways leaves its inner stream to close on its own (an h2 stream destroyed early sends RST_STREAM)', async () => {
  const inners = [0, 1].map(() => {
    const inner = new Duplex({ write: (_chunk, _encoding, done) => done(), read: () => undefined, autoDestroy: false });
    const destroyed: Array<Error | undefined> = [];
    const destroy = inner.destroy.bind(inner);
    inner.destroy = (err?: Error) => (destroyed.push(err), destroy(err));
    return { inner, destroyed };
  });
  const [clean, broken] = inners as [(typeof inners)[0], (typeof inners)[0]];
  const stream = new ReplayableStream(clean.inner);
  stream.settle();
  stream.resume();
  stream.end('bye');
  clean.inner.push(null);
  await new Promise((resolve) => stream.once('close', resolve));
  assert.deepEqual(clean.destroyed, [], 'both directions ended: the inner stream is not destroyed');
  const failing = new ReplayableStream(broken.inner);
  failing.on('error', () => undefined);
  broken.inner.on('error', () => undefined);
  failing.destroy(new Error('the application reset'));
  await new Promise((resolve) => failing.once('close', resolve));
  assert.equal(broken.destroyed[0]?.message, 'the application reset', 'an error still goes on to the inner stream');
});
