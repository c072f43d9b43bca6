/**
 * A pass-through route on both byte paths (issue 27): the sniffed head (read and put back, as the
 * multiplexer does) goes first, a half-close travels each way on its own, a backend reset ends the
 * client's connection, binary bytes pass untouched, a silent connection meets the idle timeout,
 * and the access line counts the same bytes whichever path moved them. Real sockets on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../shared/log.js';
import { BYTE_PATHS_UNDER_TEST, nativeBytePath } from '../../test/support/byte-paths.js';
import { recordingDestination } from '../../test/support/record-list.js';
import type { RelayTimeouts } from '../../node/relay.js';
import { passThrough } from './pass-through.js';

type Rec = Record<string, unknown>;

const listen = async (server: Server): Promise<number> => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
};

const readAll = (socket: Socket): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
};

/**
 * A front that hands each accepted connection to passThrough once its first bytes were read and
 * put back; `backend` handles what the route dials. Returns the port and the log lines.
 */
async function front(bytePath: 'js' | 'native', backend: (socket: Socket) => void, relayTimeouts?: RelayTimeouts) {
  const { destination, lines } = recordingDestination<Rec>();
  const logger = createLogger({ name: 'pass-through-test', level: 'info', destination });
  const back = createServer({ allowHalfOpen: true }, backend);
  const backPort = await listen(back);
  const gate = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.once('readable', () => {
      const head = socket.read() as Buffer | null;
      if (head !== null) socket.unshift(head);
      void passThrough(socket, { host: '127.0.0.1', port: backPort }, {
        route: 'ssh',
        connId: 1,
        client: { address: '127.0.0.1', port: socket.remotePort ?? 0, viaProxyHeader: false },
        logger,
        relayTimeouts,
        native: bytePath === 'native' ? nativeBytePath() : undefined,
      });
    });
  });
  const port = await listen(gate);
  const stop = (): void => {
    gate.close();
    back.close();
  };
  const ended = (): Promise<readonly Rec[]> => lines.until((items) => items.some((r) => r['msg'] === 'A pass-through connection ended.'), 'the pass-through line');
  const line = async (): Promise<Rec> => (await ended()).find((r) => r['msg'] === 'A pass-through connection ended.') ?? {};
  return { port, stop, line };
}

for (const bytePath of BYTE_PATHS_UNDER_TEST) {
  test(`${bytePath}: the client half-closes after binary bytes, the backend still answers and closes; each side gets every byte and the line counts both`, async () => {
    const upBytes = Buffer.concat([Buffer.from('SSH-2.0-test\r\n'), randomBytes(300_000)]);
    const downBytes = randomBytes(200_000);
    let backendGot: Promise<Buffer> | undefined;
    const f = await front(bytePath, (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      backendGot = new Promise((resolve) =>
        s.once('end', () => {
          // After the client's FIN the backend still writes: a half-close, not a close.
          s.end(downBytes);
          resolve(Buffer.concat(chunks));
        }),
      );
    });
    try {
      const client = netConnect({ host: '127.0.0.1', port: f.port, allowHalfOpen: true });
      const got = readAll(client);
      client.end(upBytes);
      assert.ok((await got).equals(downBytes), 'the client got the whole answer after its FIN');
      assert.ok(backendGot !== undefined);
      assert.ok((await backendGot).equals(upBytes), 'the backend got the sniffed head and every byte after it, untouched');
      const line = await f.line();
      assert.equal(line['bytePath'], bytePath);
      assert.equal(line['bytesUp'], upBytes.length);
      assert.equal(line['bytesDown'], downBytes.length);
    } finally {
      f.stop();
    }
  });

  test(`${bytePath}: a backend that resets mid-stream ends the client's connection`, async () => {
    const f = await front(bytePath, (s) => {
      s.once('data', () => s.write('partial', () => s.resetAndDestroy()));
    });
    try {
      const client = netConnect({ host: '127.0.0.1', port: f.port });
      client.on('error', () => undefined);
      const got = readAll(client);
      client.write('SSH-2.0-test\r\n');
      assert.equal((await got).toString(), 'partial');
      const line = await f.line();
      assert.equal(line['bytePath'], bytePath);
    } finally {
      f.stop();
    }
  });

  test(`${bytePath}: a connection silent both ways for the idle timeout is ended and the line says why`, async () => {
    const f = await front(bytePath, () => undefined, { idleTimeoutMs: 300 });
    try {
      const client = netConnect({ host: '127.0.0.1', port: f.port });
      client.on('error', () => undefined);
      client.write('SSH-2.0-test\r\n');
      await once(client, 'close');
      const line = await f.line();
      assert.equal(line['end'], 'idle-timeout');
      assert.equal(line['bytesUp'], 14);
    } finally {
      f.stop();
    }
  });
}
