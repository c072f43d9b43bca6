/** The WebSocket duplex both sides use, over a real WebSocket on 127.0.0.1. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { wsDuplex } from './ws-duplex.js';

async function pair(halfClose: boolean): Promise<{ client: Duplex; gateway: Duplex; clientWs: WebSocket; server: Server }> {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const clientWs = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, { perMessageDeflate: false });
  const [[gatewayWs]] = await Promise.all([accepted, once(clientWs, 'open')]);
  return { client: wsDuplex(clientWs, { halfClose }), gateway: wsDuplex(gatewayWs, { halfClose }), clientWs, server };
}

const readAll = (s: Duplex): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });

test('half-close: each direction ends on its own, then the WebSocket closes with 1000', async () => {
  const { client, gateway, clientWs, server } = await pair(true);
  const request = readAll(gateway);
  client.end('request');
  assert.equal((await request).toString(), 'request');
  // The client's side is done sending, and still reads the whole answer.
  const answer = readAll(client);
  const big = Buffer.alloc(8 * 1024 * 1024, 7);
  gateway.end(big);
  assert.deepEqual(await answer, big);
  const [code] = (await once(clientWs, 'close')) as [number];
  assert.equal(code, 1000);
  server.close();
});

test('half-close: a close before both ends destroys the other side with a coded error', async () => {
  const { client, gateway, server } = await pair(true);
  gateway.on('error', () => undefined);
  const failed = once(client, 'error') as Promise<[Error & { code: string }]>;
  gateway.destroy(new Error('boom'));
  const [err] = await failed;
  assert.equal(err.code, 'PINHOLE_GATEWAY_CLOSED');
  server.close();
});

test('without half-close (an old peer), ending one side closes the WebSocket and ends the other', async () => {
  const { client, gateway, server } = await pair(false);
  const got = readAll(gateway);
  client.end('bye');
  assert.equal((await got).toString(), 'bye');
  server.close();
});
