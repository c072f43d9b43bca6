/**
 * How the client decides it reached its gateway: pin, CA file with the gateway's name, system
 * store, or nothing (loudly). Real TLS handshakes against a loopback server.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import type { Trust } from '../../shared/profile.js';
import { makeSelfSignedCertificate, type TestCertificate } from '../../test/support/certs.js';
import { LogRing } from '../log-ring.js';
import { dialGateway, TlsSessionCache } from './dial.js';
import { certificateSha256, INSECURE_WARNING, pinMatches, tlsOptionsFor, warnIfInsecure } from './verify.js';

let cert: TestCertificate;
let server: Server;
let port: number;
const serverNames: Array<string | false | null> = [];

before(async () => {
  cert = await makeSelfSignedCertificate({ commonName: 'gw.example.test', altNames: ['gw.example.test'] });
  server = createServer({ cert: cert.cert, key: cert.key }, (socket: TLSSocket) => {
    serverNames.push(socket.servername);
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise((resolve) => server.close(resolve)));

const logger = createLogger({ name: 'test', level: 'silent' });
const dial = (trust: Trust, serverName = 'gw.example.test'): Promise<TLSSocket> =>
  dialGateway({ endpoints: [{ host: '127.0.0.1', port }], serverName, trust, user: 'u', password: 'p', logger }, ['http/1.1'], new TlsSessionCache());

test('the pin is the SHA-256 of the leaf certificate, in any case and with or without colons', () => {
  const der = Buffer.from('not really a certificate');
  const hex = certificateSha256(der);
  assert.ok(pinMatches(der, hex));
  assert.ok(pinMatches(der, hex.toLowerCase().match(/../g)?.join(':') ?? ''));
  assert.ok(!pinMatches(der, '00'.repeat(32)));
  assert.ok(!pinMatches(der, 'abc'));
});

test('the matching pin connects, with SNI set to the gateway name', async () => {
  const seen = serverNames.length;
  const socket = await dial({ kind: 'pin', pin: cert.sha256 });
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  assert.equal(serverNames.length, seen + 1);
  assert.equal(serverNames.at(-1), 'gw.example.test');
});

test('a certificate announced as the next one (nextPins, from a profile refresh) is accepted after the rotation', async () => {
  const socket = await dial({ kind: 'pin', pin: 'AA'.repeat(32), nextPins: [cert.sha256] });
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await assert.rejects(dial({ kind: 'pin', pin: 'AA'.repeat(32), nextPins: ['BB'.repeat(32)] }), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_TLS_PIN_MISMATCH');
});

test('a mismatching pin is PINHOLE_TLS_PIN_MISMATCH with the sentence about TLS inspection', async () => {
  await assert.rejects(dial({ kind: 'pin', pin: 'AA'.repeat(32) }), (err: unknown) => {
    assert.ok(err instanceof PinholeError);
    assert.equal(err.code, 'PINHOLE_TLS_PIN_MISMATCH');
    assert.match(err.message, /inspecting TLS/);
    assert.equal(err.details?.['presented'], cert.sha256);
    return true;
  });
});

test('a CA file trusts the gateway only under its own name', async () => {
  const socket = await dial({ kind: 'ca', caFile: cert.certPath });
  socket.destroy();
  await assert.rejects(dial({ kind: 'ca', caFile: cert.certPath }, 'other.example.test'), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_TLS_UNTRUSTED');
});

test('the system store does not trust a self-signed gateway', async () => {
  await assert.rejects(dial({ kind: 'system' }), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_TLS_UNTRUSTED');
});

test('an IP literal as server name sends no SNI', () => {
  assert.equal(tlsOptionsFor({ kind: 'insecure' }, '127.0.0.1').servername, undefined);
  assert.equal(tlsOptionsFor({ kind: 'insecure' }, 'gw.example.test').servername, 'gw.example.test');
});

test('insecure mode connects and says loudly that verification is off', async () => {
  const ring = new LogRing();
  warnIfInsecure({ kind: 'insecure' }, createLogger({ name: 'test', destination: ring }));
  assert.deepEqual(ring.get().map((l) => [l.level, l.msg]), [['warn', INSECURE_WARNING]]);
  const socket = await dial({ kind: 'insecure' });
  socket.destroy();
});

test('an unreachable gateway is PINHOLE_GATEWAY_UNREACHABLE naming the endpoint', async () => {
  await assert.rejects(
    dialGateway({ endpoints: [{ host: '127.0.0.1', port: 1 }], serverName: 'gw.example.test', trust: { kind: 'insecure' }, user: 'u', password: 'p', logger }, ['h2'], new TlsSessionCache()),
    (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_GATEWAY_UNREACHABLE' && err.message.includes('127.0.0.1:1'),
  );
});
