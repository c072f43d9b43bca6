/**
 * `pinhole-gateway run --workers 2`: every worker shares the TLS session-ticket keys the primary
 * made, so a client's ticket resumes whichever worker takes its next connection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { startGateway } from '../support/gateway.js';

test('a TLS session ticket from a --workers 2 gateway resumes on each of 40 new connections, whichever worker takes them', async (t) => {
  const gateway = await startGateway({ runArgs: ['--workers', '2'] });
  t.after(() => gateway.stop());
  const ticket = await new Promise<Buffer>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: gateway.port, servername: gateway.hostname, rejectUnauthorized: false });
    socket.once('session', (session: Buffer) => {
      resolve(session);
      socket.destroy();
    });
    socket.once('error', reject);
  });
  const resumed = (): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: gateway.port, servername: gateway.hostname, rejectUnauthorized: false, session: ticket }, () => {
        resolve(socket.isSessionReused());
        socket.destroy();
      });
      socket.once('error', reject);
    });
  const results: boolean[] = [];
  for (let i = 0; i < 40; i++) results.push(await resumed());
  assert.equal(results.filter(Boolean).length, 40);
});
