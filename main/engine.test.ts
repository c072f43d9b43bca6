/**
 * The engine against a small TLS + HTTP/2 CONNECT server (test/support/connect-server.ts) and a local origin:
 * multiplexing over one TLS connection, fallback to HTTP/1.1, pins, refusals and a gateway that
 * vanishes. The real gateway and Squid are exercised in test/e2e and h1-transport.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnectRaw, type TLSSocket } from 'node:tls';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { makeSelfSignedCertificate, type TestCertificate } from '../test/support/certs.js';
import { startOrigin, type Origin } from '../test/support/origin.js';
import { openTunnel, requestThroughProxy } from '../test/support/proxy-requests.js';
import { PinholeError } from '../shared/errors.js';
import type { GatewayTarget } from '../shared/profile.js';
import type { EngineStatus } from '../shared/engine-api.js';
import { Engine } from './engine.js';
import { DIRECT, TUNNEL } from './routing.js';
import { startConnectServer, type ConnectServer } from '../test/support/connect-server.js';
import { requestThenFin, startFinOrigin } from '../test/support/fin-origin.js';

const tlsConnect = (socket: Socket): TLSSocket => tlsConnectRaw({ socket, rejectUnauthorized: false });

let origin: Origin;
let cert: TestCertificate;
const user = { name: 'alice', password: 'correct horse battery staple 7' };

before(async () => {
  origin = await startOrigin();
  cert = await makeSelfSignedCertificate({ commonName: 'gw.example.test', altNames: ['gw.example.test'] });
});
after(() => origin.stop());

const targetFor = (server: ConnectServer, overrides: Partial<GatewayTarget> = {}): GatewayTarget => ({
  endpoints: [`127.0.0.1:${server.port}`],
  serverName: 'gw.example.test',
  trust: { kind: 'pin', pin: cert.sha256 },
  user: user.name,
  transport: 'h2',
  wsPath: '/pinhole/ws',
  domains: [],
  ...overrides,
});

const withServer = async (options: { http1Only?: boolean }, body: (server: ConnectServer, engine: Engine) => Promise<void>): Promise<void> => {
  const server = await startConnectServer({ cert: cert.cert, key: cert.key, user: user.name, password: user.password, ...options });
  const engine = new Engine({ statsIntervalMs: 100, backoffMs: 200 });
  try {
    await body(server, engine);
  } finally {
    await engine.disconnect();
    await server.stop();
  }
};

const proxyOf = (listen: string): { port: number } => ({ port: Number(listen.split(':').pop()) });

test('sixty HTTPS requests, thirty at a time, share one TLS connection to the gateway over HTTP/2', () =>
  withServer({}, async (server, engine) => {
    const { listen } = await engine.connect(targetFor(server), user.password, { listen: '127.0.0.1:0' });
    assert.equal(engine.getStatus().state, 'connected');
    assert.equal(engine.getStatus().transport, 'h2');
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < 60) {
        const n = next++;
        const res = await requestThroughProxy({ proxy: proxyOf(listen), url: `https://127.0.0.1:${origin.httpsPort}/bytes/${5000 + n}`, sink: 'hash' });
        assert.equal(res.status, 200);
        assert.equal(res.bytes, 5000 + n);
      }
    };
    await Promise.all(Array.from({ length: 30 }, worker));
    const plain = await requestThroughProxy({ proxy: proxyOf(listen), url: `http://127.0.0.1:${origin.httpPort}/echo`, method: 'POST', body: 'through h2' });
    assert.equal(plain.status, 200);
    assert.equal((JSON.parse(plain.body.toString()) as { body: string }).body, 'through h2');
    assert.equal(server.tlsConnections, 1, 'one TLS connection carried every tunnel');
    assert.ok(server.streams >= 61);
    const stats = engine.getStats();
    assert.ok(stats.totalTunnels >= 61, `tunnels counted: ${stats.totalTunnels}`);
    assert.ok(stats.bytesDown > 60 * 5000, `bytes down counted: ${stats.bytesDown}`);
    assert.equal(stats.gatewayConnections, 1);
  }));

test('a server that answers ALPN http/1.1 (like stunnel + Squid) gets HTTP/1.1 tunnels instead', () =>
  withServer({ http1Only: true }, async (server, engine) => {
    const { listen } = await engine.connect(targetFor(server), user.password, { listen: '127.0.0.1:0' });
    assert.equal(engine.getStatus().transport, 'h1');
    const res = await requestThroughProxy({ proxy: proxyOf(listen), url: `https://127.0.0.1:${origin.httpsPort}/hello` });
    assert.equal(res.status, 200);
    const plain = await requestThroughProxy({ proxy: proxyOf(listen), url: `http://127.0.0.1:${origin.httpPort}/hello` });
    assert.equal(plain.status, 200);
  }));

test('a certificate that does not match the pin stops the connection with PINHOLE_TLS_PIN_MISMATCH', () =>
  withServer({}, async (server, engine) => {
    const wrong = 'AB'.repeat(32);
    await assert.rejects(engine.connect(targetFor(server, { trust: { kind: 'pin', pin: wrong } }), user.password, { listen: '127.0.0.1:0' }), (err: unknown) => {
      assert.ok(err instanceof PinholeError);
      assert.equal(err.code, 'PINHOLE_TLS_PIN_MISMATCH');
      assert.match(err.message, /does not match/);
      return true;
    });
    assert.equal(engine.getStatus().state, 'error');
    assert.equal(engine.getStatus().error?.code, 'PINHOLE_TLS_PIN_MISMATCH');
  }));

test('a wrong password gives the application 502 PINHOLE_AUTH_REJECTED and the log names the user', () =>
  withServer({}, async (server, engine) => {
    const { listen } = await engine.connect(targetFor(server), 'wrong', { listen: '127.0.0.1:0' });
    const res = await requestThroughProxy({ proxy: proxyOf(listen), url: `https://127.0.0.1:${origin.httpsPort}/hello` });
    assert.equal(res.status, 502);
    assert.equal(res.headers['pinhole-error'], 'PINHOLE_AUTH_REJECTED');
    const plain = await requestThroughProxy({ proxy: proxyOf(listen), url: `http://127.0.0.1:${origin.httpPort}/hello` });
    assert.equal(plain.status, 502);
    assert.equal(plain.headers['pinhole-error'], 'PINHOLE_AUTH_REJECTED');
    assert.ok(engine.getLog().some((l) => l.msg === 'The gateway rejected the user name or password for alice.' && l.level === 'error'));
    assert.ok(!JSON.stringify(engine.getLog()).includes('wrong'));
  }));

test('a refusal from the gateway reaches the application with its status and code', () =>
  withServer({}, async (server, engine) => {
    const { listen } = await engine.connect(targetFor(server, { transport: 'h1' }), user.password, { listen: '127.0.0.1:0' });
    const refused = await openTunnel({ proxy: proxyOf(listen), target: '127.0.0.1:9' });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers['pinhole-error'], 'PINHOLE_PORT_FORBIDDEN');
  }));

test('routing: a blocked destination gets 403 naming the rule, a direct one bypasses the gateway', () =>
  withServer({}, async (server, engine) => {
    const { listen } = await engine.connect(targetFor(server), user.password, {
      listen: '127.0.0.1:0',
      decide: ({ port }) => (port === origin.httpPort ? DIRECT : port === 1 ? { route: 'block', code: 'PINHOLE_DOMAIN_BLOCKED', rule: '127.0.0.1:1' } : TUNNEL),
    });
    const blocked = await openTunnel({ proxy: proxyOf(listen), target: '127.0.0.1:1' });
    assert.equal(blocked.status, 403);
    assert.equal(blocked.headers['pinhole-error'], 'PINHOLE_DOMAIN_BLOCKED');
    const before = server.streams;
    const direct = await requestThroughProxy({ proxy: proxyOf(listen), url: `http://127.0.0.1:${origin.httpPort}/hello` });
    assert.equal(direct.status, 200);
    assert.equal(server.streams, before, 'the direct request did not use the gateway');
  }));

test('per-app routing: the app behind a connection is identified, listed, and its block says PINHOLE_APP_BLOCKED', () =>
  withServer({}, async (server, engine) => {
    const { listen } = await engine.connect(targetFor(server), user.password, {
      listen: '127.0.0.1:0',
      identifyApp: (socket) => Promise.resolve(socket.remotePort ? { path: '/usr/bin/blocked-app', name: 'blocked-app' } : undefined),
      decide: ({ app }) => (app?.path === '/usr/bin/blocked-app' ? { route: 'block', code: 'PINHOLE_APP_BLOCKED', rule: app.path, app: app.name } : TUNNEL),
    });
    const blocked = await openTunnel({ proxy: proxyOf(listen), target: `127.0.0.1:${origin.httpsPort}` });
    assert.equal(blocked.status, 403);
    assert.equal(blocked.headers['pinhole-error'], 'PINHOLE_APP_BLOCKED');
    assert.match(blocked.body.toString(), /blocked-app/);
    assert.deepEqual(engine.getApps().map((a) => a.path), ['/usr/bin/blocked-app']);
  }));

test('half-close through a tunnel: a request sent with a FIN gets the whole answer (HTTP/2 streams and HTTP/1.1 tunnels)', async () => {
  const fin = await startFinOrigin();
  try {
    const request = Buffer.from('the whole request, then a FIN');
    for (const transport of ['h2', 'h1'] as const) {
      await withServer(transport === 'h1' ? { http1Only: true } : {}, async (server, engine) => {
        const { listen } = await engine.connect(targetFor(server, { transport }), user.password, { listen: '127.0.0.1:0' });
        // On HTTP/2 the second CONNECT to the same destination may start early (the gateway accepted it once).
        for (const attempt of [1, 2]) {
          const answer = await requestThenFin(proxyOf(listen), `127.0.0.1:${fin.port}`, request);
          assert.ok(answer.equals(fin.answerFor(request.length)), `${transport}, attempt ${attempt}: ${answer.length} bytes arrived`);
        }
      });
    }
  } finally {
    await fin.stop();
  }
});

/** Resolves at the first status event after which `holds()` is true (at once when it already is); a generous bound, then it gives up and the assertions say why. */
const statusWhere = (engine: Engine, holds: () => boolean, boundMs = 30_000): Promise<void> =>
  new Promise((resolve) => {
    if (holds()) return resolve();
    const done = (): void => {
      clearTimeout(bound);
      stop();
      resolve();
    };
    const bound = setTimeout(done, boundMs);
    const stop = engine.on('status', () => {
      if (holds()) done();
    });
  });

test('the gateway vanishing mid-download closes the application connection and the engine reconnects', () =>
  withServer({}, async (server, engine) => {
    const states: EngineStatus['state'][] = [];
    engine.on('status', (s) => states.push(s.state));
    const { listen } = await engine.connect(targetFor(server), user.password, { listen: '127.0.0.1:0' });
    const tunnel = await openTunnel({ proxy: proxyOf(listen), target: `127.0.0.1:${origin.httpsPort}` });
    assert.equal(tunnel.status, 200);
    const secure = tlsConnect(tunnel.socket);
    const how = await new Promise<string>((resolve) => {
      let bytes = 0;
      let vanished = false;
      const timer = setTimeout(() => resolve('still open'), 10_000);
      secure.once('secureConnect', () => secure.write(`GET /bytes/${1024 * 1024 * 1024} HTTP/1.1\r\nHost: x\r\n\r\n`));
      secure.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (!vanished && bytes > 1024 * 1024) {
          vanished = true;
          server.vanish();
        }
      });
      secure.once('error', () => (clearTimeout(timer), resolve('error')));
      secure.once('close', () => (clearTimeout(timer), resolve('closed')));
    });
    secure.destroy();
    assert.notEqual(how, 'still open');
    await statusWhere(engine, () => states.includes('reconnecting'));
    assert.ok(states.includes('reconnecting'), `states: ${states.join(',')}`);
    assert.ok(engine.getStatus().state === 'reconnecting' ? typeof engine.getStatus().retryAt === 'number' : true);
    await statusWhere(engine, () => engine.getStatus().state === 'connected');
    assert.equal(engine.getStatus().state, 'connected', 'the server is still listening, so the engine gets back');
    const again = await requestThroughProxy({ proxy: proxyOf(listen), url: `https://127.0.0.1:${origin.httpsPort}/hello` });
    assert.equal(again.status, 200);
  }));

test('through a corporate HTTP proxy: CONNECT to the gateway first (with its own credentials), TLS inside', () =>
  withServer({}, async (server, engine) => {
    const seen: string[] = [];
    const corporate = createHttpServer();
    const tunnels = new Set<Socket>();
    corporate.on('connect', (req: IncomingMessage, socket: Socket) => {
      socket.on('error', () => undefined);
      tunnels.add(socket);
      seen.push(`${req.url} ${req.headers['proxy-authorization'] ?? ''}`);
      if (req.headers['proxy-authorization'] !== `Basic ${Buffer.from('corp:secret').toString('base64')}`) {
        socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      const upstream = netConnect({ host: '127.0.0.1', port: Number(req.url?.split(':')[1]) }, () => {
        socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
        upstream.pipe(socket).pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      tunnels.add(upstream);
    });
    await new Promise<void>((resolve) => corporate.listen(0, '127.0.0.1', () => resolve()));
    const corporatePort = (corporate.address() as AddressInfo).port;
    try {
      await assert.rejects(
        engine.connect(targetFor(server), user.password, { listen: '127.0.0.1:0', upstreamProxy: { host: '127.0.0.1', port: corporatePort, user: 'corp', password: 'wrong' } }),
        (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_UPSTREAM_AUTH_REJECTED' && !err.message.includes('wrong'),
      );
      const { listen } = await engine.connect(targetFor(server), user.password, {
        listen: '127.0.0.1:0',
        upstreamProxy: { host: '127.0.0.1', port: corporatePort, user: 'corp', password: 'secret' },
      });
      const res = await requestThroughProxy({ proxy: proxyOf(listen), url: `https://127.0.0.1:${origin.httpsPort}/hello` });
      assert.equal(res.status, 200);
      assert.ok(seen.every((line) => line.startsWith(`127.0.0.1:${server.port} `)), 'the corporate proxy only ever sees the gateway as destination');
    } finally {
      await engine.disconnect();
      for (const socket of tunnels) socket.destroy();
      corporate.closeAllConnections();
      await new Promise((resolve) => corporate.close(resolve));
    }
  }));
