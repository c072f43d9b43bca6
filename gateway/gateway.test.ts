import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect as h2connect, type ClientHttp2Stream } from 'node:http2';
import { connect as netConnect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { createLogger } from '../shared/log.js';
import type { AccessRecord } from './access-log.js';
import { init } from './cli/init.js';
import { setUserPassword } from './cli/user.js';
import { loadConfig, type GatewayFile } from './config.js';
import { Gateway, type GatewayDeps } from './gateway.js';
import { RecordList } from '../test/support/record-list.js';

const run = promisify(execFile);
const PASSWORD = 'correct horse';
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function startOrigin(t: TestContext): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      res.setHeader('x-seen-proxy-auth', String(req.headers['proxy-authorization'] ?? 'none'));
      res.end(`${req.method} ${req.url} ${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, server };
}

async function startGateway(t: TestContext, overrides: Partial<GatewayFile> = {}, deps: Pick<GatewayDeps, 'ticketKeys'> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-gw-'));
  await init({ dir, hostname: 'gw.example.test', force: false });
  await setUserPassword(join(dir, 'users.htpasswd'), 'alice', PASSWORD);
  const config = loadConfig(dir, { listen: '127.0.0.1:0', ...overrides });
  const access = new RecordList<AccessRecord>();
  const gateway = new Gateway(config, { logger: createLogger({ name: 'test', level: process.env.GW_LOG ?? 'silent' }), accessLog: access.push, ...deps });
  const address = await gateway.listen();
  t.after(async () => {
    await gateway.close(0);
    await rm(dir, { recursive: true, force: true });
  });
  return { gateway, port: address.port, records: access.items, access, dir };
}

const tlsTo = (port: number, alpn = ['http/1.1']): Promise<TLSSocket> =>
  new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'gw.example.test', rejectUnauthorized: false, ALPNProtocols: alpn }, () => resolve(s));
    s.once('error', reject);
  });

/** Send raw bytes inside TLS and collect the reply until the server closes or `until` matches. */
async function exchange(port: number, bytes: string, until?: RegExp): Promise<string> {
  const socket = await tlsTo(port);
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (until?.test(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text));
    socket.write(bytes);
  });
}

test('curl reaches a local origin through the gateway by CONNECT and by absolute URI, with hop-by-hop headers removed', async (t) => {
  const origin = await startOrigin(t);
  const { port, records, access } = await startGateway(t, { restrictTo: [`127.0.0.1:${origin.port}`] });
  const proxy = `https://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}`;
  const viaConnect = await run('curl', ['-sS', '--proxy-insecure', '-p', '-x', proxy, `http://127.0.0.1:${origin.port}/tunnelled`]);
  assert.match(viaConnect.stdout, /^GET \/tunnelled $/);
  const viaUri = await run('curl', ['-sS', '-i', '--proxy-insecure', '-x', proxy, '-d', 'hello=body', `http://127.0.0.1:${origin.port}/posted?q=1`]);
  assert.match(viaUri.stdout, /POST \/posted\?q=1 hello=body$/);
  assert.match(viaUri.stdout, /x-seen-proxy-auth: none/i);
  const chunked = await run('curl', ['-sS', '--proxy-insecure', '-x', proxy, '-H', 'Transfer-Encoding: chunked', '--data-binary', 'chunky', `http://127.0.0.1:${origin.port}/chunked`]);
  assert.equal(chunked.stdout, 'POST /chunked chunky');
  // A CONNECT's record is written when its tunnel ends, which may be just after curl has exited.
  await access.until((all) => all.filter((r) => r.status === 200).length >= 3, 'three tunnels in the access log');
  const ok = records.filter((r) => r.status === 200);
  assert.equal(ok.length, 3);
  assert.ok(ok.every((r) => r.user === 'alice' && r.bytesDown > 0 && r.proto === 'http/1.1'));
  assert.ok(!JSON.stringify(records).includes(PASSWORD));
});

test('keep-alive and pipelined absolute-URI requests are answered in order on one connection', async (t) => {
  const origin = await startOrigin(t);
  const { port } = await startGateway(t, { restrictTo: [`127.0.0.1:${origin.port}`] });
  const auth = basic('alice', PASSWORD);
  const req = (path: string): string => `GET http://127.0.0.1:${origin.port}${path} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nProxy-Authorization: ${auth}\r\n\r\n`;
  const reply = await exchange(port, req('/one') + req('/two') + req('/three'), /GET \/three $/);
  const order = [...reply.matchAll(/GET (\/\w+) /g)].map((m) => m[1]);
  assert.deepEqual(order, ['/one', '/two', '/three']);
});

test('missing or wrong credentials get a plain 407 with a Basic challenge, as Squid sends it: no code, no product words', async (t) => {
  const origin = await startOrigin(t);
  const { port, gateway } = await startGateway(t, { restrictTo: [`127.0.0.1:${origin.port}`] });
  const missing = await exchange(port, `CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.match(missing, /^HTTP\/1\.1 407 /);
  assert.match(missing, /Proxy-Authenticate: Basic realm="proxy"/);
  assert.doesNotMatch(missing, /pinhole/i);
  const wrong = await exchange(port, `CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nProxy-Authorization: ${basic('alice', 'nope')}\r\n\r\n`);
  assert.match(wrong, /^HTTP\/1\.1 407 /);
  assert.doesNotMatch(wrong, /pinhole/i);
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--proxy-insecure', '-x', `https://alice:bad@127.0.0.1:${port}`, `http://127.0.0.1:${origin.port}/`]);
  assert.equal(stdout, '407');
  assert.equal(gateway.stats().totalTunnels, 0);
});

test('destinations outside the policy get 403 and a refused origin port gets 502', async (t) => {
  const origin = await startOrigin(t);
  const spare = createServer();
  await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r));
  const refusedPort = (spare.address() as AddressInfo).port;
  await new Promise<void>((r) => spare.close(() => r()));
  const { port } = await startGateway(t, { restrictTo: [`127.0.0.1:${origin.port}`, `127.0.0.1:${refusedPort}`] });
  const auth = `Proxy-Authorization: ${basic('alice', PASSWORD)}\r\n`;
  const outside = await exchange(port, `CONNECT 127.0.0.1:22 HTTP/1.1\r\n${auth}\r\n`);
  assert.match(outside, /^HTTP\/1\.1 403 /);
  assert.match(outside, /Pinhole-Error: PINHOLE_DEST_FORBIDDEN/);
  const refused = await exchange(port, `CONNECT 127.0.0.1:${refusedPort} HTTP/1.1\r\n${auth}\r\n`);
  assert.match(refused, /^HTTP\/1\.1 502 /);
  assert.match(refused, /Pinhole-Error: PINHOLE_CONNECT_FAILED/);
});

test('without --restrict-to, loopback and private destinations are refused', async (t) => {
  const origin = await startOrigin(t);
  const { port } = await startGateway(t, { allowPorts: [443, origin.port] });
  const auth = `Proxy-Authorization: ${basic('alice', PASSWORD)}\r\n`;
  for (const target of [`127.0.0.1:${origin.port}`, `localhost:${origin.port}`, `[::ffff:127.0.0.1]:${origin.port}`, '169.254.169.254:443', '10.0.0.1:443']) {
    const reply = await exchange(port, `CONNECT ${target} HTTP/1.1\r\n${auth}\r\n`);
    assert.match(reply, /^HTTP\/1\.1 403 /, target);
  }
  const uri = await exchange(port, `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: x\r\n${auth}\r\n`, /\r\n\r\n/);
  assert.match(uri, /^HTTP\/1\.1 403 /);
});

test('oversized headers get 431, garbage gets 400, trickling headers get 408, and the gateway keeps serving', async (t) => {
  const origin = await startOrigin(t);
  const { port } = await startGateway(t, { restrictTo: [`127.0.0.1:${origin.port}`], headerTimeoutMs: 1000 });
  const big = await exchange(port, `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`);
  assert.match(big, /^HTTP\/1\.1 431 /);
  const garbage = await exchange(port, '\x00\x01 not http at all\r\n\r\n');
  assert.match(garbage, /^HTTP\/1\.1 400 /);
  const socket = await tlsTo(port);
  const trickled = await new Promise<string>((resolve) => {
    let text = '';
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 200);
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('close', () => {
      clearInterval(drip);
      resolve(text);
    });
  });
  assert.match(trickled, /^HTTP\/1\.1 408 /);
  const { stdout } = await run('curl', ['-sS', '--proxy-insecure', '-x', `https://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}`, `http://127.0.0.1:${origin.port}/still`]);
  assert.equal(stdout, 'GET /still ');
});

test('requests that are not proxy requests get an ordinary 404 page', async (t) => {
  const { port } = await startGateway(t);
  const reply = await exchange(port, 'GET / HTTP/1.1\r\nHost: gw.example.test\r\nConnection: close\r\n\r\n');
  assert.match(reply, /^HTTP\/1\.1 404 /);
  assert.match(reply, /<h1>Not Found<\/h1>/);
  assert.doesNotMatch(reply, /Pinhole/i);
});

test('bytes that are not TLS are closed quickly and the gateway stays up', async (t) => {
  const origin = await startOrigin(t);
  const { port, gateway } = await startGateway(t, { restrictTo: [`127.0.0.1:${origin.port}`] });
  const answer = await new Promise<string>((resolve) => {
    const s = netConnect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\n\r\n'));
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('close', () => resolve(text));
    s.on('error', () => resolve(text));
  });
  assert.equal(answer, '');
  assert.equal(gateway.stats().rejectedNotTls, 1);
  const socket = await tlsTo(port);
  assert.equal(socket.alpnProtocol, 'http/1.1');
  socket.destroy();
});

test('HTTP/2 carries many CONNECT streams over one TLS connection, with auth per stream and refusal codes', async (t) => {
  const echo = netServerEcho();
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  t.after(() => echo.close());
  const echoPort = (echo.address() as AddressInfo).port;
  const { port, gateway, records, access } = await startGateway(t, { restrictTo: [`127.0.0.1:${echoPort}`] });
  const session = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'gw.example.test' } as never);
  t.after(() => session.destroy());
  const tunnel = (i: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const stream = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${echoPort}`, 'proxy-authorization': basic('alice', PASSWORD) });
      let text = '';
      stream.on('response', (h) => {
        if (h[':status'] !== 200) reject(new Error(`status ${h[':status']}`));
        stream.end(`ping-${i}`);
      });
      stream.on('data', (d: Buffer) => (text += d.toString()));
      stream.on('end', () => resolve(text));
      stream.on('error', reject);
    });
  const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => tunnel(i)));
  assert.deepEqual(replies, Array.from({ length: 50 }, (_, i) => `ping-${i}`));
  // A client that cancels its stream (RST_STREAM) still gets its tunnel closed and logged.
  const cancelled = await new Promise<number>((resolve) => {
    const stream = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${echoPort}`, 'proxy-authorization': basic('alice', PASSWORD) });
    stream.on('response', (h) => {
      stream.write('x');
      stream.once('data', () => {
        stream.close(0x8);
        resolve(Number(h[':status']));
      });
    });
  });
  assert.equal(cancelled, 200);
  await access.until((all) => all.filter((r) => r.status === 200).length >= 51, '51 tunnels in the access log');
  assert.equal(records.filter((r) => r.status === 200).length, 51);
  const status = (headers: Record<string, string>): Promise<{ status: number; code: string | undefined }> =>
    new Promise((resolve) => {
      const stream = session.request({ ':method': 'CONNECT', ...headers });
      stream.on('response', (h) => resolve({ status: Number(h[':status']), code: h['pinhole-error'] as string | undefined }));
      stream.resume();
    });
  // Before authentication a plain 407 (no code); once signed in, the refusal carries its code.
  assert.deepEqual(await status({ ':authority': `127.0.0.1:${echoPort}` }), { status: 407, code: undefined });
  assert.deepEqual(await status({ ':authority': `127.0.0.1:${echoPort}`, 'proxy-authorization': basic('alice', 'x') }), { status: 407, code: undefined });
  assert.deepEqual(await status({ ':authority': '127.0.0.1:1', 'proxy-authorization': basic('alice', PASSWORD) }), { status: 403, code: 'PINHOLE_DEST_FORBIDDEN' });
  // The refusals are accounted for (the last one is in the access log) before the counts are read.
  await access.first((r) => r.status === 403, 'the 403 in the access log');
  const stats = gateway.stats();
  assert.equal(stats.tlsConnections, 1);
  assert.equal(stats.totalTunnels, 51);
  const connIds = new Set(records.filter((r) => r.status === 200).map((r) => r.connId));
  assert.equal(connIds.size, 1);
  assert.ok(records.every((r) => r.proto === 'h2'));
});

test('1,500 tunnels held open at once over one HTTP/2 session all get 200 and carry bytes', { timeout: 120_000 }, async (t) => {
  const echo = netServerEcho();
  // The 1,500 dials arrive at once: with Node's default backlog (511) a busy machine overflows the
  // echo's accept queue, and the kernel resets the connections it never accepted (the stand-in
  // failing, not the gateway). Room for all of them in the queue.
  await new Promise<void>((r) => echo.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, r));
  t.after(() => echo.close());
  const echoPort = (echo.address() as AddressInfo).port;
  const { port, gateway } = await startGateway(t, { restrictTo: [`127.0.0.1:${echoPort}`] });
  const session = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'gw.example.test' } as never);
  t.after(() => session.destroy());
  const COUNT = 1_500;
  const open = (): Promise<ClientHttp2Stream> =>
    new Promise((resolve, reject) => {
      const stream = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${echoPort}`, 'proxy-authorization': basic('alice', PASSWORD) });
      stream.once('response', (h) => (h[':status'] === 200 ? resolve(stream) : reject(new Error(`status ${h[':status']}`))));
      stream.once('error', reject);
    });
  const streams = await Promise.all(Array.from({ length: COUNT }, open));
  assert.equal(streams.length, COUNT);
  assert.equal(gateway.stats().tlsConnections, 1);
  const replies = await Promise.all(
    streams.map(
      (stream, i) =>
        new Promise<string>((resolve, reject) => {
          let text = '';
          stream.on('data', (d: Buffer) => (text += d.toString()));
          stream.once('end', () => resolve(text));
          stream.once('error', reject);
          stream.end(`held-${i}`);
        }),
    ),
  );
  assert.equal(replies.filter((reply, i) => reply === `held-${i}`).length, COUNT);
});

test('gateways given the same ticket keys resume each other\'s TLS sessions, as --workers processes do', async (t) => {
  const keys = randomBytes(48);
  const first = await startGateway(t, {}, { ticketKeys: keys });
  const second = await startGateway(t, {}, { ticketKeys: keys });
  const stranger = await startGateway(t);
  const ticket = await new Promise<Buffer>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: first.port, servername: 'gw.example.test', rejectUnauthorized: false });
    s.once('session', (session: Buffer) => {
      resolve(session);
      s.destroy();
    });
    s.once('error', reject);
  });
  const resumes = (port: number): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, servername: 'gw.example.test', rejectUnauthorized: false, session: ticket }, () => {
        resolve(s.isSessionReused());
        s.destroy();
      });
      s.once('error', reject);
    });
  assert.equal(await resumes(second.port), true);
  assert.equal(await resumes(stranger.port), false);
});

test('a replaced certificate file is served to new connections without a restart', async (t) => {
  const { port, dir, gateway } = await startGateway(t);
  const before = (await tlsTo(port)).getPeerCertificate().fingerprint256;
  const { createSelfSigned } = await import('./certs.js');
  const next = await createSelfSigned('gw.example.test');
  await writeFile(join(dir, 'key.pem'), next.keyPem);
  await writeFile(join(dir, 'cert.pem'), next.certPem);
  gateway.reloadCertificate();
  const after = await tlsTo(port);
  assert.notEqual(after.getPeerCertificate().fingerprint256, before);
  assert.equal(after.getPeerCertificate().fingerprint256.replace(/:/g, ''), next.sha256);
  after.destroy();
});

function netServerEcho() {
  return createNetServer((s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
}

/** A destination that reads the whole request (until the client's FIN), then answers `size` bytes and closes. */
async function startAnswerAfterFin(t: TestContext, size: number): Promise<number> {
  const server = createNetServer({ allowHalfOpen: true }, (socket) => {
    let request = 0;
    socket.on('data', (d: Buffer) => (request += d.length));
    socket.on('end', () => socket.end(Buffer.alloc(size, request % 251)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return (server.address() as AddressInfo).port;
}

test('HTTP/1.1 CONNECT half-closes: a client that sends its request and a FIN still gets the whole answer', async (t) => {
  const size = 3 * 1024 * 1024 + 17;
  const origin = await startAnswerAfterFin(t, size);
  const { port, access } = await startGateway(t, { restrictTo: [`127.0.0.1:${origin}`] });
  const socket = await tlsTo(port);
  const received = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let head = true;
    socket.on('data', (d: Buffer) => {
      if (head) {
        const text = d.toString('latin1');
        assert.match(text, /^HTTP\/1\.1 200/);
        const end = text.indexOf('\r\n\r\n');
        head = false;
        if (end + 4 < d.length) chunks.push(d.subarray(end + 4));
        socket.end('x'.repeat(1000)); // the request, then a FIN: nothing more from this side
        return;
      }
      chunks.push(d);
    });
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
    socket.write(`CONNECT 127.0.0.1:${origin} HTTP/1.1\r\nHost: 127.0.0.1:${origin}\r\nProxy-Authorization: ${basic('alice', PASSWORD)}\r\n\r\n`);
  });
  assert.equal(received.length, size);
  assert.equal(received[0], 1000 % 251);
  const record = await access.first((r) => r.method === 'CONNECT', 'the CONNECT in the access log');
  assert.deepEqual([record.status, record.bytesUp, record.bytesDown], [200, 1000, size]);
});

test('HTTP/2 CONNECT half-closes: END_STREAM after the request still gets the whole answer', async (t) => {
  const size = 2 * 1024 * 1024 + 5;
  const origin = await startAnswerAfterFin(t, size);
  const { port } = await startGateway(t, { restrictTo: [`127.0.0.1:${origin}`] });
  const session = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'gw.example.test' } as never);
  t.after(() => session.destroy());
  const stream = session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${origin}`, 'proxy-authorization': basic('alice', PASSWORD) });
  const chunks: Buffer[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d));
  stream.end('y'.repeat(10));
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
  const received = Buffer.concat(chunks);
  assert.equal(received.length, size);
  assert.equal(received[0], 10);
});

test('the profile route over HTTP/1.1: no endpoints configured is a 404, endpoints configured serve the user\'s document, wrong credentials get 401, none get the web page', async (t) => {
  const { gateway, port } = await startGateway(t);
  const get = (auth?: string): Promise<string> =>
    exchange(port, `GET /.well-known/pinhole/profile HTTP/1.1\r\nHost: gw.example.test\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Connection: close\r\n\r\n`);
  assert.match(await get(basic('alice', PASSWORD)), /^HTTP\/1\.1 404 /, 'no endpoints configured: no profile, clients keep their link');
  // The operator adds endpoints to gateway.yaml; the running gateway re-reads it.
  const file = join(gateway.config.dir, 'gateway.yaml');
  await writeFile(file, `${await readFile(file, 'utf8')}\nendpoints: ["a.example.test:443", "b.example.test:8443"]\n`);
  gateway.reloadProfile();
  const served = await get(basic('alice', PASSWORD));
  assert.match(served, /^HTTP\/1\.1 200 /);
  const document = JSON.parse(served.slice(served.indexOf('\r\n\r\n') + 4)) as { user: string; endpoints: string[]; pins: string[] };
  assert.equal(document.user, 'alice');
  assert.deepEqual(document.endpoints, ['a.example.test:443', 'b.example.test:8443']);
  assert.equal(document.pins.length, 1, 'the certificate\'s pin');
  const wrong = await get(basic('alice', 'wrong'));
  assert.match(wrong, /^HTTP\/1\.1 401 /);
  assert.doesNotMatch(wrong, /pinhole/i, 'a plain 401: nothing names the product to a client not signed in');
  assert.match(await get(), /^HTTP\/1\.1 404 /, 'no credentials: the ordinary web answer');
});
