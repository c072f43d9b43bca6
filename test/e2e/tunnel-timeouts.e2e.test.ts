/**
 * --half-close-timeout and --idle-timeout on each side alone (issue 28 item 8), over h2, h1 and
 * wss: when the gateway ends a silent tunnel the client lets go of everything it held for it (the
 * h2 stream reset, the TLS or WebSocket connection closed), the access log and /metrics say why;
 * when the client ends it, the gateway does. Real processes on 127.0.0.1, short timeouts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSilentOrigin } from '../support/fin-origin.js';
import { startClient, startClientOf } from '../support/client.js';
import { isAccessRecord, startGateway } from '../support/gateway.js';
import { explainFailure, freePort, Peers, waitUntil } from '../support/processes.js';
import { sampleOf } from '../support/fleet.js';
import { adminText, closed, endedBy, fdCount, tunnelTo } from '../support/tunnel-ends.js';

test('each side alone ends a half-closed tunnel and a silent one, over h2, h1 and wss; the access log and /metrics say why', { timeout: 240_000 }, async (t) => {
  const peers = new Peers();
  const origin = await startSilentOrigin();
  t.after(async () => {
    await peers.close();
    await origin.stop();
  });
  await explainFailure(peers, async () => {
    const adminPort = await freePort();
    // The gateway times out; the clients never do.
    const gateway = peers.add(
      await startGateway({ restrictTo: [`127.0.0.1:${origin.port}`], runArgs: ['--half-close-timeout', '1', '--idle-timeout', '2', '--admin', `127.0.0.1:${adminPort}`] }),
    );
    for (const transport of ['h2', 'h1', 'wss'] as const) {
      // Early start stays on (h2): a FIN that reaches the gateway before its answer starts its half-close timeout too.
      const client = peers.add(
        await startClientOf(gateway, { name: `pinhole-${transport}`, transport, extraArgs: ['--half-close-timeout', '0', '--idle-timeout', '0'] }),
      );
      const proxy = { port: client.port };
      const warm = await tunnelTo(proxy, origin);
      warm.end();
      await closed(warm);
      const before = fdCount(client.program.pid);
      const halfClosed = await tunnelTo(proxy, origin);
      halfClosed.resume();
      halfClosed.end();
      const silent = await tunnelTo(proxy, origin);
      silent.resume();
      await Promise.all([closed(halfClosed), closed(silent)]);
      await waitUntil(() => fdCount(client.program.pid) <= before || undefined, 60_000, `the ${transport} client to give its descriptors back`).catch(() => undefined);
      assert.ok(fdCount(client.program.pid) <= before, `${transport}: client descriptors ${before} -> ${fdCount(client.program.pid)}`);
      await client.stop();
    }
    await gateway.program.waitForLogs((r) => isAccessRecord(r) && r['end'] === 'idle-timeout', 3, 30_000, 'three idle-timeout access records');
    assert.ok(endedBy(gateway, 'half-close-timeout') >= 6, 'the warm-up and half-closed tunnels of each transport ended by the half-close timeout');
    for (const proto of ['h2', 'http/1.1', 'wss']) assert.ok(gateway.accessLog().some((r) => isAccessRecord(r) && r['proto'] === proto), `a ${proto} tunnel was carried`);
    const metrics = (await adminText(adminPort, '/metrics')).body;
    assert.equal(sampleOf(metrics, 'pinhole_tunnels_timed_out_total', 'reason="idle"'), endedBy(gateway, 'idle-timeout'));
    assert.equal(sampleOf(metrics, 'pinhole_tunnels_timed_out_total', 'reason="half-close"'), endedBy(gateway, 'half-close-timeout'));

    // Now the client times out and the gateway never does.
    const patient = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.port}`], runArgs: ['--half-close-timeout', '0', '--idle-timeout', '0'] }));
    const client = peers.add(await startClient({ link: await patient.provision(), name: 'pinhole-times-out', extraArgs: ['--half-close-timeout', '1', '--idle-timeout', '2'] }));
    const proxy = { port: client.port };
    const halfClosed = await tunnelTo(proxy, origin);
    halfClosed.resume();
    halfClosed.end();
    const silent = await tunnelTo(proxy, origin);
    silent.resume();
    await Promise.all([closed(halfClosed), closed(silent)]);
    await patient.program.waitForLogs(isAccessRecord, 2, 30_000, 'the gateway to close both tunnels the client ended');
  });
});

