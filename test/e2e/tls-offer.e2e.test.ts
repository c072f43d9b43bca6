/**
 * The gateway's TLS offer and what it says before authentication (issue 28, item 9; testssl.sh's
 * scan is in testssl.e2e.test.ts): `--tls-profile modern` offers TLS 1.3 only, the default refuses
 * CBC and CCM8; and what nmap -sV style probes get back (a bare line, GET /, a request that never ends, a garbage TLS record, a proxy request
 * without credentials) never names the product.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { startGateway, type RunningGateway } from '../support/gateway.js';

const start = async (t: { after: (fn: () => Promise<unknown>) => void }, runArgs: string[] = []): Promise<RunningGateway> => {
  const gateway = await startGateway({ runArgs });
  t.after(() => gateway.stop());
  return gateway;
};

/** Everything the gateway sends on one connection (TLS or raw) to `bytes`, until it closes or `quietMs` pass without a byte. */
const probe = (gateway: RunningGateway, bytes: Buffer | string, options: { tls: boolean; end?: boolean; waitMs?: number }): Promise<string> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const tlsOptions: ConnectionOptions = { host: '127.0.0.1', port: gateway.port, servername: gateway.hostname, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] };
    const send = (): void => {
      if (options.end === false) socket.write(bytes);
      else socket.end(bytes);
    };
    const socket = options.tls ? tlsConnect(tlsOptions, send) : netConnect({ host: '127.0.0.1', port: gateway.port }, send);
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, options.waitMs ?? 15_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', done);
    socket.on('close', done);
  });

test('--tls-profile modern offers TLS 1.3 only; the default takes a TLS 1.2 client with an AEAD suite and refuses CBC', { timeout: 150_000 }, async (t) => {
  const handshake = (gateway: RunningGateway, options: ConnectionOptions): Promise<string> =>
    new Promise((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: gateway.port, servername: gateway.hostname, rejectUnauthorized: false, ...options }, () => {
        resolve(`${socket.getProtocol() ?? ''} ${socket.getCipher().name}`);
        socket.destroy();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(`refused ${err.code ?? err.message}`));
    });
  const intermediate = await start(t);
  assert.match(await handshake(intermediate, { maxVersion: 'TLSv1.2' }), /^TLSv1\.2 ECDHE-.*(GCM|CHACHA20)/);
  assert.match(await handshake(intermediate, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-CCM8' }), /^refused/);
  assert.match(await handshake(intermediate, {}), /^TLSv1\.3 /);
  const modern = await start(t, ['--tls-profile', 'modern']);
  assert.match(await handshake(modern, { maxVersion: 'TLSv1.2' }), /^refused/);
  assert.match(await handshake(modern, {}), /^TLSv1\.3 /);
});

test('what a scanner\'s probes get back never names the product: a bare line, GET /, a request that never ends, garbage, a proxy request without credentials', { timeout: 90_000 }, async (t) => {
  const gateway = await start(t, ['--header-timeout', '1']);
  const answers = {
    bareLine: await probe(gateway, 'hello\r\n\r\n', { tls: true }),
    getRoot: await probe(gateway, 'GET / HTTP/1.0\r\n\r\n', { tls: true }),
    neverEnds: await probe(gateway, 'GET / HTTP/1.1\r\nHost: x\r\n', { tls: true, end: false }),
    options: await probe(gateway, 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', { tls: true }),
    proxyRequest: await probe(gateway, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', { tls: true }),
    wrongPassword: await probe(gateway, `CONNECT example.com:443 HTTP/1.1\r\nProxy-Authorization: Basic ${Buffer.from('alice:wrong').toString('base64')}\r\n\r\n`, { tls: true, end: false }),
    rawLine: await probe(gateway, 'hello\r\n', { tls: false }),
    rawGet: await probe(gateway, 'GET / HTTP/1.0\r\n\r\n', { tls: false }),
    garbageRecord: await probe(gateway, Buffer.from('1603010005ffffffffff', 'hex'), { tls: false }),
  };
  for (const [name, answer] of Object.entries(answers)) assert.doesNotMatch(answer, /pinhole/i, `${name}: ${answer}`);
  assert.match(answers.bareLine, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(answers.neverEnds, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(answers.getRoot, /^HTTP\/1\.1 (200|404) /, 'the web site');
  assert.match(answers.proxyRequest, /^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
  assert.match(answers.proxyRequest, /\r\nProxy-Authenticate: Basic realm="proxy"\r\n/);
  assert.match(answers.wrongPassword, /^HTTP\/1\.1 407 /);
});
