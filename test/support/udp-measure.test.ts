import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalUdpForward, type OpenUdpFlow } from '../../main/udp/local-udp.js';
import { startDelayRelay } from './relay.js';
import { startUdpEcho, type UdpEcho } from './udp-echo.js';
import { measureDatagramRate, measureRoundTrips, startUdpDelayRelay } from './udp-measure.js';
import { startUdpGateway, type UdpGateway } from './udp-pair.js';

/**
 * One way across the slow link. Long enough that load on the machine (milliseconds to tens of
 * them) cannot make one round trip look like two: the bench measures the 50 ms RTT figures.
 */
const ONE_WAY_MS = 100;

async function forwardTo(port: number, openUdpFlow: OpenUdpFlow): Promise<LocalUdpForward> {
  return LocalUdpForward.listen({ bindHost: '127.0.0.1', bindPort: 0, target: { host: '127.0.0.1', port }, openUdpFlow });
}

/** An echo server and a gateway for one test, with every forward it opened closed at the end. */
async function scenario(body: (echo: UdpEcho, gateway: UdpGateway, forwards: LocalUdpForward[]) => Promise<void>): Promise<void> {
  const echo = await startUdpEcho();
  const gateway = await startUdpGateway();
  const forwards: LocalUdpForward[] = [];
  try {
    await body(echo, gateway, forwards);
  } finally {
    for (const f of forwards) await f.close();
    await gateway.stop();
    echo.close();
  }
}

async function carriers(gateway: UdpGateway, via?: { h2: number; ws: number }): Promise<Array<[string, OpenUdpFlow]>> {
  return [
    ['h2', gateway.openH2(await gateway.h2Session(via?.h2))],
    ['ws', gateway.openWs(via?.ws)],
  ];
}

test('UDP round trips on loopback: the tunnel loses nothing and each figure is reported next to direct', (t) =>
  scenario(async (echo, gateway, forwards) => {
    const direct = await measureRoundTrips(echo.port, 200);
    assert.equal(direct.lost, 0);
    for (const [name, open] of await carriers(gateway)) {
      const forward = await forwardTo(echo.port, open);
      forwards.push(forward);
      await measureRoundTrips(forward.address().port, 5); // opens the flow
      const tunnel = await measureRoundTrips(forward.address().port, 200);
      assert.equal(tunnel.lost, 0, `${name} lost datagrams on loopback`);
      t.diagnostic(`loopback RTT ${name}: median ${tunnel.medianMs.toFixed(3)} ms vs direct ${direct.medianMs.toFixed(3)} ms (x${(tunnel.medianMs / direct.medianMs).toFixed(2)})`);
    }
  }));

test('UDP round trips across a 200 ms RTT link: direct and through the tunnel each take one round trip, not more', async (t) => {
  const echo = await startUdpEcho();
  const gateway = await startUdpGateway();
  const udpLink = await startUdpDelayRelay({ port: echo.port }, ONE_WAY_MS);
  const h2Link = await startDelayRelay({ target: { port: gateway.h2Port }, delayMs: ONE_WAY_MS });
  const wsLink = await startDelayRelay({ target: { port: gateway.wsPort }, delayMs: ONE_WAY_MS });
  const forwards: LocalUdpForward[] = [];
  try {
    const direct = await measureRoundTrips(udpLink.port, 10);
    assert.equal(direct.lost, 0);
    assert.ok(direct.medianMs >= 2 * ONE_WAY_MS);
    for (const [name, open] of await carriers(gateway, { h2: h2Link.port, ws: wsLink.port })) {
      const forward = await forwardTo(echo.port, open);
      forwards.push(forward);
      await measureRoundTrips(forward.address().port, 1, 64, 5_000); // opens the flow (its own round trips)
      const tunnel = await measureRoundTrips(forward.address().port, 10);
      assert.equal(tunnel.lost, 0);
      assert.ok(tunnel.medianMs >= 2 * ONE_WAY_MS, `${name}: ${tunnel.medianMs} ms is faster than the link`);
      assert.ok(tunnel.medianMs < 4 * ONE_WAY_MS, `${name}: ${tunnel.medianMs} ms is more than one round trip of the link per datagram`);
      t.diagnostic(`${2 * ONE_WAY_MS} ms RTT ${name}: median ${tunnel.medianMs.toFixed(1)} ms vs direct ${direct.medianMs.toFixed(1)} ms (x${(tunnel.medianMs / direct.medianMs).toFixed(2)})`);
    }
  } finally {
    for (const f of forwards) await f.close();
    await Promise.all([h2Link.stop(), wsLink.stop(), udpLink.stop()]);
    await gateway.stop();
    echo.close();
  }
});

test('datagrams per second through the tunnel, next to direct (64-byte datagrams, 64 outstanding)', (t) =>
  scenario(async (echo, gateway, forwards) => {
    const direct = await measureDatagramRate(echo.port, 1_000);
    assert.ok(direct.received > 0);
    for (const [name, open] of await carriers(gateway)) {
      const forward = await forwardTo(echo.port, open);
      forwards.push(forward);
      await measureRoundTrips(forward.address().port, 5);
      const tunnel = await measureDatagramRate(forward.address().port, 1_000);
      assert.ok(tunnel.received > 0, `${name} carried nothing`);
      t.diagnostic(`datagrams/s ${name}: ${tunnel.perSecond.toFixed(0)} vs direct ${direct.perSecond.toFixed(0)} (x${(tunnel.perSecond / direct.perSecond).toFixed(2)}), ${tunnel.sent - tunnel.received} of ${tunnel.sent} unanswered`);
    }
  }));
