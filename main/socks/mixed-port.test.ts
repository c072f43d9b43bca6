import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { createLogger } from '../../shared/log.js';
import { startOrigin } from '../../test/support/origin.js';
import { runCommand, waitUntil } from '../../test/support/processes.js';
import { dispatchByFirstByte, toHttpServer } from './mixed-port.js';
import { createSocksHandler } from './server.js';

test('one port, two protocols: curl over HTTP and over SOCKS5 both get through, each to its own side', async () => {
  const origin = await startOrigin();
  const seen: string[] = [];
  // The HTTP side: a plain HTTP server fed accepted sockets, answering on its own.
  const http = createHttpServer((req, res) => {
    seen.push(`http ${req.method} ${req.url}`);
    res.end('answered by the HTTP side\n');
  });
  const socks = createSocksHandler({
    logger: createLogger({ name: 'mixed', level: 'silent' }),
    openTunnel: async (host, port) => {
      seen.push(`socks ${host}:${port}`);
      const s = connect(port, '127.0.0.1');
      await once(s, 'connect');
      return s;
    },
  });
  const sockets = new Set<Socket>();
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    sockets.add(socket);
    dispatchByFirstByte(socket, { socks, http: toHttpServer(http) });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  try {
    const viaHttp = await runCommand('curl', { args: ['-sS', '--max-time', '20', '-x', `http://127.0.0.1:${port}`, 'http://anything.test/path'] });
    assert.equal(viaHttp.code, 0, viaHttp.stderr);
    assert.equal(viaHttp.stdout.trim(), 'answered by the HTTP side');
    const viaSocks = await runCommand('curl', { args: ['-sS', '--max-time', '20', '--socks5-hostname', `127.0.0.1:${port}`, `http://origin.test:${origin.httpPort}/hello`] });
    assert.equal(viaSocks.code, 0, viaSocks.stderr);
    assert.equal(viaSocks.stdout.trim(), 'hello from the origin');
    assert.deepEqual(seen, ['http GET http://anything.test/path', `socks origin.test:${origin.httpPort}`]);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
    await origin.stop();
  }
});

test('a client that sends nothing is closed after the first-byte timeout, and neither side sees it', async () => {
  const handed: string[] = [];
  const server = createServer({ pauseOnConnect: true }, (socket) =>
    dispatchByFirstByte(socket, { socks: () => handed.push('socks'), http: () => handed.push('http'), firstByteTimeoutMs: 100 }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    client.on('error', () => undefined);
    let closed = false;
    client.once('close', () => (closed = true));
    await waitUntil(() => closed, 5_000, 'the silent client to be closed');
    assert.deepEqual(handed, []);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
