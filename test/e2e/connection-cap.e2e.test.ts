/**
 * The gateway's --max-connections (issue 28 item 8, HAProxy's maxconn): beyond it a new tunnel is
 * answered 503 with Retry-After, while a TLS handshake and the admin listener's /healthz still
 * work, and /metrics counts the refusal. Real processes on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startSilentOrigin } from '../support/fin-origin.js';
import { DEFAULT_USER, isAccessRecord, startGateway } from '../support/gateway.js';
import { explainFailure, freePort, Peers } from '../support/processes.js';
import { openTunnel, type ProxyAddress } from '../support/proxy-requests.js';
import { sampleOf } from '../support/fleet.js';
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
