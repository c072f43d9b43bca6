/**
 * The gateway's --max-connections (issue 28 item 8, HAProxy's maxconn): beyond it a new tunnel is
 * answered 503 with Retry-After, while a TLS handshake and the admin listener's /healthz still
 * work, and /metrics counts the refusal. Real processes on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startSilentOrigin } from '../support/fin-origin.js';
import { DEFAULT_USER, isAccessRecord, startGateway } from '../support/gateway.js';
import { explainFailure, freePort, Peers, waitUntil } from '../support/processes.js';
import { openTunnel, type ProxyAddress } from '../support/proxy-requests.js';
import { sampleOf } from '../support/fleet.js';
import { BYTE_PATHS_UNDER_TEST } from '../support/byte-paths.js';
import { adminText, tunnelTo } from '../support/tunnel-ends.js';

test('at --max-connections the gateway answers 503 with Retry-After, and still completes TLS handshakes and answers /healthz', { timeout: 120_000 }, async (t) => {
  const peers = new Peers();
  const origin = await startSilentOrigin();
  const held: Socket[] = [];
  t.after(async () => {
    for (const s of held) s.destroy();
    await peers.close();
    await origin.stop();
  });
  await explainFailure(peers, async () => {
    const adminPort = await freePort();
    const gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.port}`], runArgs: ['--max-connections', '6', '--half-close-timeout', '1', '--admin', `127.0.0.1:${adminPort}`] }));
    await gateway.program.waitForLog((r) => r.msg === 'The admin listener is up (/metrics, /healthz, /readyz).', 15_000, 'the admin listener');
    const proxy: ProxyAddress = { port: gateway.port, tls: { servername: gateway.hostname, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, auth: { user: DEFAULT_USER.name, password: DEFAULT_USER.password } };
    // Each HTTP/1.1 tunnel holds two connections (the client's and the destination's): three fill the cap.
    for (let i = 0; i < 3; i += 1) held.push(await tunnelTo(proxy, origin));
    const refused = await openTunnel({ proxy, target: `127.0.0.1:${origin.port}`, timeoutMs: 30_000 });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '5');
    assert.equal(refused.headers['pinhole-error'], 'PINHOLE_GATEWAY_FULL');
    // Room is kept for a TLS handshake and for the admin listener.
    const tls = tlsConnect({ host: '127.0.0.1', port: gateway.port, servername: gateway.hostname, rejectUnauthorized: false });
    await once(tls, 'secureConnect');
    tls.destroy();
    assert.equal((await adminText(adminPort, '/healthz')).status, 200);
    const metrics = (await adminText(adminPort, '/metrics')).body;
    assert.ok(sampleOf(metrics, 'pinhole_connection_cap_refusals_total', 'refused="request"') >= 1);
    assert.ok(gateway.program.records.some((r) => r.msg?.toString().startsWith('The gateway holds as many connections as its cap allows')));
    // Below the cap again (the gateway lets go of a tunnel its client closed within --half-close-timeout), tunnels open.
    const freed = held.pop();
    freed?.destroy();
    await gateway.program.waitForLog((r) => isAccessRecord(r) && r['status'] === 200, 30_000, 'a held tunnel to close');
    held.push(await tunnelTo(proxy, origin));
  });
});

for (const bytePath of BYTE_PATHS_UNDER_TEST) {
  test(`--byte-path ${bytePath}: a pass-through route counts the backend it dials against --max-connections, and at the cap closes the connection instead of dialling`, { timeout: 120_000 }, async (t) => {
    const peers = new Peers();
    // The --ssh backend: a silent client is routed there once the sniff times out.
    const backend = await startSilentOrigin();
    const held: Socket[] = [];
    t.after(async () => {
      for (const s of held) s.destroy();
      await peers.close();
      await backend.stop();
    });
    await explainFailure(peers, async () => {
      const adminPort = await freePort();
      const gateway = peers.add(
        await startGateway({
          restrictTo: [`127.0.0.1:${backend.port}`],
          runArgs: ['--ssh', `127.0.0.1:${backend.port}`, '--sniff-timeout', '200', '--max-connections', '6', '--half-close-timeout', '1', '--byte-path', bytePath, '--admin', `127.0.0.1:${adminPort}`],
        }),
      );
      await waitUntil(() => gateway.program.records.some((r) => r.msg === 'The admin listener is up (/metrics, /healthz, /readyz).'), 10_000, 'the admin listener');
      const silentClient = async (): Promise<Socket> => {
        const socket = netConnect({ host: '127.0.0.1', port: gateway.port });
        socket.on('error', () => undefined);
        await once(socket, 'connect');
        held.push(socket);
        return socket;
      };
      // Each pass-through holds two connections (the client's and the backend's): three fill the cap.
      for (let i = 1; i <= 3; i += 1) {
        await silentClient();
        await waitUntil(() => backend.accepted() === i || undefined, 30_000, `pass-through ${i} to reach the backend`);
      }
      const open = async (): Promise<number> => sampleOf((await adminText(adminPort, '/metrics')).body, 'pinhole_connections_open');
      assert.equal(await open(), 6);
      const beyond = await silentClient();
      await once(beyond, 'close');
      assert.equal(backend.accepted(), 3, 'no backend was dialled beyond the cap');
      const metrics = (await adminText(adminPort, '/metrics')).body;
      assert.ok(sampleOf(metrics, 'pinhole_connection_cap_refusals_total', 'refused="request"') >= 1);
      // Below the cap again (the client's FIN, then --half-close-timeout), a pass-through dials again.
      held.shift()?.destroy();
      for (const deadline = Date.now() + 30_000; (await open()) > 4; ) {
        assert.ok(Date.now() < deadline, 'a pass-through was let go within 30 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await silentClient();
      await waitUntil(() => backend.accepted() === 4 || undefined, 30_000, 'the next pass-through to reach the backend');
    });
  });
}
