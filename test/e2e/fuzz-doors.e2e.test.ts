/**
 * Fuzzing the doors (issue 9): random and mutated bytes - ClientHellos, PROXY headers, HTTP/1.1
 * requests, HTTP/2 frames, WebSocket frames - thrown at the gateway port (raw, and inside TLS with
 * ALPN http/1.1 and h2) and at the local proxy of `pinhole connect`. Bounded in count and time,
 * loopback only. Both processes must stay up, still serve a real request, and give their
 * descriptors back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import fc from 'fast-check';
import { DEFAULT_USER } from '../support/gateway.js';
import { afterHostileClients } from '../support/door-health.js';
import { basicAuth } from '../support/proxy-requests.js';

type Door = 'gateway-raw' | 'gateway-h1' | 'gateway-h2' | 'local';
interface Shot {
  door: Door;
  bytes: Uint8Array;
}

/** A real ClientHello, as Node's TLS client sends it (captured from a socket that never answers). */
const captureClientHello = (): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        resolve(chunk);
        socket.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const client = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'gw.example.test', ALPNProtocols: ['h2', 'http/1.1'] });
      client.on('error', () => undefined);
    });
    server.once('error', reject);
  });

/** A base, then a few bytes overwritten, the end cut, and random bytes appended. */
const mutated = (base: Buffer): fc.Arbitrary<Uint8Array> =>
  fc
    .tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat({ max: base.length }), fc.uint8Array({ maxLength: 64 }), fc.boolean())
    .map(([flips, cut, tail, truncate]) => {
      const bytes = Buffer.from(base);
      for (const [at, value] of flips) bytes[at % bytes.length] = value;
      return Buffer.concat([truncate ? bytes.subarray(0, cut) : bytes, tail]);
    });

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const h2Frame = fc
  .tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 9 }), fc.uint8Array({ maxLength: 96 }), fc.boolean())
  .map(([type, flags, stream, payload, lie]) => {
    const head = Buffer.alloc(9);
    head.writeUIntBE(lie ? payload.length + 7 : payload.length, 0, 3);
    head[3] = type;
    head[4] = flags;
    head.writeUInt32BE(stream, 5);
    return Buffer.concat([head, payload]);
  });
const wsFrame = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 80 }))
  .map(([b0, b1, payload]) => Buffer.concat([Buffer.from([b0, b1]), payload]));

test('random and mutated bytes at both doors: both processes stay up, keep serving, and give their descriptors back', { timeout: 300_000 }, async (t) => {
  await afterHostileClients(t, async (stack) => {
    const target = `127.0.0.1:${stack.origin.httpsPort}`;
    const auth = basicAuth(DEFAULT_USER.name, DEFAULT_USER.password);
    const connectRequest = Buffer.from(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${auth}\r\n\r\n`);
    const absoluteRequest = Buffer.from(`GET http://${target}/hello HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${auth}\r\nContent-Length: 5\r\n\r\nhello`);
    const wsUpgrade = Buffer.from(
      `GET /pinhole/ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nPinhole-Target: ${target}\r\nAuthorization: ${auth}\r\n\r\n`,
    );
    const clientHello = await captureClientHello();
    const proxyV1 = Buffer.from('PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n');
    const proxyV2 = Buffer.from('0d0a0d0a000d0a515549540a2111000ccb007107c000020100000000dc0401bb', 'hex');

    const shot: fc.Arbitrary<Shot> = fc.oneof(
      fc.record({ door: fc.constantFrom<Door>('gateway-raw', 'gateway-h1', 'gateway-h2', 'local'), bytes: fc.uint8Array({ maxLength: 1024 }) }),
      fc.record({ door: fc.constant<Door>('gateway-raw'), bytes: mutated(clientHello) }),
      fc.record({ door: fc.constant<Door>('gateway-raw'), bytes: fc.oneof(mutated(proxyV1), mutated(proxyV2)).map((p) => Buffer.concat([p, clientHello])) }),
      fc.record({ door: fc.constantFrom<Door>('gateway-h1', 'local'), bytes: fc.oneof(mutated(connectRequest), mutated(absoluteRequest)) }),
      fc.record({ door: fc.constant<Door>('gateway-h2'), bytes: fc.array(h2Frame, { maxLength: 8 }).map((frames) => Buffer.concat([H2_PREFACE, ...frames])) }),
      fc.record({ door: fc.constant<Door>('gateway-h1'), bytes: fc.array(wsFrame, { maxLength: 6 }).map((frames) => Buffer.concat([wsUpgrade, ...frames])) }),
    );

    /** Throw the bytes, half-close, wait for the door to answer or close (bounded), then hang up. */
    const fire = ({ door, bytes }: Shot): Promise<void> =>
      new Promise((resolve) => {
        let socket: Socket;
        const done = (): void => {
          clearTimeout(timer);
          socket.destroy();
          resolve();
        };
        const send = (): void => {
          socket.end(bytes);
        };
        if (door === 'gateway-h1' || door === 'gateway-h2') {
          socket = tlsConnect(
            { host: '127.0.0.1', port: stack.gateway.port, servername: stack.gateway.hostname, rejectUnauthorized: false, ALPNProtocols: [door === 'gateway-h2' ? 'h2' : 'http/1.1'] },
            send,
          );
        } else socket = netConnect({ host: '127.0.0.1', port: door === 'local' ? stack.client.port : stack.gateway.port }, send);
        const timer = setTimeout(done, 1_500);
        socket.on('error', done);
        socket.on('close', done);
        socket.on('data', () => undefined);
      });

    let runs = 0;
    await fc.assert(
      fc.asyncProperty(shot, async (s) => {
        runs++;
        await fire(s);
        return stack.gateway.program.running && stack.client.program.running;
      }),
      { numRuns: 400, interruptAfterTimeLimit: 150_000, seed: Number(process.env['FUZZ_SEED'] ?? Date.now() % 2 ** 31), verbose: 1 },
    );
    assert.ok(runs >= 50, `only ${runs} shots fired within the time limit`);
    return `${runs} shots`;
  });
});
