/**
 * Tunnels an application closes normally (FIN) to a server that stays silent end (issue 28 item
 * 8): after 1,000 of them `pinhole connect` and the gateway are back to the descriptors they had,
 * once --half-close-timeout has passed. Real processes on 127.0.0.1; every wait is for an event
 * (a close, a count back to its baseline) with a generous bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { startSilentOrigin } from '../support/fin-origin.js';
import { startClient } from '../support/client.js';
import { isAccessRecord, startGateway } from '../support/gateway.js';
import { explainFailure, Peers, waitUntil } from '../support/processes.js';
import { closed, fdCount, inLanes, tunnelRecords, tunnelTo } from '../support/tunnel-ends.js';

test('1,000 tunnels an application closes with a FIN to a silent server are released by the client and the gateway', { timeout: 240_000 }, async (t) => {
  const peers = new Peers();
  const origin = await startSilentOrigin();
  t.after(async () => {
    await peers.close();
    await origin.stop();
  });
  const gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.port}`], runArgs: ['--half-close-timeout', '1'] }));
  const client = peers.add(await startClient({ link: await gateway.provision(), extraArgs: ['--half-close-timeout', '1'] }));
  // Early start stays on: a tunnel the application half-closes before the gateway's answer is the
  // case whose RST the client once never sent (node/relay.ts destroys with the timeout's error).
  const proxy = { port: client.port };
  await explainFailure(peers, async () => {
    // One tunnel first, so the client's session to the gateway is part of the baseline.
    const first = await tunnelTo(proxy, origin);
    first.end();
    await closed(first);
    await gateway.program.waitForLogs(isAccessRecord, 1, 60_000, 'the first tunnel to end at the gateway');
    const before = { gateway: fdCount(gateway.program.pid), client: fdCount(client.program.pid) };
    const apps: Socket[] = [];
    await inLanes(1000, 50, async () => {
      const socket = await tunnelTo(proxy, origin);
      socket.resume();
      socket.end();
      apps.push(socket);
    });
    assert.equal(apps.length, 1000);
    // Each application sees its tunnel end (the FIN back, then close) without sending anything else.
    await Promise.all(apps.map(closed));
    await gateway.program.waitForLogs(isAccessRecord, 1001, 120_000, 'every tunnel to end at the gateway');
    assert.equal(tunnelRecords(gateway), 1001);
    const back = (): boolean => fdCount(gateway.program.pid) <= before.gateway + 2 && fdCount(client.program.pid) <= before.client + 2;
    await waitUntil(() => back() || undefined, 120_000, `descriptors back to ${JSON.stringify(before)}`).catch(() => undefined);
    const after = { gateway: fdCount(gateway.program.pid), client: fdCount(client.program.pid) };
    assert.ok(after.gateway <= before.gateway + 2, `gateway descriptors ${before.gateway} -> ${after.gateway}`);
    assert.ok(after.client <= before.client + 2, `client descriptors ${before.client} -> ${after.client}`);
    assert.equal(origin.accepted(), 1001);
  });
});

