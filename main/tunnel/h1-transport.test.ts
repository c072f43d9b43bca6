/**
 * HTTP/1.1 tunnels against the seed's own cloud side: Debian's stunnel4 in server mode in front of
 * Squid with basic_ncsa_auth and an `htpasswd` users file (test/support/seed.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { createLogger } from '../../shared/log.js';
import { PinholeError } from '../../shared/errors.js';
import { startOrigin, type Origin } from '../../test/support/origin.js';
import { startSeedCloud, type SeedCloud } from '../../test/support/seed.js';
import { H1Transport } from './h1-transport.js';
import { TlsSessionCache } from './dial.js';
import type { GatewayDialOptions } from './transport.js';

const seedUser = { name: 'test', password: 'qY8kd0Cf' };
let origin: Origin;
let cloud: SeedCloud;

before(async () => {
  origin = await startOrigin();
  cloud = await startSeedCloud({ users: [seedUser], connectPorts: [origin.httpsPort], hostname: 'gw.example.test' });
});
after(async () => {
  await cloud?.stop();
  await origin?.stop();
});

const logger = createLogger({ name: 'test', level: 'silent' });
const options = (password = seedUser.password): GatewayDialOptions => ({
  endpoints: [{ host: '127.0.0.1', port: cloud.port }],
  serverName: 'gw.example.test',
  trust: { kind: 'pin', pin: cloud.stunnel.cert.sha256 },
  user: seedUser.name,
  password,
  logger,
});

/** GET /hello over TLS inside the tunnel. */
const helloThrough = (stream: Duplex): Promise<string> =>
  new Promise((resolve, reject) => {
    const secure = tlsConnect({ socket: stream as unknown as TLSSocket, rejectUnauthorized: false, servername: 'localhost' });
    let text = '';
    secure.once('secureConnect', () => secure.write(`GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
    secure.on('data', (chunk: Buffer) => (text += chunk.toString()));
    secure.once('end', () => resolve(text));
    secure.once('error', reject);
  });

/** A session cache that says when a dial first found a session to resume (the pool refilling after the first handshakes). */
class ResumableSessions extends TlsSessionCache {
  private found: () => void = () => undefined;
  readonly offered = new Promise<void>((resolve) => (this.found = resolve));

  override get(key: string): Buffer | undefined {
    const session = super.get(key);
    if (session !== undefined) this.found();
    return session;
  }
}

test('HTTP/1.1 tunnels through stunnel + Squid reach the origin, from a warm pool with resumed TLS sessions', async () => {
  const sessions = new ResumableSessions();
  const transport = new H1Transport({ ...options(), sessions, poolSize: 2 });
  try {
    await transport.warm();
    for (let i = 0; i < 4; i++) {
      const stream = await transport.open({ host: '127.0.0.1', port: origin.httpsPort });
      const reply = await helloThrough(stream);
      assert.match(reply, /^HTTP\/1\.1 200/);
      assert.match(reply, /hello from the origin/);
    }
    // Squid answers without Pinhole-Early-Data: a tunnel through the seed never starts before its answer.
    assert.equal(transport.startsEarly, false, 'stunnel + Squid is never started early');
    // Pool refills dial again; once one of them found a session ticket, the pool's connections resume it.
    const resumed = await sessions.offered.then(async () => {
      const stream = (await transport.open({ host: '127.0.0.1', port: origin.httpsPort })) as TLSSocket;
      const reused = stream.isSessionReused();
      stream.destroy();
      return reused;
    });
    assert.equal(resumed, true, 'a pooled connection resumed the TLS session instead of a full handshake');
  } finally {
    await transport.close();
  }
});

test('a wrong password through stunnel + Squid is PINHOLE_AUTH_REJECTED naming the user, not a hang', async () => {
  const transport = new H1Transport({ ...options('not-the-password'), poolSize: 0 });
  try {
    await assert.rejects(transport.open({ host: '127.0.0.1', port: origin.httpsPort }), (err: unknown) => {
      assert.ok(err instanceof PinholeError);
      assert.equal(err.code, 'PINHOLE_AUTH_REJECTED');
      assert.equal(err.message, 'The gateway rejected the user name or password for test.');
      assert.equal(err.details?.['status'], 407);
      return true;
    });
  } finally {
    await transport.close();
  }
});

test("Squid's refusal of a port outside SSL_ports is PINHOLE_DEST_FORBIDDEN", async () => {
  const transport = new H1Transport({ ...options(), poolSize: 0 });
  try {
    await assert.rejects(transport.open({ host: '127.0.0.1', port: 1 }), (err: unknown) => {
      assert.ok(err instanceof PinholeError);
      assert.equal(err.code, 'PINHOLE_DEST_FORBIDDEN');
      return true;
    });
  } finally {
    await transport.close();
  }
});

test('the wrong certificate pin stops before CONNECT is sent', async () => {
  const transport = new H1Transport({ ...options(), trust: { kind: 'pin', pin: '00'.repeat(32) }, poolSize: 0 });
  try {
    await assert.rejects(transport.open({ host: '127.0.0.1', port: origin.httpsPort }), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_TLS_PIN_MISMATCH');
  } finally {
    await transport.close();
  }
});
