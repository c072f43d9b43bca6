/** The one dial: connects, times out with ETIMEDOUT, and its failures map to a destination's codes. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { PinholeError } from '../shared/errors.js';
import { destinationError, dial, errorCode } from './dial.js';

test('a dial resolves with a connected no-delay socket', async () => {
  const server = createServer((s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = await dial({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, timeoutMs: 5_000 });
  assert.equal(socket.remoteAddress, '127.0.0.1');
  socket.destroy();
  server.close();
});

test('a refused dial rejects with the system code, mapped to PINHOLE_CONNECT_FAILED', async () => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  server.close();
  await once(server, 'close');
  const err = await dial({ host: '127.0.0.1', port, timeoutMs: 5_000 }).then(() => undefined, (e: unknown) => e);
  assert.equal(errorCode(err), 'ECONNREFUSED');
  assert.equal(destinationError(err, `127.0.0.1:${port}`).code, 'PINHOLE_CONNECT_FAILED');
});

test('a dial that runs out of time rejects with ETIMEDOUT, mapped to PINHOLE_CONNECT_TIMEOUT', async () => {
  // A lookup that never answers holds the connect forever: the timer has to end it.
  const err = await dial({ host: 'never.invalid', port: 443, timeoutMs: 50, lookup: () => undefined }).then(() => undefined, (e: unknown) => e);
  assert.equal(errorCode(err), 'ETIMEDOUT');
  const mapped = destinationError(err, 'never.invalid:443');
  assert.equal(mapped.code, 'PINHOLE_CONNECT_TIMEOUT');
  assert.equal(mapped.status, 504);
});

test('DNS failures map to PINHOLE_DNS_FAILED and a PinholeError passes through', () => {
  assert.equal(destinationError(Object.assign(new Error('x'), { code: 'ENOTFOUND' }), 'a:1').code, 'PINHOLE_DNS_FAILED');
  assert.equal(destinationError(Object.assign(new Error('x'), { code: 'EAI_AGAIN' }), 'a:1').code, 'PINHOLE_DNS_FAILED');
  const own = new PinholeError('PINHOLE_DEST_FORBIDDEN');
  assert.equal(destinationError(own, 'a:1'), own);
});
