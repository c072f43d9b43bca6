import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { PinholeError } from '../../shared/errors.js';
import { DatagramChannelBase } from '../../shared/udp/datagram-channel.js';
import { waitUntil } from '../../test/support/processes.js';
import { LocalUdpForward } from './local-udp.js';

/** A flow that answers each datagram with "ack:" + it, in memory, and records what it carried. */
class AckFlow extends DatagramChannelBase {
  carried: string[] = [];
  send(payload: Uint8Array): boolean {
    if (this.closed) return false;
    this.carried.push(Buffer.from(payload).toString());
    setImmediate(() => this.deliver(Buffer.concat([Buffer.from('ack:'), payload])));
    return true;
  }
  protected release(): void {}
  fail(): void {
    this.end(new Error('gateway closed the flow'));
  }
}

async function client(): Promise<UdpSocket> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

test('each source gets its own flow to the -L target; answers go back to the right source', async () => {
  const opened: Array<{ host: string; port: number; flow: AckFlow }> = [];
  const forward = await LocalUdpForward.listen({
    bindHost: '127.0.0.1',
    bindPort: 0,
    target: { host: 'vpn.internal', port: 1194 },
    openUdpFlow: async (host, port) => {
      const flow = new AckFlow();
      opened.push({ host, port, flow });
      return flow;
    },
  });
  const [a, b] = [await client(), await client()];
  try {
    const port = forward.address().port;
    a.send('from-a', port, '127.0.0.1');
    b.send('from-b', port, '127.0.0.1');
    const [[fromA], [fromB]] = (await Promise.all([once(a, 'message'), once(b, 'message')])) as [[Buffer], [Buffer]];
    assert.equal(fromA.toString(), 'ack:from-a');
    assert.equal(fromB.toString(), 'ack:from-b');
    assert.deepEqual(opened.map((o) => `${o.host}:${o.port}`), ['vpn.internal:1194', 'vpn.internal:1194']);
    a.send('again', port, '127.0.0.1');
    await once(a, 'message');
    assert.equal(opened.length, 2, 'the same source reuses its flow');
    assert.deepEqual(forward.counters, { flowsOpened: 2, flowsFailed: 0, datagramsUp: 3, datagramsDown: 3, bytesUp: 17, bytesDown: 29, dropped: 0 });
  } finally {
    a.close();
    b.close();
    await forward.close();
  }
  assert.ok(opened.every((o) => o.flow.closed), 'close() closes every flow');
});

test('datagrams sent while the flow opens wait (bounded) and go out in order; beyond the bound they are dropped and counted', async () => {
  let release: (() => void) | undefined;
  const flow = new AckFlow();
  const forward = await LocalUdpForward.listen({
    bindHost: '127.0.0.1',
    bindPort: 0,
    target: { host: 'h', port: 1 },
    maxPending: 3,
    openUdpFlow: () => new Promise((resolve) => (release = () => resolve(flow))),
  });
  const a = await client();
  try {
    const port = forward.address().port;
    for (let i = 0; i < 5; i++) a.send(`d${i}`, port, '127.0.0.1');
    await waitUntil(() => forward.counters.datagramsUp === 5, 5_000, 'five datagrams received');
    release!();
    await waitUntil(() => flow.carried.length === 3, 5_000, 'the queued datagrams to go out');
    assert.deepEqual(flow.carried, ['d0', 'd1', 'd2']);
    assert.equal(forward.counters.dropped, 2);
  } finally {
    a.close();
    await forward.close();
  }
});

test('a flow that cannot open drops its datagrams, is logged and forgotten, so the next datagram tries again', async () => {
  let attempts = 0;
  const forward = await LocalUdpForward.listen({
    bindHost: '127.0.0.1',
    bindPort: 0,
    target: { host: '10.0.0.1', port: 53 },
    openUdpFlow: async () => {
      attempts++;
      if (attempts === 1) throw new PinholeError('PINHOLE_DEST_FORBIDDEN');
      return new AckFlow();
    },
  });
  const a = await client();
  try {
    const port = forward.address().port;
    a.send('x', port, '127.0.0.1');
    await waitUntil(() => forward.counters.flowsFailed === 1 && forward.flowCount === 0, 5_000, 'the failed flow to be forgotten');
    assert.equal(forward.counters.dropped, 1);
    a.send('y', port, '127.0.0.1');
    const [answer] = (await once(a, 'message')) as [Buffer];
    assert.equal(answer.toString(), 'ack:y');
  } finally {
    a.close();
    await forward.close();
  }
});

test('flows idle out on the client side too, and a flow the gateway ends is forgotten', async () => {
  const flows: AckFlow[] = [];
  const forward = await LocalUdpForward.listen({
    bindHost: '127.0.0.1',
    bindPort: 0,
    target: { host: 'h', port: 1 },
    idleTimeoutMs: 200,
    openUdpFlow: async () => {
      const f = new AckFlow();
      flows.push(f);
      return f;
    },
  });
  const a = await client();
  try {
    const port = forward.address().port;
    a.send('1', port, '127.0.0.1');
    await once(a, 'message');
    await waitUntil(() => flows[0]?.closed, 5_000, 'the idle flow to close');
    assert.equal(forward.flowCount, 0);
    a.send('2', port, '127.0.0.1');
    await once(a, 'message');
    flows[1]!.fail();
    assert.equal(forward.flowCount, 0);
  } finally {
    a.close();
    await forward.close();
  }
});

test('at most maxFlows sources: a new source beyond it is dropped, the existing ones keep working', async () => {
  const forward = await LocalUdpForward.listen({ bindHost: '127.0.0.1', bindPort: 0, target: { host: 'h', port: 1 }, maxFlows: 1, openUdpFlow: async () => new AckFlow() });
  const [a, b] = [await client(), await client()];
  try {
    const port = forward.address().port;
    a.send('a', port, '127.0.0.1');
    await once(a, 'message');
    b.send('b', port, '127.0.0.1');
    await waitUntil(() => forward.counters.dropped === 1, 5_000, 'the extra source to be dropped');
    a.send('a2', port, '127.0.0.1');
    const [answer] = (await once(a, 'message')) as [Buffer];
    assert.equal(answer.toString(), 'ack:a2');
  } finally {
    a.close();
    b.close();
    await forward.close();
  }
});

test('a port already taken is PINHOLE_ADDRESS_IN_USE, naming the address', async () => {
  const taken = await client();
  try {
    await assert.rejects(
      LocalUdpForward.listen({ bindHost: '127.0.0.1', bindPort: taken.address().port, target: { host: 'h', port: 1 }, openUdpFlow: async () => new AckFlow() }),
      (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_ADDRESS_IN_USE' && err.message.includes(`127.0.0.1:${taken.address().port}`),
    );
  } finally {
    taken.close();
  }
});
