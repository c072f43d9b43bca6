/**
 * Issue 18.4 under `--workers 2`: the sessions live in the workers, the primary answers the admin
 * listener's `GET /sessions` by asking each of them (as /metrics is summed), so every open tunnel
 * is counted once, whichever worker took it.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { startGateway } from '../support/gateway.js';
import { freePort } from '../support/processes.js';
import { basicAuth, openTunnel } from '../support/proxy-requests.js';

test('GET /sessions on a --workers 2 gateway: the primary joins the workers\' sessions; every open tunnel is counted once', { timeout: 120_000 }, async (t) => {
  const held = new Set<Socket>();
  const origin = createServer((s) => {
    held.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of held) s.destroy();
    origin.close();
  });
  const target = `127.0.0.1:${(origin.address() as { port: number }).port}`;
  const admin = await freePort();
  const gateway = await startGateway({ restrictTo: [target], runArgs: ['--workers', '2', '--admin', `127.0.0.1:${admin}`] });
  t.after(() => gateway.stop());
  const user = gateway.users[0];
  assert.ok(user !== undefined);
  const tunnels: Socket[] = [];
  t.after(() => tunnels.forEach((s) => s.destroy()));
  for (let i = 0; i < 8; i++) {
    const reply = await openTunnel({ proxy: { port: gateway.port, tls: { servername: gateway.hostname, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] } }, target, headers: { 'proxy-authorization': basicAuth(user.name, user.password) } });
    assert.equal(reply.status, 200);
    tunnels.push(reply.socket);
  }
  const res = await fetch(`http://127.0.0.1:${admin}/sessions`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/json');
  const { sessions } = (await res.json()) as { sessions: Array<{ user: string; kind: string; tunnels: number; gateway: string; transports: string[] }> };
  assert.equal(sessions.reduce((n, s) => n + s.tunnels, 0), 8, JSON.stringify(sessions));
  for (const s of sessions) {
    assert.equal(s.user, user.name);
    assert.equal(s.kind, 'htpasswd');
    assert.deepEqual(s.transports, ['h1']);
  }
  assert.ok(new Set(sessions.map((s) => s.gateway)).size <= 2);
});
