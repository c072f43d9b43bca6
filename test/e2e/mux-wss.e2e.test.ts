/**
 * WebSocket tunnels end to end with the real programs: `pinhole connect --transport wss` carries
 * CONNECT and absolute-URI requests and a 16 MiB download through the gateway's tunnel path;
 * each direction of a tunnel can end on its own (half-close), while a WebSocket client that does
 * not offer half-close keeps the old full close; `pinhole forward -L` carries a TCP echo; a
 * destination outside --restrict-to is refused with a clear error, both for the application and
 * in the forward's log.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createNetServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';
import { deterministicBytes, deterministicSha256, startOrigin, type Origin } from '../support/origin.js';
import { startClientOf, type RunningClient } from '../support/client.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { Peers, Program, explainFailure, listenPortOf, pinholeBin, waitUntil } from '../support/processes.js';
import { openTunnel, requestThroughProxy } from '../support/proxy-requests.js';

const peers = new Peers();
let origin: Origin;
let echo: Server;
let echoPort: number;
/** Reads the request to its end (the application's FIN), then answers ANSWER_BYTES and ends. */
let answerAfterEofPort: number;
/** Greets and ends its side at once, then reads whatever comes until the application's FIN. */
let greeterPort: number;
const greeterReceived: Buffer[] = [];
const ANSWER_BYTES = 1024 * 1024;
let gateway: RunningGateway;
let client: RunningClient;
let link: string;

before(async () => {
  origin = peers.add(await startOrigin());
  echo = createNetServer((s) => s.pipe(s));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as AddressInfo).port;
  peers.defer(() => echo.close());
  answerAfterEofPort = await listenLocally((socket) => {
    socket.resume();
    socket.once('end', () => socket.end(deterministicBytes(ANSWER_BYTES)));
  });
  greeterPort = await listenLocally((socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => greeterReceived.push(Buffer.concat(chunks)));
    socket.end('hello from a destination that has nothing more to say\n');
  });
  const destinations = [origin.httpsPort, origin.httpPort, echoPort, answerAfterEofPort, greeterPort];
  gateway = peers.add(await startGateway({ restrictTo: destinations.map((port) => `127.0.0.1:${port}`) }));
  link = await gateway.provision();
  client = peers.add(
    await startClientOf(gateway, { transport: 'wss' }),
  );
});
after(() => peers.close());

/** A half-open TCP server on loopback for the destinations above; closed with the other peers. */
async function listenLocally(onConnection: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createNetServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peers.defer(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** Everything the socket receives up to the destination's FIN, hashed. */
const receiveToEnd = (socket: Socket): Promise<{ bytes: number; sha256: string; text: string }> =>
  new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    let text = '';
    socket.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
      if (text.length < 200) text += c.toString();
    });
    socket.once('end', () => resolve({ bytes, sha256: hash.digest('hex'), text }));
    socket.once('error', reject);
  });

const https = (path: string): string => `https://127.0.0.1:${origin.httpsPort}${path}`;
const http = (path: string): string => `http://127.0.0.1:${origin.httpPort}${path}`;

test('with transport wss, an HTTPS request by CONNECT reaches the origin through a WebSocket tunnel', () =>
  explainFailure(peers, async () => {
    const res = await requestThroughProxy({ proxy: { port: client.port }, url: https('/hello'), ca: origin.certificate.cert });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello from the origin\n');
    const record = await waitUntil(
      () => gateway.accessLog().find((r) => r['target'] === `127.0.0.1:${origin.httpsPort}` && r['proto'] === 'wss'),
      10_000,
      'an access log line with proto wss',
    );
    assert.equal(record['user'], 'alice');
  }));

test('with transport wss, a plain HTTP request by absolute URI reaches the origin with its body', () =>
  explainFailure(peers, async () => {
    const res = await requestThroughProxy({ proxy: { port: client.port }, url: http('/echo?via=wss'), method: 'POST', body: 'carried in a websocket' });
    assert.equal(res.status, 200);
    const echoed = JSON.parse(res.body.toString()) as { url: string; body: string };
    assert.equal(echoed.url, '/echo?via=wss');
    assert.equal(echoed.body, 'carried in a websocket');
  }));

test('with transport wss, a 16 MiB HTTPS download arrives complete and unchanged', () =>
  explainFailure(peers, async () => {
    const length = 16 * 1024 * 1024;
    const res = await requestThroughProxy({ proxy: { port: client.port }, url: https(`/bytes/${length}`), sink: 'hash', timeoutMs: 50_000 });
    assert.equal(res.status, 200);
    assert.equal(res.bytes, length);
    assert.equal(res.sha256, deterministicSha256(length));
  }));

test('with transport wss, a destination outside --restrict-to is refused with 403 and the gateway code', () =>
  explainFailure(peers, async () => {
    const reply = await openTunnel({ proxy: { port: client.port }, target: '127.0.0.1:9' });
    reply.socket.destroy();
    assert.equal(reply.status, 403);
    assert.equal(reply.headers['pinhole-error'], 'PINHOLE_DEST_FORBIDDEN');
  }));

test('with transport wss, an application that half-closes after its request still receives the destination\'s whole 1 MiB answer', () =>
  explainFailure(peers, async () => {
    const tunnel = await openTunnel({ proxy: { port: client.port }, target: `127.0.0.1:${answerAfterEofPort}` });
    assert.equal(tunnel.status, 200);
    const answer = receiveToEnd(tunnel.socket);
    tunnel.socket.end('GET /everything HTTP/1.0\r\n\r\n');
    const got = await answer;
    tunnel.socket.destroy();
    assert.equal(got.bytes, ANSWER_BYTES);
    assert.equal(got.sha256, deterministicSha256(ANSWER_BYTES));
  }));

test('with transport wss, a destination that ends first still receives everything the application sends afterwards', () =>
  explainFailure(peers, async () => {
    const tunnel = await openTunnel({ proxy: { port: client.port }, target: `127.0.0.1:${greeterPort}` });
    assert.equal(tunnel.status, 200);
    tunnel.socket.allowHalfOpen = true; // keep our side writable after the destination's FIN
    const greeting = await receiveToEnd(tunnel.socket);
    assert.equal(greeting.text, 'hello from a destination that has nothing more to say\n');
    const before = greeterReceived.length;
    const closed = once(tunnel.socket, 'close');
    tunnel.socket.end(deterministicBytes(ANSWER_BYTES));
    await closed;
    const received = await waitUntil(() => greeterReceived[before], 10_000, 'the destination seeing the application\'s FIN');
    assert.equal(received.length, ANSWER_BYTES);
    assert.equal(createHash('sha256').update(received).digest('hex'), deterministicSha256(ANSWER_BYTES));
  }));

test('a WebSocket client that does not offer half-close keeps the old full close: the destination ending closes the WebSocket', () =>
  explainFailure(peers, async () => {
    const user = gateway.users[0]!;
    const ws = new WebSocket(`wss://127.0.0.1:${gateway.port}/pinhole/ws`, {
      // The gateway terminates TLS for its own name; the certificate is not what this story checks.
      createConnection: () => tlsConnect({ host: '127.0.0.1', port: gateway.port, servername: gateway.hostname, rejectUnauthorized: false }),
      perMessageDeflate: false,
      headers: {
        'Pinhole-Target': `127.0.0.1:${greeterPort}`,
        Authorization: `Basic ${Buffer.from(`${user.name}:${user.password}`).toString('base64')}`,
      },
    });
    const messages: { binary: boolean; data: Buffer }[] = [];
    ws.on('message', (data: Buffer, binary: boolean) => messages.push({ binary, data }));
    const [response] = (await once(ws, 'upgrade')) as [{ headers: Record<string, unknown> }];
    assert.equal(response.headers['pinhole-half-close'], undefined, 'the gateway does not offer what was not asked for');
    await once(ws, 'close');
    assert.ok(messages.length > 0 && messages.every((m) => m.binary), 'bytes only, no end-of-stream message');
    assert.equal(Buffer.concat(messages.map((m) => m.data)).toString(), 'hello from a destination that has nothing more to say\n');
  }));

const startForward = async (spec: string, extra: string[] = []): Promise<{ program: Program; port: number }> => {
  const program = peers.watch(new Program(pinholeBin, { name: 'pinhole-forward', args: ['forward', '-L', spec, link, '--transport', 'wss', ...extra] }));
  peers.defer(() => program.stop('SIGTERM', 5_000));
  const record = await program.waitForLog((r) => r.msg === 'The forward is listening.', 20_000, '"The forward is listening."');
  return { program, port: listenPortOf(record) };
};

/** What comes back before the connection ends (a reset counts as an end: the caller checks the text). */
const echoThrough = (port: number, text: string): Promise<string> =>
  new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => socket.write(text));
    let got = '';
    socket.on('data', (c: Buffer) => {
      got += c.toString();
      if (got.length >= text.length) {
        socket.destroy();
        resolve(got);
      }
    });
    socket.once('close', () => resolve(got));
    socket.once('error', () => resolve(got));
  });

test('pinhole forward -L carries a TCP echo through a WebSocket tunnel', () =>
  explainFailure(peers, async () => {
    const forward = await startForward(`0:127.0.0.1:${echoPort}`);
    assert.equal(await echoThrough(forward.port, 'ping through the forward'), 'ping through the forward');
    const stopped = await forward.program.stop('SIGTERM', 10_000);
    assert.equal(stopped.code, 0, 'SIGTERM is a graceful stop');
  }));

test('pinhole forward -L keeps half-close: a client that ends its side after the request still receives the whole 1 MiB answer', () =>
  explainFailure(peers, async () => {
    const forward = await startForward(`0:127.0.0.1:${answerAfterEofPort}`);
    const socket = netConnect({ host: '127.0.0.1', port: forward.port, allowHalfOpen: true });
    await once(socket, 'connect');
    const answer = receiveToEnd(socket);
    socket.end('GET /everything HTTP/1.0\r\n\r\n');
    const got = await answer;
    socket.destroy();
    assert.equal(got.bytes, ANSWER_BYTES);
    assert.equal(got.sha256, deterministicSha256(ANSWER_BYTES));
  }));

test('pinhole forward to a destination outside --restrict-to closes the connection and says why', () =>
  explainFailure(peers, async () => {
    const forward = await startForward('0:127.0.0.1:9');
    assert.equal(await echoThrough(forward.port, 'nobody hears this'), '', 'nothing comes back');
    const warning = await forward.program.waitForLog((r) => r['code'] === 'PINHOLE_DEST_FORBIDDEN', 10_000, 'a PINHOLE_DEST_FORBIDDEN log line');
    // The refusal names the rule and the flag that would lift it.
    assert.match(String(warning.msg), /is refused by the rule restrict-to .*--restrict-to 127\.0\.0\.1:9/);
  }));

test('pinhole forward with a malformed -L exits 2 with one line saying what is wrong', () =>
  explainFailure(peers, async () => {
    const program = new Program(pinholeBin, { name: 'pinhole-forward-bad', args: ['forward', '-L', '8022:host', link] });
    const status = await program.exited;
    assert.equal(status.code, 2);
    assert.match(program.stderr.split('\n')[0] ?? '', /^pinhole forward: -L 8022:host: .*expected \[BIND:\]PORT:HOST:PORT/);
  }));
