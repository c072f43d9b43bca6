import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { startDelayRelay, startRecordingRelay } from './relay.js';

/** A TCP echo server that answers each chunk back, and ends when the peer ends. */
const startEcho = async (): Promise<{ port: number; stop: () => Promise<void> }> => {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};

const exchange = (port: number, chunks: Buffer[], spacingMs = 0): Promise<{ received: Buffer; firstByteAfterMs: number }> =>
  new Promise((resolve, reject) => {
    const started = Date.now();
    let firstByteAfterMs = -1;
    const got: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true }, async () => {
      for (const chunk of chunks) {
        socket.write(chunk);
        if (spacingMs > 0) await new Promise((r) => setTimeout(r, spacingMs));
      }
      socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      if (firstByteAfterMs < 0) firstByteAfterMs = Date.now() - started;
      got.push(chunk);
    });
    socket.once('end', () => resolve({ received: Buffer.concat(got), firstByteAfterMs }));
    socket.once('error', reject);
  });

test('the recording relay passes bytes through and keeps every byte in each direction', async (t) => {
  const echo = await startEcho();
  t.after(() => echo.stop());
  const relay = await startRecordingRelay({ target: { port: echo.port } });
  t.after(() => relay.stop());
  const message = Buffer.from('the firewall sees this');
  const { received } = await exchange(relay.port, [message]);
  assert.deepEqual(received, message);
  assert.equal(relay.connections.length, 1);
  const [connection] = relay.connections;
  assert.ok(connection);
  assert.deepEqual(relay.bytes(connection, 'up'), message);
  assert.deepEqual(relay.bytes(connection, 'down'), message);
});

test('the delay relay holds every chunk, keeps their order and still delivers the half-close', async (t) => {
  const echo = await startEcho();
  t.after(() => echo.stop());
  const relay = await startDelayRelay({ target: { port: echo.port }, delayMs: 40 });
  t.after(() => relay.stop());
  const chunks = Array.from({ length: 200 }, (_, i) => Buffer.from(`chunk-${String(i).padStart(4, '0')};`));
  const { received, firstByteAfterMs } = await exchange(relay.port, chunks, 0);
  assert.equal(received.toString(), Buffer.concat(chunks).toString(), 'every chunk arrives, in order');
  // Connect held one round trip (80) + one way up (40) + one way down (40): the echo cannot come back sooner.
  assert.ok(firstByteAfterMs >= 150, `the first echoed byte came back after ${firstByteAfterMs} ms, before connect + up + down delay`);
  assert.equal(relay.accepted(), 1);
});

test('the delay relay carries a bulk transfer intact', async (t) => {
  const echo = await startEcho();
  t.after(() => echo.stop());
  const relay = await startDelayRelay({ target: { port: echo.port }, delayMs: 5, maxInFlightBytes: 256 * 1024 });
  t.after(() => relay.stop());
  const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
  const { received } = await exchange(relay.port, chunks);
  assert.equal(received.length, 64 * 64 * 1024);
  assert.ok(received.equals(Buffer.concat(chunks)));
});
