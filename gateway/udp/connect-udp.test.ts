import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { connect as h2connect, createServer as createH2Server, type ClientHttp2Session, type Http2ServerRequest, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket from 'ws';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { CapsuleReader, encodeDatagramCapsule } from '../../shared/udp/capsule.js';
import { formatConnectUdpPath } from '../../shared/udp/connect-udp-path.js';
import { UDP_WS_PATH } from '../../shared/udp/ws-frame.js';
import { handleConnectUdpStream, handleUdpWebSocketUpgrade, isConnectUdpRequest, isUdpUpgrade, type UdpAccessRecord, type UdpProxyDeps } from './connect-udp.js';
import { RecordList } from '../../test/support/record-list.js';
import { startUdpEcho } from '../../test/support/udp-echo.js';
import { UdpFlow } from './flows.js';

const AUTH = `Basic ${Buffer.from('alice:pw').toString('base64')}`;

async function startGateway(compat = false): Promise<{ h2Port: number; wsPort: number; access: UdpAccessRecord[]; accessLog: RecordList<UdpAccessRecord>; stop: () => Promise<void> }> {
  const accessLog = new RecordList<UdpAccessRecord>();
  const access = accessLog.items;
  const deps: UdpProxyDeps = {
    logger: createLogger({ name: 'connect-udp-test', level: 'silent' }),
    accessLog: accessLog.push,
    authenticate: async (header) => {
      if (header === undefined) throw new PinholeError('PINHOLE_AUTH_MISSING');
      if (header !== AUTH) throw new PinholeError('PINHOLE_AUTH_REJECTED');
      return 'alice';
    },
    openFlow: (target) =>
      UdpFlow.open(target, {
        decide: async ({ host }) => {
          // Allowed (as --restrict-to would), but the kernel connects no UDP socket there: no zone id, no SO_BROADCAST.
          if (host === 'fe80::1') return { address: host, family: 6 };
          if (host === '255.255.255.255') return { address: host, family: 4 };
          if (host !== '127.0.0.1') throw new PinholeError('PINHOLE_DEST_FORBIDDEN');
          return { address: host, family: 4 };
        },
      }),
  };
  const h2 = createH2Server({ settings: { enableConnectProtocol: true } });
  if (compat) {
    // As gateway/h2-proxy.ts receives CONNECT: through the compat API (on once there is a 'request' listener), whose request already reads the DATA.
    h2.on('request', (_req, res) => res.writeHead(404).end());
    h2.on('connect', (req: Http2ServerRequest) => {
      if (isConnectUdpRequest(req.headers)) void handleConnectUdpStream(req.stream, req.headers, deps, req);
      else req.stream.respond({ ':status': 400 }, { endStream: true });
    });
  } else {
    h2.on('stream', (stream, headers) => {
      if (isConnectUdpRequest(headers)) void handleConnectUdpStream(stream, headers, deps);
      else stream.respond({ ':status': 404 }, { endStream: true });
    });
  }
  const sockets = new Set<Socket>();
  const http = createHttpServer();
  http.on('upgrade', (req, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    if (isUdpUpgrade(req)) void handleUdpWebSocketUpgrade(req, socket, head, deps);
    else socket.destroy();
  });
  h2.listen(0, '127.0.0.1');
  http.listen(0, '127.0.0.1');
  await Promise.all([once(h2, 'listening'), once(http, 'listening')]);
  return {
    h2Port: (h2.address() as AddressInfo).port,
    wsPort: (http.address() as AddressInfo).port,
    access,
    accessLog,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise((r) => h2.close(r)), new Promise((r) => http.close(r))]);
    },
  };
}

async function session(port: number): Promise<ClientHttp2Session> {
  const s = h2connect(`http://127.0.0.1:${port}`);
  s.on('error', () => undefined);
  const [settings] = (await once(s, 'remoteSettings')) as [{ enableConnectProtocol?: boolean }];
  assert.equal(settings.enableConnectProtocol, true, 'the server announced extended CONNECT');
  return s;
}

const connectUdp = (s: ClientHttp2Session, host: string, port: number, auth: string | null = AUTH): ClientHttp2Stream =>
  s.request({
    ':method': 'CONNECT',
    ':protocol': 'connect-udp',
    ':scheme': 'https',
    ':authority': 'gateway.test',
    ':path': formatConnectUdpPath({ host, port }),
    'capsule-protocol': '?1',
    ...(auth === null ? {} : { 'proxy-authorization': auth }),
  });

for (const compat of [false, true]) {
  const via = compat ? "the compat API's 'connect' event, as gateway/h2-proxy.ts gets CONNECT" : "the 'stream' event";
  test(`CONNECT-UDP over a real HTTP/2 extended CONNECT (${via}): capsules in, datagrams out and back, unknown capsules skipped`, async () => {
    const echo = await startUdpEcho();
    const gateway = await startGateway(compat);
    const s = await session(gateway.h2Port);
    try {
      const stream = connectUdp(s, '127.0.0.1', echo.port);
      const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders];
      assert.equal(headers[':status'], 200);
      assert.equal(headers['capsule-protocol'], '?1');
      const received = new RecordList<string>();
      const got = received.items;
      const reader = new CapsuleReader((p) => received.push(Buffer.from(p).toString()));
      stream.on('data', (chunk: Buffer) => reader.push(chunk));
      // Two datagrams and an unknown capsule in one DATA frame, then one split across two writes.
      stream.write(Buffer.concat([encodeDatagramCapsule(Buffer.from('one')), Buffer.from([0x17, 0x02, 0xaa, 0xbb]), encodeDatagramCapsule(Buffer.from('two'))]));
      const third = encodeDatagramCapsule(Buffer.from('three'));
      stream.write(third.subarray(0, 3));
      stream.write(third.subarray(3));
      await received.until((all) => all.length >= 3, 'three echoed datagrams');
      assert.deepEqual(got, ['one', 'two', 'three']);
      stream.end();
      await once(stream, 'close');
      await gateway.accessLog.until((all) => all.length >= 1, 'the access record');
      assert.equal(gateway.access.length, 1);
      assert.equal(gateway.access[0]?.proto, 'h2-udp');
      assert.equal(gateway.access[0]?.datagramsUp, 3);
      assert.equal(gateway.access[0]?.datagramsDown, 3);
      assert.equal(gateway.access[0]?.user, 'alice');
    } finally {
      s.destroy();
      await gateway.stop();
      echo.socket.close();
    }
  });
}

const refusals: Array<[string, (s: ClientHttp2Session) => ClientHttp2Stream, number, string]> = [
  ['a private destination', (s) => connectUdp(s, '10.0.0.1', 53), 403, 'PINHOLE_DEST_FORBIDDEN'],
  ['a link-local address without a zone, which no UDP socket connects to', (s) => connectUdp(s, 'fe80::1', 53), 502, 'PINHOLE_CONNECT_FAILED'],
  ['the broadcast address, which a UDP socket connects to only with SO_BROADCAST', (s) => connectUdp(s, '255.255.255.255', 53), 502, 'PINHOLE_CONNECT_FAILED'],
  ['no credentials', (s) => connectUdp(s, '127.0.0.1', 53, null), 407, 'PINHOLE_AUTH_MISSING'],
  ['a wrong password', (s) => connectUdp(s, '127.0.0.1', 53, 'Basic eDp5'), 407, 'PINHOLE_AUTH_REJECTED'],
  [
    'a path outside the MASQUE template',
    (s) => s.request({ ':method': 'CONNECT', ':protocol': 'connect-udp', ':scheme': 'https', ':authority': 'g', ':path': '/udp/127.0.0.1/53', 'proxy-authorization': AUTH }),
    400,
    'PINHOLE_BAD_REQUEST',
  ],
];
for (const [name, open, status, code] of refusals) {
  test(`CONNECT-UDP refused for ${name}: ${status}, with Pinhole-Error ${code} once authenticated, plain before`, async () => {
    const gateway = await startGateway();
    const s = await session(gateway.h2Port);
    try {
      const stream = open(s);
      const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders];
      assert.equal(headers[':status'], status);
      // Refused after authentication (the policy's 403, the connect's 502): the code; before it, plain.
      const authenticated = status === 403 || status === 502;
      assert.equal(headers['pinhole-error'], authenticated ? code : undefined);
      if (status === 407) assert.equal(headers['proxy-authenticate'], 'Basic realm="proxy"');
      stream.resume();
      await once(stream, 'end');
      assert.equal(gateway.access[0]?.code, code);
    } finally {
      s.destroy();
      await gateway.stop();
    }
  });
}

test('UDP over a real WebSocket: one datagram per BINARY message both ways; a TEXT message closes it with 1002', async () => {
  const echo = await startUdpEcho();
  const gateway = await startGateway();
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${gateway.wsPort}${UDP_WS_PATH}`, { headers: { 'Pinhole-Target': `127.0.0.1:${echo.port}`, Authorization: AUTH } });
    await once(ws, 'open');
    const received = new RecordList<Buffer>();
    const got = received.items;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      assert.ok(isBinary);
      received.push(data);
    });
    ws.send(Buffer.from('a'), { binary: true });
    ws.send(Buffer.alloc(0), { binary: true });
    ws.send(Buffer.alloc(1400, 7), { binary: true });
    await received.until((all) => all.length >= 3, 'three echoed messages');
    assert.deepEqual(got.map((b) => b.length), [1, 0, 1400]);
    ws.send('end');
    const [code] = (await once(ws, 'close')) as [number];
    assert.equal(code, 1002);
  } finally {
    await gateway.stop();
    echo.socket.close();
  }
});

test('a WebSocket UDP request without Pinhole-Target is a 400, one to a private address a 403, one the kernel cannot connect to a 502, before any upgrade', async () => {
  const gateway = await startGateway();
  try {
    for (const [headers, status, code] of [
      [{ Authorization: AUTH }, 400, 'PINHOLE_BAD_REQUEST'],
      [{ Authorization: AUTH, 'Pinhole-Target': '192.168.1.1:53' }, 403, 'PINHOLE_DEST_FORBIDDEN'],
      [{ Authorization: AUTH, 'Pinhole-Target': '[fe80::1]:53' }, 502, 'PINHOLE_CONNECT_FAILED'],
      [{ Authorization: AUTH, 'Pinhole-Target': '255.255.255.255:53' }, 502, 'PINHOLE_CONNECT_FAILED'],
    ] as const) {
      const ws = new WebSocket(`ws://127.0.0.1:${gateway.wsPort}${UDP_WS_PATH}`, { headers });
      ws.on('error', () => undefined);
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number; headers: Record<string, string> }];
      assert.equal(res.statusCode, status);
      assert.equal(res.headers['pinhole-error'], status === 403 || status === 502 ? code : undefined, 'the code once authenticated; a malformed request gets a plain 400');
      ws.terminate();
    }
  } finally {
    await gateway.stop();
  }
});
