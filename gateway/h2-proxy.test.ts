/**
 * The h2 door's keepalive (issue 28 item 8): a session whose client no longer answers PINGs (it
 * vanished, or its connection is no longer read) ends within two intervals, so its socket is not
 * held forever; a client that answers keeps its session. Real sockets on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as h2Connect } from 'node:http2';
import { connect as netConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { H2Proxy } from './h2-proxy.js';
import type { TunnelRequest } from './tunnel-request.js';

const door = async (pingIntervalMs: number): Promise<{ port: number; accepted: Socket[]; close: () => void }> => {
  // No stream is opened in these tests: the door never asks its tunnel requests for anything.
  const h2 = new H2Proxy({} as TunnelRequest, { pingIntervalMs });
  const accepted: Socket[] = [];
  const server = createServer((socket) => {
    accepted.push(socket);
    h2.handle(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    accepted,
    close: () => {
      for (const s of accepted) s.destroy();
      server.close();
    },
  };
};

/** The client's connection preface and an empty SETTINGS frame (RFC 9113 3.4), then nothing: no PING is ever answered. */
const PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

test('a session whose client never answers a PING is ended, and its socket closed', { timeout: 30_000 }, async (t) => {
  const gateway = await door(200);
  t.after(() => gateway.close());
  const silent = netConnect({ host: '127.0.0.1', port: gateway.port });
  silent.on('error', () => undefined);
  await once(silent, 'connect');
  silent.write(PREFACE);
  // The gateway's frames (9-byte headers, RFC 9113 4.1): count the PINGs it sent before giving up.
  let bytes = Buffer.alloc(0);
  let pings = 0;
  silent.on('data', (chunk: Buffer) => {
    bytes = Buffer.concat([bytes, chunk]);
    while (bytes.length >= 9) {
      const length = bytes.readUIntBE(0, 3);
      if (bytes.length < 9 + length) break;
      if (bytes[3] === 0x6 && ((bytes[4] ?? 0) & 0x1) === 0) pings += 1;
      bytes = bytes.subarray(9 + length);
    }
  });
  await once(silent, 'close');
  assert.equal(gateway.accepted.length, 1);
  assert.ok(gateway.accepted[0]?.destroyed, 'the gateway closed its socket');
  // One PING, unanswered for a whole interval, is enough (node:http2 alone would wait for ten).
  assert.equal(pings, 1);
});

test('a client that answers PINGs keeps its session over many intervals', { timeout: 30_000 }, async (t) => {
  // A second between PINGs: the answer comes back in far less, even on a loaded machine.
  const gateway = await door(1000);
  t.after(() => gateway.close());
  const client = h2Connect(`http://127.0.0.1:${gateway.port}`);
  client.on('error', () => undefined);
  await once(client, 'connect');
  // The client's node:http2 answers each PING itself; count them until three intervals have passed.
  let pings = 0;
  const threePings = new Promise<void>((resolve) =>
    client.on('ping', () => {
      pings += 1;
      if (pings === 3) resolve();
    }),
  );
  await threePings;
  assert.equal(client.closed || client.destroyed, false);
  client.close();
});
