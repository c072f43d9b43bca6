import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { constants } from 'node:http2';
import { PinholeError } from '../../shared/errors.js';
import { formatConnectUdpPath } from '../../shared/udp/connect-udp-path.js';
import { UDP_WS_PATH } from '../../shared/udp/ws-frame.js';
import { LocalUdpForward, type OpenUdpFlow } from '../../main/udp/local-udp.js';
import { openWsUdpFlow } from '../../main/udp/ws-flow.js';
import { startDnsmasq } from './dnsmasq.js';
import { startUdpEcho } from './udp-echo.js';
import { runCommand, waitUntil } from './processes.js';
import { pairAuthorization, startUdpGateway, type UdpGateway } from './udp-pair.js';

type Carrier = 'h2' | 'ws';
const carriers: Carrier[] = ['h2', 'ws'];

async function opener(gateway: UdpGateway, carrier: Carrier): Promise<OpenUdpFlow> {
  return carrier === 'h2' ? gateway.openH2(await gateway.h2Session()) : gateway.openWs();
}

for (const carrier of carriers) {
  test(`dig through the tunnel (${carrier}): the local UDP forward, the gateway's flow, a real dnsmasq on loopback`, async () => {
    const dns = await startDnsmasq({ 'test.example': '10.0.0.1' });
    const gateway = await startUdpGateway();
    const forward = await LocalUdpForward.listen({ bindHost: '127.0.0.1', bindPort: 0, target: { host: '127.0.0.1', port: dns.port }, openUdpFlow: await opener(gateway, carrier) });
    try {
      for (const name of ['a.test.example', 'b.test.example']) {
        const dig = await runCommand('dig', { args: ['+short', '+time=5', '+tries=1', '@127.0.0.1', '-p', String(forward.address().port), name], timeoutMs: 20_000 });
        assert.equal(dig.code, 0, dig.stdout + dig.stderr);
        assert.equal(dig.stdout.trim(), '10.0.0.1');
      }
      assert.equal(dns.queries(), 2, 'dnsmasq answered both queries');
      assert.equal(forward.counters.flowsOpened, 2, 'each dig ran from its own source port: one flow each');
      assert.equal(gateway.flows.length, 2);
      assert.ok(gateway.flows.every((f) => f.counters.datagramsUp === 1 && f.counters.datagramsDown === 1));
    } finally {
      await forward.close();
      await gateway.stop();
      await dns.stop();
    }
  });

  test(`many datagrams from two sources keep their flows apart and come back in full (${carrier})`, async () => {
    const echo = await startUdpEcho();
    const gateway = await startUdpGateway();
    const forward = await LocalUdpForward.listen({ bindHost: '127.0.0.1', bindPort: 0, target: { host: '127.0.0.1', port: echo.port }, openUdpFlow: await opener(gateway, carrier) });
    const clients = await Promise.all(
      [0, 1].map(async () => {
        const s = createSocket('udp4');
        s.bind(0, '127.0.0.1');
        await once(s, 'listening');
        return s;
      }),
    );
    try {
      const count = 50;
      const received = clients.map(() => new Set<string>());
      clients.forEach((s, i) => s.on('message', (m: Buffer) => received[i]!.add(m.toString())));
      // One datagram first: it opens the flow; the rest follow (UDP may drop, the tunnel should not on loopback).
      for (const [i, s] of clients.entries()) s.send(`c${i}-0`, forward.address().port, '127.0.0.1');
      await waitUntil(() => received.every((r) => r.size === 1), 10_000, 'the first echoes');
      for (let n = 1; n < count; n++) for (const [i, s] of clients.entries()) s.send(`c${i}-${n}-${'x'.repeat(n * 20)}`, forward.address().port, '127.0.0.1');
      await waitUntil(() => received.every((r) => r.size === count), 10_000, 'all echoes');
      for (const [i, r] of received.entries()) for (const m of r) assert.ok(m.startsWith(`c${i}-`), 'an answer went to the wrong source');
      assert.equal(forward.flowCount, 2);
      assert.equal(gateway.flows.length, 2);
      assert.equal(forward.counters.dropped, 0);
    } finally {
      for (const s of clients) s.close();
      await forward.close();
      await gateway.stop();
      echo.socket.close();
    }
  });

  test(`an idle flow times out at the gateway and the client forgets it; the next datagram opens a new one (${carrier})`, async () => {
    const echo = await startUdpEcho();
    const gateway = await startUdpGateway({ idleTimeoutMs: 300 });
    const forward = await LocalUdpForward.listen({ bindHost: '127.0.0.1', bindPort: 0, target: { host: '127.0.0.1', port: echo.port }, openUdpFlow: await opener(gateway, carrier) });
    const client = createSocket('udp4');
    try {
      client.send('one', forward.address().port, '127.0.0.1');
      await once(client, 'message');
      await waitUntil(() => gateway.flows[0]?.endReason === 'idle', 5_000, 'the gateway flow to idle out');
      await waitUntil(() => forward.flowCount === 0, 5_000, 'the client flow to end with it');
      await waitUntil(() => gateway.access.length === 1, 5_000, 'the access record');
      assert.equal(gateway.access[0]?.end, 'idle');
      assert.equal(gateway.access[0]?.datagramsUp, 1);
      client.send('two', forward.address().port, '127.0.0.1');
      const [again] = (await once(client, 'message')) as [Buffer];
      assert.equal(again.toString(), 'two');
      assert.equal(gateway.flows.length, 2);
    } finally {
      client.close();
      await forward.close();
      await gateway.stop();
      echo.socket.close();
    }
  });

  test(`a UDP destination the policy refuses is a 403 PINHOLE_DEST_FORBIDDEN at the client, and no flow opens (${carrier})`, async () => {
    const gateway = await startUdpGateway();
    try {
      const open = await opener(gateway, carrier);
      await assert.rejects(open('10.0.0.1', 53), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_DEST_FORBIDDEN');
      await waitUntil(() => gateway.access.length === 1, 5_000, 'the refusal record');
      assert.equal(gateway.access[0]?.status, 403);
      assert.equal(gateway.flows.length, 0);
    } finally {
      await gateway.stop();
    }
  });
}

test('wrong credentials are a 407 PINHOLE_AUTH_REJECTED for the WebSocket carrier, and none is PINHOLE_AUTH_MISSING for h2', async () => {
  const gateway = await startUdpGateway();
  try {
    await assert.rejects(
      openWsUdpFlow('127.0.0.1', 53, { url: `ws://127.0.0.1:${gateway.wsPort}${UDP_WS_PATH}`, authorization: 'Basic eDp5' }),
      (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_AUTH_REJECTED',
    );
    const session = await gateway.h2Session();
    const stream = session.request({ ':method': 'CONNECT', ':protocol': 'connect-udp', ':scheme': 'http', ':authority': 'x', ':path': formatConnectUdpPath({ host: '127.0.0.1', port: 53 }) });
    const [headers] = (await once(stream, 'response')) as [Record<string, string | number>];
    assert.equal(headers[':status'], 407);
    assert.equal(headers['pinhole-error'], undefined, 'a plain 407: nothing for a client not signed in');
    stream.close();
  } finally {
    await gateway.stop();
  }
});

test('malformed capsules reset the CONNECT-UDP stream and close the gateway flow', async () => {
  const echo = await startUdpEcho();
  const gateway = await startUdpGateway();
  try {
    const session = await gateway.h2Session();
    const stream = session.request({
      ':method': 'CONNECT',
      ':protocol': 'connect-udp',
      ':scheme': 'http',
      ':authority': 'x',
      ':path': formatConnectUdpPath({ host: '127.0.0.1', port: echo.port }),
      'proxy-authorization': pairAuthorization,
      'capsule-protocol': '?1',
    });
    stream.on('error', () => undefined);
    const [headers] = (await once(stream, 'response')) as [Record<string, string | number>];
    assert.equal(headers[':status'], 200);
    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.write(Buffer.from([0x00, 0x00])); // a DATAGRAM capsule with no context ID
    await closed;
    assert.equal(stream.rstCode, constants.NGHTTP2_PROTOCOL_ERROR);
    await waitUntil(() => gateway.flows[0]?.closed, 5_000, 'the flow to close');
  } finally {
    await gateway.stop();
    echo.socket.close();
  }
});
