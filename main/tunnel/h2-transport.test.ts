/**
 * The HTTP/2 transport on its own, against the small CONNECT server: many streams on one TLS
 * connection, GOAWAY handled without the user noticing, PING round trips, refusals by code.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createLogger } from '../../shared/log.js';
import { PinholeError } from '../../shared/errors.js';
import { makeSelfSignedCertificate, type TestCertificate } from '../../test/support/certs.js';
import { H2Transport } from './h2-transport.js';
import { openTransport } from './negotiate.js';
import { startConnectServer, type ConnectServer } from '../../test/support/connect-server.js';
import type { GatewayDialOptions } from './transport.js';

let cert: TestCertificate;
let echo: Server;
let echoPort: number;
let server: ConnectServer;

before(async () => {
  cert = await makeSelfSignedCertificate({ commonName: 'gw.example.test', altNames: ['gw.example.test'] });
  echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
  echoPort = (echo.address() as AddressInfo).port;
  server = await startConnectServer({ cert: cert.cert, key: cert.key, user: 'alice', password: 'pw' });
});
after(async () => {
  await server.stop();
  await new Promise((resolve) => echo.close(resolve));
});

const options = (): GatewayDialOptions => ({
  endpoints: [{ host: '127.0.0.1', port: server.port }],
  serverName: 'gw.example.test',
  trust: { kind: 'pin', pin: cert.sha256 },
  user: 'alice',
  password: 'pw',
  logger: createLogger({ name: 'test', level: 'silent' }),
});

const roundTrip = (stream: Duplex, text: string): Promise<string> =>
  new Promise((resolve, reject) => {
    let got = '';
    stream.on('data', (chunk: Buffer) => {
      got += chunk.toString();
      if (got.length >= text.length) resolve(got);
    });
    stream.once('error', reject);
    stream.write(text);
  });

test('a hundred CONNECT streams share one warm TLS connection, and PING measures the round trip', async () => {
  const before = server.tlsConnections;
  const transport = await openTransport('h2', options());
  try {
    assert.equal(transport.kind, 'h2');
    const streams = await Promise.all(Array.from({ length: 100 }, () => transport.open({ host: '127.0.0.1', port: echoPort })));
    const replies = await Promise.all(streams.map((s, i) => roundTrip(s, `stream ${i}`)));
    replies.forEach((reply, i) => assert.equal(reply, `stream ${i}`));
    for (const s of streams) s.destroy();
    assert.equal(server.tlsConnections - before, 1);
    assert.equal(transport.stats().gatewayConnections, 1);
    // The session's first PING left before the first CONNECT and frames arrive in order: by the
    // streams' answers, its answer (the round trip) has arrived.
    assert.equal(typeof transport.stats().rttMs, 'number');
  } finally {
    await transport.close();
  }
});

test('after a GOAWAY the open stream keeps working and the next tunnel rides a fresh connection', async () => {
  const transport = new H2Transport(options());
  try {
    const first = await transport.open({ host: '127.0.0.1', port: echoPort });
    assert.equal(await roundTrip(first, 'before'), 'before');
    const before = server.tlsConnections;
    // The tunnel is the HTTP/2 stream itself: its session is the connection that gets the GOAWAY.
    const goaway = once((first as ClientHttp2Stream).session as ClientHttp2Session, 'goaway');
    server.goaway();
    await goaway;
    const second = await transport.open({ host: '127.0.0.1', port: echoPort });
    assert.equal(await roundTrip(second, 'after'), 'after');
    assert.equal(server.tlsConnections - before, 1, 'one new TLS connection');
    first.removeAllListeners('data');
    assert.equal(await roundTrip(first, 'still'), 'still', 'the stream opened before GOAWAY still works');
    first.destroy();
    second.destroy();
  } finally {
    await transport.close();
  }
});

test('a refusal is a PinholeError with the code the gateway sent', async () => {
  const transport = new H2Transport(options());
  try {
    await assert.rejects(transport.open({ host: '127.0.0.1', port: 9 }), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_PORT_FORBIDDEN' && err.status === 403);
  } finally {
    await transport.close();
  }
});

test('an early tunnel carries the bytes written before the gateway answered, and a refusal rejects its answer with the code', async () => {
  const transport = new H2Transport(options());
  try {
    const early = await transport.openEarly({ host: '127.0.0.1', port: echoPort });
    // Written at once, before anyone waited for the 200: nothing is lost or reordered.
    const echoed = roundTrip(early.stream, 'first bytes, sent with the CONNECT');
    await early.answered;
    assert.equal(await echoed, 'first bytes, sent with the CONNECT');
    early.stream.destroy();

    const refused = await transport.openEarly({ host: '127.0.0.1', port: 9 });
    refused.stream.on('error', () => undefined);
    refused.stream.write('a ClientHello that will go nowhere');
    await assert.rejects(refused.answered, (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_PORT_FORBIDDEN');
  } finally {
    await transport.close();
  }
});
