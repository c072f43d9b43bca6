import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { PinholeError } from '../../shared/errors.js';
import { RecordList } from '../../test/support/record-list.js';
import { startUdpEcho } from '../../test/support/udp-echo.js';
import { UdpFlow, type UdpDestinationCheck } from './flows.js';

const allowLoopback: UdpDestinationCheck = async ({ host }) => {
  if (host === 'echo.test' || host === '127.0.0.1') return { address: '127.0.0.1', family: 4 };
  throw new PinholeError('PINHOLE_DEST_FORBIDDEN');
};

const nextDatagram = (flow: UdpFlow): Promise<string> => new Promise((resolve) => flow.onDatagram((p) => resolve(Buffer.from(p).toString())));

test('a flow sends to the address the policy chose (a name resolved there, not here) and counts both ways', async () => {
  const echo = await startUdpEcho('re:');
  const asked: string[] = [];
  const flow = await UdpFlow.open({ host: 'echo.test', port: echo.port }, { decide: async (t) => (asked.push(t.host), allowLoopback(t)) });
  try {
    assert.equal(flow.address, '127.0.0.1');
    const answer = nextDatagram(flow);
    assert.ok(flow.send(Buffer.from('hello')));
    assert.equal(await answer, 're:hello');
    assert.deepEqual(asked, ['echo.test']);
    assert.deepEqual(
      { up: flow.counters.datagramsUp, down: flow.counters.datagramsDown, bytesUp: flow.counters.bytesUp, bytesDown: flow.counters.bytesDown },
      { up: 1, down: 1, bytesUp: 5, bytesDown: 8 },
    );
  } finally {
    flow.close();
    echo.socket.close();
  }
});

test('datagrams from anyone but the destination never reach the flow (the socket is connected)', async () => {
  const echo = await startUdpEcho('re:');
  const flow = await UdpFlow.open({ host: '127.0.0.1', port: echo.port }, { decide: allowLoopback });
  const stranger = createSocket('udp4');
  try {
    const received = new RecordList<string>();
    const got = received.items;
    flow.onDatagram((p) => received.push(Buffer.from(p).toString()));
    flow.send(Buffer.from('a'));
    await received.until((all) => all.length > 0, 'the first echo');
    // The flow's local port is only learnable from the echo server's view; send there from a stranger.
    const flowPort = await new Promise<number>((resolve) => {
      echo.socket.once('message', (_m, r) => resolve(r.port));
      flow.send(Buffer.from('b'));
    });
    stranger.send('spoof', flowPort, '127.0.0.1');
    flow.send(Buffer.from('c'));
    await received.until((all) => all.includes('re:c'), "the echo of 'c'");
    assert.ok(!got.includes('spoof'));
  } finally {
    stranger.close();
    flow.close();
    echo.socket.close();
  }
});

test('a refused destination opens no socket and the refusal keeps its code', async () => {
  await assert.rejects(
    UdpFlow.open({ host: '10.0.0.1', port: 53 }, { decide: allowLoopback }),
    (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_DEST_FORBIDDEN',
  );
});

test('a destination the kernel connects no UDP socket to is PINHOLE_CONNECT_FAILED at open, not a flow that fails later', async () => {
  for (const [address, family, port] of [['fe80::1', 6, 53], ['255.255.255.255', 4, 53], ['127.0.0.1', 4, 0]] as const) {
    await assert.rejects(
      UdpFlow.open({ host: address, port }, { decide: async () => ({ address, family }) }),
      (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_CONNECT_FAILED',
      `${address} port ${port}`,
    );
  }
});

test('an idle flow closes itself after the timeout, and traffic postpones it', async () => {
  const echo = await startUdpEcho('re:');
  const idleMs = 1_000;
  const flow = await UdpFlow.open({ host: '127.0.0.1', port: echo.port }, { decide: allowLoopback, idleTimeoutMs: idleMs });
  const started = Date.now();
  // Keep it busy for twice the idle timeout: it must not close while datagrams flow. Each datagram
  // goes once the last one's echo is back, 100 ms later: the spacing is the behaviour (traffic well
  // inside the timeout), not a stand-in for an event.
  let lastSent = started;
  while (Date.now() - started < 2 * idleMs) {
    const echoed = nextDatagram(flow);
    lastSent = Date.now();
    flow.send(Buffer.from('k'));
    assert.equal(await echoed, 're:k');
    assert.ok(!flow.closed, 'closed while busy');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const closed = new Promise<void>((resolve) => flow.onClose(() => resolve()));
  await closed;
  assert.equal(flow.endReason, 'idle');
  assert.ok(Date.now() - started >= 2 * idleMs, 'not while it was busy');
  assert.ok(Date.now() - lastSent >= idleMs - 5, 'not before the idle timeout after the last datagram');
  assert.equal(flow.send(Buffer.from('late')), false, 'a closed flow drops');
  echo.socket.close();
});

test('ICMP port unreachable from a dead destination is counted, not fatal', async () => {
  const dead = createSocket('udp4');
  dead.bind(0, '127.0.0.1');
  await once(dead, 'listening');
  const port = dead.address().port;
  await new Promise<void>((resolve) => dead.close(() => resolve()));
  const flow = await UdpFlow.open({ host: '127.0.0.1', port }, { decide: allowLoopback });
  try {
    // The kernel reports the port unreachable to the flow's own socket, which the flow only counts
    // (no event): a datagram every 50 ms until it is counted, with a bound a loaded machine meets.
    const deadline = Date.now() + 10_000;
    while (flow.counters.icmpErrors === 0 && Date.now() < deadline) {
      flow.send(Buffer.from('x'));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(flow.counters.icmpErrors > 0);
    assert.ok(!flow.closed);
  } finally {
    flow.close();
  }
});

test('the in-flight bound drops beyond it instead of queueing without limit', async () => {
  const echo = await startUdpEcho('re:');
  const flow = await UdpFlow.open({ host: '127.0.0.1', port: echo.port }, { decide: allowLoopback, maxInFlight: 4 });
  try {
    let accepted = 0;
    for (let i = 0; i < 100; i++) if (flow.send(Buffer.alloc(100))) accepted++;
    assert.equal(accepted, 4, 'sends complete asynchronously, so a burst stops at the bound');
    assert.equal(accepted + flow.counters.dropped, 100);
  } finally {
    flow.close();
    echo.socket.close();
  }
});
