/**
 * The gateway's WebSocket tunnel handler spoken to by a raw `ws` client, so the wire is what the
 * test sees: half-close is used only when the client offers it, `end` travels as TEXT after the
 * last BINARY bytes, and a client without the offer keeps the old full close.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { createLogger } from '../shared/log.js';
import { HALF_CLOSE_HEADER, TARGET_HEADER } from '../shared/ws-tunnel.js';
import { makeSelfSignedCertificate } from '../test/support/certs.js';
import { handleTunnelUpgrade, isTunnelUpgrade, type TunnelAccessRecord } from './ws-tunnel.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const portOf = (server: { address(): AddressInfo | string | null }): number => (server.address() as AddressInfo).port;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A destination that sends `greeting`, ends its side first, and reports everything it then receives. */
async function greetingDestination(t: TestContext, greeting: Buffer): Promise<{ port: number; received: Promise<Buffer> }> {
  let deliver: (b: Buffer) => void = () => undefined;
  const received = new Promise<Buffer>((resolve) => (deliver = resolve));
  const server = createNetServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => deliver(Buffer.concat(chunks)));
    socket.once('close', () => deliver(Buffer.concat(chunks)));
    socket.on('error', () => socket.destroy());
    socket.end(greeting);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return { port: portOf(server), received };
}

/** A TLS gateway whose only job is the tunnel path, letting anyone through to any loopback port. */
async function tunnelGateway(t: TestContext): Promise<{ port: number; access: TunnelAccessRecord[] }> {
  const cert = await makeSelfSignedCertificate({ commonName: 'gw.example.test', altNames: ['gw.example.test'] });
  const access: TunnelAccessRecord[] = [];
  const server = createHttpsServer({ cert: cert.cert, key: cert.key }, (_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    if (!isTunnelUpgrade(req)) return socket.destroy();
    void handleTunnelUpgrade(req, socket, head, {
      logger,
      accessLog: (r) => access.push(r),
      authenticate: async () => 'alice',
      openUpstream: (target) =>
        new Promise<Socket>((resolve, reject) => {
          const s = netConnect({ host: '127.0.0.1', port: target.port }, () => resolve(s));
          s.once('error', reject);
        }),
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: portOf(server), access };
}

interface Client {
  ws: WebSocket;
  echoed: string | undefined;
  /** Every message as it came: BINARY bytes, or the TEXT as a string. */
  messages: (Buffer | string)[];
  closed: Promise<number>;
}

async function rawClient(gatewayPort: number, targetPort: number, offerHalfClose: boolean): Promise<Client> {
  const headers: Record<string, string> = { [TARGET_HEADER]: `127.0.0.1:${targetPort}`, Authorization: 'Basic YWxpY2U6cHc=' };
  if (offerHalfClose) headers[HALF_CLOSE_HEADER] = '1';
  const ws = new WebSocket(`wss://127.0.0.1:${gatewayPort}/pinhole/ws`, { headers, rejectUnauthorized: false, perMessageDeflate: false });
  const client: Client = { ws, echoed: undefined, messages: [], closed: once(ws, 'close').then(([code]) => code as number) };
  ws.once('upgrade', (res) => {
    const value = res.headers[HALF_CLOSE_HEADER.toLowerCase()];
    client.echoed = Array.isArray(value) ? value[0] : value;
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => client.messages.push(isBinary ? data : data.toString()));
  await once(ws, 'open');
  return client;
}

const bytesOf = (messages: (Buffer | string)[]): Buffer => Buffer.concat(messages.filter((m): m is Buffer => Buffer.isBuffer(m)));

test('a client offering half-close gets it: the destination ends first, and the client can still send it 1 MiB', async (t) => {
  const gateway = await tunnelGateway(t);
  const destination = await greetingDestination(t, Buffer.from('hello, then FIN'));
  const client = await rawClient(gateway.port, destination.port, true);
  assert.equal(client.echoed, '1', 'the 101 echoes Pinhole-Half-Close');
  while (!client.messages.includes('end')) await once(client.ws, 'message');
  assert.equal(bytesOf(client.messages).toString(), 'hello, then FIN');
  assert.equal(client.messages.at(-1), 'end', 'the TEXT end comes after the last bytes');

  const payload = randomBytes(1024 * 1024);
  for (let i = 0; i < payload.length; i += 100_000) client.ws.send(payload.subarray(i, i + 100_000), { binary: true });
  client.ws.send('end', { binary: false });
  assert.equal(sha(await destination.received), sha(payload), 'everything sent after the destination ended arrived');
  assert.equal(await client.closed, 1000, 'both directions ended: a normal close');
  while (gateway.access.length === 0) await new Promise((r) => setImmediate(r));
  assert.equal(gateway.access[0]?.bytesUp, payload.length);
});

test('a client without the half-close header keeps the old behaviour: the destination ending closes the WebSocket', async (t) => {
  const gateway = await tunnelGateway(t);
  const destination = await greetingDestination(t, Buffer.from('hello, then FIN'));
  const client = await rawClient(gateway.port, destination.port, false);
  assert.equal(client.echoed, undefined, 'no Pinhole-Half-Close in the 101');
  await client.closed;
  assert.equal(bytesOf(client.messages).toString(), 'hello, then FIN');
  assert.ok(
    client.messages.every((m) => Buffer.isBuffer(m)),
    'only BINARY messages: no end-of-stream signal',
  );
});

test('bytes after the client said end are a protocol error that tears the tunnel down', async (t) => {
  const gateway = await tunnelGateway(t);
  const sockets: Socket[] = [];
  const server = createNetServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.resume();
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.close();
    for (const s of sockets) s.destroy();
  });
  const client = await rawClient(gateway.port, portOf(server), true);
  client.ws.send('end', { binary: false });
  client.ws.send(Buffer.from('too late'), { binary: true });
  assert.notEqual(await client.closed, 1000, 'not a normal close');
  while (gateway.access.length === 0) await new Promise((r) => setImmediate(r));
  assert.equal(gateway.access[0]?.bytesUp, 0, 'nothing after the end reached the destination');
});
