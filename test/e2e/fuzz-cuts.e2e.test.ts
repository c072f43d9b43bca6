/**
 * Cutting valid exchanges (issue 28, item 1): at every door of the gateway and of `pinhole connect`,
 * a valid client exchange is replayed up to a byte position and then the connection is reset (RST)
 * or half-closed (FIN), for every position of the handshake heads (sampled further on in long
 * ones). One reset at the wrong moment used to kill `pinhole connect` (an unhandled 'error' after
 * the SOCKS5 handshake let go of its socket). Both processes must stay up, still serve a real
 * request, and give their descriptors back. Loopback only, bounded in count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { createServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { DEFAULT_USER } from '../support/gateway.js';
import { afterHostileClients } from '../support/door-health.js';
import { basicAuth } from '../support/proxy-requests.js';

type Mode = 'rst' | 'fin';
interface Door {
  readonly name: string;
  /** Which process listens, and whether the bytes travel inside TLS (with this ALPN). */
  readonly at: 'gateway' | 'client';
  readonly alpn?: 'h2' | 'http/1.1';
  readonly bytes: Buffer;
  /** Bytes of the exchange that form its handshake heads: every position there is cut. */
  readonly head: number;
}

/** Every position of the head and the end; beyond the head, about 40 samples. */
const positions = (door: Door): number[] => {
  const all = new Set<number>();
  for (let i = 0; i <= Math.min(door.head, door.bytes.length); i++) all.add(i);
  const rest = door.bytes.length - door.head;
  const step = Math.max(1, Math.ceil(rest / 40));
  for (let i = door.head; i <= door.bytes.length; i += step) all.add(i);
  all.add(door.bytes.length);
  return [...all].sort((a, b) => a - b);
};

/** What a client writes first, captured from a server that never answers: until `complete` says it is all there. */
const capture = (client: (port: number) => { destroy: () => void }, complete: (bytes: Buffer) => boolean): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    let peer: { destroy: () => void } | undefined;
    const server = createServer((socket) => {
      let got = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (!complete(got)) return;
        resolve(got);
        socket.destroy();
        peer?.destroy();
        server.close();
      });
    });
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      peer = client((server.address() as AddressInfo).port);
    });
  });

/** A TLS record's full length is in its header: the ClientHello is complete when the record is. */
const tlsRecordComplete = (bytes: Buffer): boolean => bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3);

/** HTTP/2: the connection preface, then frames until the first HEADERS frame is whole. */
const h2HeadersComplete = (bytes: Buffer): boolean => {
  let at = 24;
  while (at + 9 <= bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    if (at + 9 + length > bytes.length) return false;
    if (bytes[at + 3] === 0x1) return true;
    at += 9 + length;
  }
  return false;
};

test('a valid exchange cut by a reset or a FIN at every byte position, at every door: both processes stay up, keep serving, and give their descriptors back', { timeout: 175_000 }, async (t) => {
  await afterHostileClients(t, async (stack) => {
    const target = `127.0.0.1:${stack.origin.httpsPort}`;
    const plainTarget = `127.0.0.1:${stack.origin.httpPort}`;
    const auth = basicAuth(DEFAULT_USER.name, DEFAULT_USER.password);
    const connect = Buffer.from(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${auth}\r\n\r\n`);
    const localConnect = Buffer.from(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    const absolute = (withAuth: boolean): Buffer =>
      Buffer.from(`GET http://${plainTarget}/hello HTTP/1.1\r\nHost: ${plainTarget}\r\n${withAuth ? `Proxy-Authorization: ${auth}\r\n` : ''}Connection: close\r\n\r\n`);
    const wsUpgrade = Buffer.from(
      `GET /pinhole/ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nPinhole-Target: ${target}\r\nAuthorization: ${auth}\r\n\r\n`,
    );
    const otherUpgrade = Buffer.from('GET /chat HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    const [portHigh, portLow] = [stack.origin.httpsPort >> 8, stack.origin.httpsPort & 0xff];
    const socks = Buffer.from([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, portHigh, portLow]);
    const clientHello = await capture((port) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, servername: stack.gateway.hostname, ALPNProtocols: ['h2', 'http/1.1'] });
      socket.on('error', () => undefined);
      return socket;
    }, tlsRecordComplete);
    const h2 = await capture((port) => {
      const session = h2connect(`http://127.0.0.1:${port}`);
      session.on('error', () => undefined);
      const stream = session.request({ ':method': 'CONNECT', ':authority': target, 'proxy-authorization': auth });
      stream.on('error', () => undefined);
      return session;
    }, h2HeadersComplete);

    const doors: Door[] = [
      { name: 'gateway: the TLS ClientHello', at: 'gateway', bytes: clientHello, head: clientHello.length },
      { name: 'gateway, HTTP/1.1: CONNECT', at: 'gateway', alpn: 'http/1.1', bytes: connect, head: connect.length },
      { name: 'gateway, HTTP/1.1: an absolute-URI GET', at: 'gateway', alpn: 'http/1.1', bytes: absolute(true), head: absolute(true).length },
      { name: 'gateway, HTTP/1.1: a WebSocket tunnel', at: 'gateway', alpn: 'http/1.1', bytes: wsUpgrade, head: wsUpgrade.length },
      { name: 'gateway, HTTP/1.1: an Upgrade on another path (the web site\'s)', at: 'gateway', alpn: 'http/1.1', bytes: otherUpgrade, head: otherUpgrade.length },
      { name: 'gateway, HTTP/2: a CONNECT stream', at: 'gateway', alpn: 'h2', bytes: h2, head: h2.length },
      { name: 'pinhole connect: CONNECT', at: 'client', bytes: localConnect, head: localConnect.length },
      { name: 'pinhole connect: an absolute-URI GET', at: 'client', bytes: absolute(false), head: absolute(false).length },
      { name: 'pinhole connect: SOCKS5 greeting and CONNECT', at: 'client', bytes: socks, head: socks.length },
    ];

    /** Send the first `at` bytes of the exchange, then reset or half-close; wait (bounded) for the door to close. */
    const cut = (door: Door, at: number, mode: Mode): Promise<void> =>
      new Promise((resolve) => {
        const raw: Socket = netConnect({ host: '127.0.0.1', port: door.at === 'client' ? stack.client.port : stack.gateway.port });
        const done = (): void => {
          clearTimeout(timer);
          raw.destroy();
          resolve();
        };
        const timer = setTimeout(done, 2_000);
        raw.on('error', done);
        raw.on('close', done);
        const prefix = door.bytes.subarray(0, at);
        const send = (stream: Socket): void => {
          stream.on('data', () => undefined);
          if (mode === 'fin') stream.end(prefix);
          else stream.write(prefix, () => raw.resetAndDestroy());
        };
        if (door.alpn === undefined) raw.once('connect', () => send(raw));
        else {
          const secure = tlsConnect({ socket: raw, servername: stack.gateway.hostname, rejectUnauthorized: false, ALPNProtocols: [door.alpn] }, () => send(secure));
          secure.on('error', done);
        }
      });

    // Four cuts at a time, door by door, so a crash is pinned to its door.
    let cuts = 0;
    for (const door of doors) {
      const jobs = positions(door).flatMap((at) => (['rst', 'fin'] as const).map((mode) => ({ at, mode })));
      const lane = async (): Promise<void> => {
        for (let job = jobs.shift(); job !== undefined; job = jobs.shift()) {
          await cut(door, job.at, job.mode);
          cuts++;
        }
      };
      await Promise.all([lane(), lane(), lane(), lane()]);
      assert.ok(stack.gateway.program.running && stack.client.program.running, `both processes are up after the cuts at "${door.name}"`);
    }
    assert.ok(cuts > 1_000, `${cuts} cuts`);
    return `${cuts} cuts`;
  });
});
