/**
 * The local proxy facing badly behaved applications: malformed requests, oversized and trickling
 * headers, a tunnel that cannot be opened. Each gets a clear answer and the proxy keeps serving.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { requestThenFin, startFinOrigin, type FinOrigin } from '../../test/support/fin-origin.js';
import { startOrigin, type Origin } from '../../test/support/origin.js';
import { requestThroughProxy, sendRaw } from '../../test/support/proxy-requests.js';
import { DIRECT, TUNNEL } from '../routing.js';
import { dialDirect } from './direct.js';
import { LocalProxy } from './local-proxy.js';

let origin: Origin;
let fin: FinOrigin;
let proxy: LocalProxy;
let port: number;

before(async () => {
  origin = await startOrigin();
  fin = await startFinOrigin();
  proxy = new LocalProxy({
    logger: createLogger({ name: 'test', level: 'silent' }),
    headersTimeoutMs: 1_500,
    // No gateway here: "tunnel" destinations fail the way an unreachable gateway does; the origin's ports go direct.
    router: { route: ({ port: p }) => (p === origin.httpPort || p === origin.httpsPort || p === fin.port ? DIRECT : TUNNEL) },
    opener: { open: () => Promise.reject(new PinholeError('PINHOLE_GATEWAY_UNREACHABLE')), openEarly: () => undefined },
  });
  ({ port } = await proxy.start());
});
after(async () => {
  await proxy.stop();
  await origin.stop();
  await fin.stop();
});

const stillServing = async (): Promise<void> => {
  const res = await requestThroughProxy({ proxy: { port }, url: `http://127.0.0.1:${origin.httpPort}/hello` });
  assert.equal(res.status, 200);
  const secure = await requestThroughProxy({ proxy: { port }, url: `https://127.0.0.1:${origin.httpsPort}/hello` });
  assert.equal(secure.status, 200);
};

const malformed: Array<[string, string]> = [
  ['a request line that is not HTTP', 'THIS IS NOT HTTP\r\n\r\n'],
  ['a CONNECT target without a port', 'CONNECT no-port-here HTTP/1.1\r\nHost: no-port-here\r\n\r\n'],
  ['a header line without a colon', 'CONNECT 127.0.0.1:443 HTTP/1.1\r\nthis header has no colon\r\n\r\n'],
  ['an origin-form request that is not for the PAC', 'GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'],
  ['an https:// absolute URI (that needs CONNECT)', 'GET https://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n'],
  ['a binary blob', '\x16\x03\x01\x00\xff\x01\x00\x00\r\n\r\n'],
];

for (const [story, bytes] of malformed) {
  test(`the local proxy answers ${story} with 400 and keeps serving`, async () => {
    const reply = await sendRaw({ port }, bytes, 10_000);
    assert.equal(reply.status, 400, `${reply.status} ${reply.reason}`);
    await stillServing();
  });
}

test('oversized request headers get 431', async () => {
  const reply = await sendRaw({ port }, `GET http://127.0.0.1:${origin.httpPort}/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`, 10_000);
  assert.equal(reply.status, 431);
  await stillServing();
});

test('headers that trickle in get 408 instead of holding the connection forever', async () => {
  const socket = netConnect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  const reply = await new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.once('close', () => resolve(text));
    socket.write('GET http://127.0.0.1/ HTTP/1.1\r\nX-Slow: ');
    const drip = setInterval(() => socket.writable && socket.write('a'), 200);
    socket.once('close', () => clearInterval(drip));
    setTimeout(() => {
      clearInterval(drip);
      socket.destroy();
    }, 15_000).unref();
  });
  assert.match(reply, /^HTTP\/1\.1 408 /);
  await stillServing();
});

test('an unreachable gateway is 502 PINHOLE_GATEWAY_UNREACHABLE, for CONNECT and for plain HTTP', async () => {
  const secure = await requestThroughProxy({ proxy: { port }, url: 'https://127.0.0.1:1/' });
  assert.equal(secure.status, 502);
  assert.equal(secure.headers['pinhole-error'], 'PINHOLE_GATEWAY_UNREACHABLE');
  const plain = await requestThroughProxy({ proxy: { port }, url: 'http://127.0.0.1:1/' });
  assert.equal(plain.status, 502);
  assert.equal(plain.headers['pinhole-error'], 'PINHOLE_GATEWAY_UNREACHABLE');
  assert.match(plain.body.toString(), /gateway could not be reached/);
});

test('GET /proxy.pac serves a PAC that points at this proxy', async () => {
  const reply = await sendRaw({ port }, 'GET /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['content-type'], 'application/x-ns-proxy-autoconfig');
  assert.match(reply.body.toString(), new RegExp(`PROXY 127\\.0\\.0\\.1:${port}`));
});

test('keep-alive: two absolute-URI requests on one application connection, one chunked, share one origin connection', async () => {
  const connectionsBefore = origin.connections.http;
  const socket = netConnect({ port, host: '127.0.0.1' });
  const text = await new Promise<string>((resolve, reject) => {
    let out = '';
    socket.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if ((out.match(/HTTP\/1\.1 200/g) ?? []).length === 2 && out.includes('"body":"chunked body"')) resolve(out);
    });
    socket.once('error', reject);
    socket.write(`GET http://127.0.0.1:${origin.httpPort}/hello HTTP/1.1\r\nHost: 127.0.0.1:${origin.httpPort}\r\n\r\n`);
    // The second request goes once the first answer is in, so its connection is free to reuse.
    const second = (): void => void socket.write(
      `POST http://127.0.0.1:${origin.httpPort}/echo HTTP/1.1\r\nHost: 127.0.0.1:${origin.httpPort}\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nchunked\r\n5\r\n body\r\n0\r\n\r\n`,
    );
    const waitFirst = setInterval(() => {
      if (out.includes('hello from the origin')) {
        clearInterval(waitFirst);
        second();
      }
    }, 10);
  });
  socket.destroy();
  assert.match(text, /hello from the origin/);
  assert.match(text, /"method":"POST"/);
  assert.equal(origin.connections.http - connectionsBefore, 1, 'the second request reused the first one\'s connection');
});

test('half-close on the direct route: a request sent with a FIN gets the whole answer', async () => {
  const request = Buffer.from('a request that ends with a FIN');
  const answer = await requestThenFin({ port }, `127.0.0.1:${fin.port}`, request);
  assert.ok(answer.equals(fin.answerFor(request.length)), `${answer.length} bytes arrived`);
  await stillServing();
});

test('half-close on a tunnel started early: the request and its FIN go at once, the answer waits for the gateway, then arrives whole', async () => {
  const early = new LocalProxy({
    logger: createLogger({ name: 'test', level: 'silent' }),
    opener: {
      open: () => Promise.reject(new PinholeError('PINHOLE_GATEWAY_UNREACHABLE')),
      // A stand-in for an HTTP/2 stream started before the gateway's answer: the destination itself,
      // and a gateway that answers only once the destination has the whole request, FIN included.
      openEarly: (target) => dialDirect(target, 5_000).then((stream) => ({ stream, answered: fin.nextAnswer() })),
    },
  });
  const { port: earlyPort } = await early.start();
  try {
    const request = Buffer.from('bytes sent before the gateway answered, then a FIN');
    const received = await requestThenFin({ port: earlyPort }, `127.0.0.1:${fin.port}`, request);
    assert.ok(received.equals(fin.answerFor(request.length)), `${received.length} bytes arrived`);
  } finally {
    await early.stop();
  }
});
