/**
 * The wss transport against the gateway's WebSocket tunnel handler, both real, over TLS on
 * loopback: bytes cross intact, each direction can end on its own (half-close) while the other
 * keeps flowing, an older gateway keeps the old full close, and every refusal reaches the caller
 * as the right PinholeError.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer, createWebSocketStream } from 'ws';
import { handleTunnelUpgrade, isTunnelUpgrade, type TunnelAccessRecord } from '../../gateway/ws-tunnel.js';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { makeSelfSignedCertificate, type TestCertificate } from '../support/certs.js';
import { WssTransport } from '../../main/tunnel/wss-transport.js';
import { deterministicBytes, deterministicSha256 } from '../support/origin.js';
import { RecordList } from '../support/record-list.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const USER = 'alice';
const PASSWORD = 'pw with spaces';

let cert: TestCertificate;
let echo: Server;
let gateway: HttpsServer;
let proxy: Server;
let proxyConnects = 0;
/** Destination ports the test gateway lets through, besides the echo server. */
const allowedPorts = new Set<number>([1]);
const accessLog = new RecordList<TunnelAccessRecord>();
const access = accessLog.items;

const portOf = (server: { address(): AddressInfo | string | null }): number => (server.address() as AddressInfo).port;

before(async () => {
  cert = await makeSelfSignedCertificate({ commonName: 'gw.example.test', altNames: ['gw.example.test'] });
  echo = createNetServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  gateway = createHttpsServer({ cert: cert.cert, key: cert.key, ALPNProtocols: ['http/1.1'] }, (_req, res) => res.writeHead(404).end());
  gateway.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    if (!isTunnelUpgrade(req)) {
      socket.destroy();
      return;
    }
    void handleTunnelUpgrade(req, socket, head, {
      logger,
      accessLog: accessLog.push,
      authenticate: async (header) => {
        if (header === undefined) throw new PinholeError('PINHOLE_AUTH_MISSING');
        const [scheme, value] = header.split(' ');
        const decoded = Buffer.from(value ?? '', 'base64').toString();
        if (scheme !== 'Basic' || decoded !== `${USER}:${PASSWORD}`) throw new PinholeError('PINHOLE_AUTH_REJECTED');
        return USER;
      },
      openUpstream: (target) =>
        new Promise<Socket>((resolve, reject) => {
          if (target.port !== portOf(echo) && !allowedPorts.has(target.port)) {
            reject(new PinholeError('PINHOLE_DEST_FORBIDDEN'));
            return;
          }
          const s = netConnect({ host: target.host, port: target.port });
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
    });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  // A minimal corporate proxy: CONNECT only, then a raw pipe.
  proxy = createNetServer((client) => {
    client.once('data', (chunk: Buffer) => {
      const m = /^CONNECT ([^ ]+):(\d+) HTTP\/1\.1\r\n/.exec(chunk.toString('latin1'));
      if (!m) {
        client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
        return;
      }
      proxyConnects++;
      const up = netConnect({ host: m[1]!, port: Number(m[2]) }, () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        client.pipe(up).pipe(client);
      });
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
});

after(async () => {
  echo?.close();
  gateway?.closeAllConnections();
  gateway?.close();
  proxy?.close();
});

const transport = (overrides: Partial<ConstructorParameters<typeof WssTransport>[0]> = {}): WssTransport =>
  new WssTransport({
    endpoints: [{ host: '127.0.0.1', port: portOf(gateway) }],
    serverName: 'gw.example.test',
    trust: { kind: 'pin', pin: cert.sha256 },
    user: USER,
    password: PASSWORD,
    logger,
    poolSize: 1,
    ...overrides,
  });

const roundTrip = async (stream: Duplex, payload: Buffer): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  let got = 0;
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= payload.length) resolve();
    });
    stream.once('error', reject);
    stream.once('close', () => reject(new Error(`the tunnel closed after ${got} of ${payload.length} bytes`)));
    stream.write(payload);
  });
  stream.destroy();
  return Buffer.concat(chunks);
};

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('a tunnel over WebSocket carries 4 MiB to a TCP echo server and back unchanged', async () => {
  const t = transport();
  try {
    const stream = await t.open({ host: '127.0.0.1', port: portOf(echo) });
    const payload = randomBytes(4 * 1024 * 1024);
    const back = await roundTrip(stream, payload);
    assert.equal(sha(back), sha(payload));
  } finally {
    await t.close();
  }
});

test('tunnels after the first use warm connections and still work, many at once', async () => {
  const t = transport({ poolSize: 2 });
  try {
    await t.warm();
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const stream = await t.open({ host: '127.0.0.1', port: portOf(echo) });
        return (await roundTrip(stream, Buffer.from(`tunnel ${i}`))).toString();
      }),
    );
    assert.deepEqual(results, Array.from({ length: 8 }, (_, i) => `tunnel ${i}`));
  } finally {
    await t.close();
  }
});

test('a wrong password is a 407 PINHOLE_AUTH_REJECTED, not a hang', async () => {
  const t = transport({ password: 'wrong' });
  try {
    await assert.rejects(t.open({ host: '127.0.0.1', port: portOf(echo) }), (err: unknown) => {
      assert.ok(err instanceof PinholeError);
      assert.equal(err.code, 'PINHOLE_AUTH_REJECTED');
      assert.equal(err.status, 407);
      return true;
    });
    assert.equal(access.at(-1)?.status, 407);
  } finally {
    await t.close();
  }
});

test('a destination the policy refuses is a 403 PINHOLE_DEST_FORBIDDEN with the gateway sentence', async () => {
  const t = transport();
  try {
    await assert.rejects(t.open({ host: '127.0.0.1', port: 9 }), (err: unknown) => {
      assert.ok(err instanceof PinholeError);
      assert.equal(err.code, 'PINHOLE_DEST_FORBIDDEN');
      assert.match(err.message, /does not allow/);
      return true;
    });
  } finally {
    await t.close();
  }
});

test('a destination that refuses the connection is a 502 PINHOLE_CONNECT_FAILED', async () => {
  const t = transport();
  try {
    await assert.rejects(t.open({ host: '127.0.0.1', port: 1 }), (err: unknown) => {
      assert.ok(err instanceof PinholeError);
      assert.equal(err.code, 'PINHOLE_CONNECT_FAILED');
      return true;
    });
  } finally {
    await t.close();
  }
});

test('a certificate that does not match the pin stops the connection before the password is sent', async () => {
  const t = transport({ trust: { kind: 'pin', pin: 'AB'.repeat(32) }, poolSize: 0 });
  const before = access.length;
  try {
    await assert.rejects(t.open({ host: '127.0.0.1', port: portOf(echo) }), (err: unknown) => {
      assert.ok(err instanceof PinholeError);
      assert.equal(err.code, 'PINHOLE_TLS_PIN_MISMATCH');
      return true;
    });
    assert.equal(access.length, before, 'the gateway saw no tunnel request');
  } finally {
    await t.close();
  }
});

test('through an upstream HTTP proxy, tunnels are CONNECTed to the gateway first', async () => {
  const t = transport({ upstreamProxy: { host: '127.0.0.1', port: portOf(proxy) }, poolSize: 0 });
  const before = proxyConnects;
  try {
    const stream = await t.open({ host: '127.0.0.1', port: portOf(echo) });
    assert.equal((await roundTrip(stream, Buffer.from('via the corporate proxy'))).toString(), 'via the corporate proxy');
    assert.equal(proxyConnects, before + 1);
  } finally {
    await t.close();
  }
});

test('the access log records user, target, bytes and proto wss for a finished tunnel', async () => {
  const t = transport({ poolSize: 0 });
  try {
    const stream = await t.open({ host: '127.0.0.1', port: portOf(echo) });
    await roundTrip(stream, Buffer.alloc(1000, 1));
    const target = `127.0.0.1:${portOf(echo)}`;
    // The gateway writes the record when the tunnel ends, after the echo came back.
    const record = await accessLog.first((r) => r.status === 200 && r.bytesUp === 1000, 'a 200 record with 1000 bytes up');
    assert.equal(record.user, USER);
    assert.equal(record.proto, 'wss');
    assert.equal(record.target, target);
  } finally {
    await t.close();
  }
});

/**
 * A destination that works like a request/answer server or a greeter: `onConnection` decides when
 * it writes and ends; `received` is what the first connection got before the client's FIN.
 */
async function destination(onConnection: (socket: Socket, request: Promise<Buffer>) => void): Promise<{ port: number; received: Promise<Buffer>; close: () => void }> {
  let first: ((b: Buffer) => void) | undefined;
  const received = new Promise<Buffer>((resolve) => (first = resolve));
  const sockets = new Set<Socket>();
  const server = createNetServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const request = new Promise<Buffer>((resolve) => socket.once('end', () => resolve(Buffer.concat(chunks))));
    if (first) void request.then(first);
    first = undefined;
    onConnection(socket, request);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  allowedPorts.add(portOf(server));
  return {
    port: portOf(server),
    received,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** Everything the stream delivers up to its clean end; an error or a close without an end rejects. */
const readToEnd = (stream: Duplex): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
    stream.once('close', () => reject(new Error('the tunnel closed before its end')));
  });

const MiB = 1024 * 1024;

/** Opens a tunnel to `dest`, runs the story on it, then checks the tunnel closed cleanly. */
async function halfCloseStory(dest: { port: number; close: () => void }, story: (stream: Duplex) => Promise<void>): Promise<void> {
  const t = transport({ poolSize: 0 });
  try {
    const stream = await t.open({ host: '127.0.0.1', port: dest.port });
    const closed = once(stream, 'close');
    await story(stream);
    await closed;
    assert.equal(stream.errored, null, 'a clean close, not an error');
  } finally {
    dest.close();
    await t.close();
  }
}

test('an application that ends its side after the request still receives the destination\'s whole 1 MiB answer', async () => {
  const answering = await destination((socket, request) => void request.then(() => socket.end(deterministicBytes(MiB))));
  await halfCloseStory(answering, async (stream) => {
    const answer = readToEnd(stream);
    stream.end('GET /whole-answer\n');
    assert.equal((await answering.received).toString(), 'GET /whole-answer\n');
    const body = await answer;
    assert.equal(body.length, MiB);
    assert.equal(sha(body), deterministicSha256(MiB));
  });
});

test('a destination that ends first still receives the 1 MiB the application sends afterwards', async () => {
  const greeter = await destination((socket) => socket.end('greetings, and that is all from me\n'));
  await halfCloseStory(greeter, async (stream) => {
    assert.equal((await readToEnd(stream)).toString(), 'greetings, and that is all from me\n');
    const payload = randomBytes(MiB);
    stream.end(payload);
    assert.equal(sha(await greeter.received), sha(payload));
  });
});

test('against an older gateway that does not echo Pinhole-Half-Close, ending the application side closes the whole tunnel as before', async () => {
  // The version-1 gateway before half-close: one WebSocket stream piped to the destination.
  const offered: (string | undefined)[] = [];
  const old = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const oldGateway = createHttpsServer({ cert: cert.cert, key: cert.key }, (_req, res) => res.writeHead(404).end());
  oldGateway.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    offered.push(req.headers['pinhole-half-close'] as string | undefined);
    const [host, port] = String(req.headers['pinhole-target']).split(':');
    const upstream = netConnect({ host: host!, port: Number(port) }, () =>
      old.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        const stream = createWebSocketStream(ws);
        stream.pipe(upstream).pipe(stream);
        stream.on('error', () => upstream.destroy());
        upstream.on('error', () => stream.destroy());
        upstream.once('close', () => stream.destroy());
        stream.once('close', () => upstream.destroy());
      }),
    );
  });
  await new Promise<void>((r) => oldGateway.listen(0, '127.0.0.1', r));
  const answering = await destination((socket, request) => void request.then(() => socket.end('an answer nobody will read')));
  const t = transport({ endpoints: [{ host: '127.0.0.1', port: portOf(oldGateway) }], poolSize: 0 });
  try {
    const stream = await t.open({ host: '127.0.0.1', port: answering.port });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => undefined);
    stream.end('a request');
    await new Promise((r) => stream.once('close', r));
    assert.deepEqual(offered, ['1'], 'the client offered half-close');
    assert.equal(Buffer.concat(chunks).length, 0, 'the old full close: the answer is lost, as it always was');
  } finally {
    answering.close();
    oldGateway.closeAllConnections();
    oldGateway.close();
    await t.close();
  }
});
