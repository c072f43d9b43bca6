/**
 * The relay's story on both byte paths (issue 27): an HTTP/1.1 tunnel to the Pinhole gateway,
 * opened by H1Transport with and without the native byte path, and relayed with the call the proxy's
 * CONNECT, SOCKS5 and `forward -L` make (relayTunnel). Half-close both ways, a peer that resets, the
 * idle and half-close timeouts, byte counts and a tunnel used as a plain stream behave the same.
 * So do the warm pool (a tunnel takes a connection that finished its handshake; one the gateway
 * closed while idle is replaced at once) and early start (the application's bytes behind the
 * CONNECT, none of the gateway's before its answer, nothing lost across the handover).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { chooseBytePath, nativeRelayOf, type NativeBytePath } from '../../node/native/byte-path.js';
import { NativeTunnelStream, relayTunnel } from '../../node/native/tunnel-stream.js';
import type { RelayResult } from '../../node/relay.js';
import { createLogger } from '../../shared/log.js';
import { DEFAULT_USER, startGateway, type RunningGateway } from '../../test/support/gateway.js';
import { Peers } from '../../test/support/processes.js';
import { PinholeError } from '../../shared/errors.js';
import { H1Transport } from './h1-transport.js';

const peers = new Peers();
let gateway: RunningGateway;
let origin: Server;
let native: NativeBytePath | undefined;
/** What the origin does with each connection, set by the test that uses it. */
let onOrigin: (socket: Socket) => void = (socket) => socket.destroy();
const originSockets = new Set<Socket>();

before(async () => {
  const choice = chooseBytePath('auto');
  native = choice.kind === 'native' ? choice.path : undefined;
  origin = createServer({ allowHalfOpen: true }, (socket) => {
    originSockets.add(socket);
    socket.once('close', () => originSockets.delete(socket));
    socket.on('error', () => undefined);
    onOrigin(socket);
  });
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${originPort()}`] }));
});
after(async () => {
  origin.close();
  for (const socket of originSockets) socket.destroy();
  await peers.close();
});

const originPort = (): number => (origin.address() as AddressInfo).port;

const transportFor = (bytePath: 'native' | 'js', pool: { poolSize: number; port: number } = { poolSize: 0, port: gateway.port }): H1Transport =>
  new H1Transport({
    endpoints: [{ host: '127.0.0.1', port: pool.port }],
    serverName: gateway.hostname,
    trust: { kind: 'pin', pin: gateway.fingerprint },
    user: DEFAULT_USER.name,
    password: DEFAULT_USER.password,
    logger: createLogger({ name: 'test', level: 'silent' }),
    poolSize: pool.poolSize,
    ...(bytePath === 'native' && native !== undefined ? { nativeBytePath: native } : {}),
  });

/** An application connection as the local proxy holds it: `app` is the application, `accepted` (paused) the proxy's end. */
const applicationPair = async (): Promise<{ app: Socket; accepted: Socket }> => {
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepting = once(server, 'connection') as Promise<[Socket]>;
  const app = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const [[accepted]] = await Promise.all([accepting, once(app, 'connect')]);
  server.close();
  return { app, accepted };
};

const readAll = (socket: Socket): Promise<Buffer> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('close', () => resolve(Buffer.concat(chunks)));
  });

const paths = (): Array<'native' | 'js'> => (process.platform === 'linux' ? ['native', 'js'] : ['js']);

for (const bytePath of paths()) {
  const opened = async (timeouts: { idleTimeoutMs?: number; halfCloseTimeoutMs?: number } = {}) => {
    const transport = transportFor(bytePath);
    const tunnel = await transport.open({ host: '127.0.0.1', port: originPort() });
    assert.equal(tunnel instanceof NativeTunnelStream, bytePath === 'native', `the tunnel is on the ${bytePath} byte path`);
    const { app, accepted } = await applicationPair();
    app.on('error', () => undefined);
    const done = new Promise<RelayResult>((resolve) => relayTunnel(accepted, tunnel, { ...timeouts, toApplication: Buffer.from('OK\n'), done: resolve }));
    assert.equal(nativeRelayOf(accepted) !== undefined, bytePath === 'native', 'the application was handed over only on the native path');
    return { transport, app, accepted, done };
  };

  test(`${bytePath}: a request sent with a FIN still gets the whole answer, and both directions are counted`, async () => {
    const answer = Buffer.alloc(3 * 1024 * 1024, 7);
    onOrigin = (socket) => {
      const got: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => got.push(chunk));
      socket.once('end', () => socket.end(Buffer.concat([Buffer.from(`${Buffer.concat(got).length}\n`), answer])));
    };
    const { transport, app, done } = await opened();
    app.end(Buffer.alloc(100_000, 1));
    const received = await readAll(app);
    assert.equal(received.subarray(0, 3).toString(), 'OK\n', 'the application gets the proxy\'s answer first');
    assert.equal(received.subarray(3).toString().split('\n')[0], '100000', 'the origin got the whole request before the FIN');
    assert.equal(received.length, 3 + '100000\n'.length + answer.length);
    const result = await done;
    assert.equal(result.error, undefined);
    assert.equal(result.bytesUp, 100_000);
    assert.equal(result.bytesDown, '100000\n'.length + answer.length);
    await transport.close();
  });

  test(`${bytePath}: the destination may finish first and still read what the application sends after`, async () => {
    let originGot: Promise<Buffer> | undefined;
    onOrigin = (socket) => {
      originGot = readAll(socket);
      socket.end('bye\n');
    };
    const { transport, app, done } = await opened();
    const received = await readAll(app);
    assert.equal(received.toString(), 'OK\nbye\n');
    app.end('late words');
    assert.equal((await done).error, undefined);
    assert.equal((await originGot)?.toString(), 'late words');
    await transport.close();
  });

  test(`${bytePath}: a destination that resets ends the application's connection`, async () => {
    onOrigin = (socket) => socket.once('data', () => socket.resetAndDestroy());
    const { transport, app, done } = await opened();
    app.write('hello');
    // The application hears the end (a FIN or a reset: it is half-open, so 'end' or 'close').
    await readAll(app);
    app.end();
    await done;
    await transport.close();
  });

  test(`${bytePath}: closing the transport (a disconnect, a stop) ends its open tunnels, and their bytes are counted while they run`, async () => {
    onOrigin = (socket) => socket.on('data', (chunk: Buffer) => socket.write(chunk));
    const { transport, app, accepted, done } = await opened();
    app.write('ping');
    const echoed = await new Promise<Buffer>((resolve) => app.once('data', (first: Buffer) => (first.length > 3 ? resolve(first) : app.once('data', resolve))));
    assert.match(echoed.toString(), /ping$/);
    if (bytePath === 'native') assert.equal(nativeRelayOf(accepted)?.bytesUp, 4, 'the live count is readable while the relay runs');
    await transport.close();
    await readAll(app);
    assert.ok((await done).error !== undefined, 'the relay says it was ended, not finished');
  });

  test(`${bytePath}: a tunnel with no byte either way for the idle timeout is torn down`, async () => {
    onOrigin = () => undefined;
    const { transport, app, done } = await opened({ idleTimeoutMs: 400 });
    const result = await done;
    assert.equal(result.timedOut, 'idle');
    assert.equal((await readAll(app)).toString(), 'OK\n', 'the application hears the end');
    await transport.close();
  });

  test(`${bytePath}: after the application half-closes, a silent destination gets the half-close timeout, not the idle one`, async () => {
    onOrigin = () => undefined;
    const { transport, app, done } = await opened({ idleTimeoutMs: 600_000, halfCloseTimeoutMs: 400 });
    app.end('request');
    const result = await done;
    assert.equal(result.timedOut, 'half-close');
    await transport.close();
  });
}

test('native: a tunnel used as a stream (no socket to hand over) still carries bytes both ways with half-close', { skip: process.platform !== 'linux' }, async () => {
  onOrigin = (socket) => {
    const got: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => got.push(chunk));
    socket.once('end', () => socket.end(Buffer.concat(got).toString().toUpperCase()));
  };
  const transport = transportFor('native');
  const tunnel = await transport.open({ host: '127.0.0.1', port: originPort() });
  assert.ok(tunnel instanceof NativeTunnelStream);
  const chunks: Buffer[] = [];
  tunnel.on('data', (chunk: Buffer) => chunks.push(chunk));
  tunnel.end('shout this');
  await once(tunnel, 'end');
  assert.equal(Buffer.concat(chunks).toString(), 'SHOUT THIS');
  tunnel.destroy();
  await transport.close();
});

/**
 * A TCP hop in front of the gateway that counts the connections it carries, can refuse new ones,
 * and can hang up the ones it carries (as a gateway restarting, or a NAT forgetting, does).
 */
const gatewayHop = async (): Promise<{ port: number; carried: Socket[]; refuseNew(): void; hangUp(socket: Socket): void; accepted: EventTarget; close(): void }> => {
  const carried: Socket[] = [];
  const pairs = new Map<Socket, Socket>();
  const accepted = new EventTarget();
  let refusing = false;
  // Half-open both ways, as the path to a gateway is: a FIN from one side is passed on, nothing more.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    client.on('error', () => undefined);
    const upstream = connect({ host: '127.0.0.1', port: gateway.port, allowHalfOpen: true });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
    carried.push(client);
    pairs.set(client, upstream);
    accepted.dispatchEvent(new Event('connection'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    carried,
    refuseNew: () => {
      refusing = true;
    },
    hangUp: (socket) => {
      socket.end();
      pairs.get(socket)?.end();
    },
    accepted,
    close: () => {
      server.close();
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
    },
  };
};

/** Resolves once `cond()` holds, checked now and at each `event` on `target`. */
const until = (target: EventTarget, event: string, cond: () => boolean): Promise<void> =>
  new Promise((resolve) => {
    const check = (): void => {
      if (!cond()) return;
      target.removeEventListener(event, check);
      resolve();
    };
    target.addEventListener(event, check);
    check();
  });

for (const bytePath of paths()) {
  test(`${bytePath}: a tunnel takes a warm connection from the pool (no new connection to the gateway needed)`, async () => {
    onOrigin = (socket) => {
      socket.on('data', (chunk: Buffer) => socket.write(chunk));
      socket.once('end', () => socket.end());
    };
    const hop = await gatewayHop();
    const transport = transportFor(bytePath, { poolSize: 1, port: hop.port });
    transport.on('lost', () => undefined);
    await transport.warm();
    assert.equal(hop.carried.length, 1, 'one warm connection');
    // From now on a new connection fails: only the warm one can carry the tunnel.
    hop.refuseNew();
    const tunnel = await transport.open({ host: '127.0.0.1', port: originPort() });
    assert.equal(tunnel instanceof NativeTunnelStream, bytePath === 'native');
    const { app, accepted } = await applicationPair();
    const done = new Promise<RelayResult>((resolve) => relayTunnel(accepted, tunnel, { done: resolve }));
    app.write('warm');
    const echoed = await new Promise<Buffer>((resolve) => app.once('data', resolve));
    assert.equal(echoed.toString(), 'warm');
    app.end();
    await readAll(app);
    await done;
    await transport.close();
    hop.close();
  });

  test(`${bytePath}: a warm connection the gateway hung up is dropped and replaced at once, and the next tunnel works`, async () => {
    onOrigin = (socket) => socket.on('data', (chunk: Buffer) => socket.end(chunk));
    const hop = await gatewayHop();
    const transport = transportFor(bytePath, { poolSize: 1, port: hop.port });
    await transport.warm();
    hop.hangUp(hop.carried[0] as Socket);
    // The replacement is dialled because the hang-up was noticed while idle, not when a tunnel needed it.
    await until(hop.accepted, 'connection', () => hop.carried.length === 2);
    await transport.warm();
    const tunnel = await transport.open({ host: '127.0.0.1', port: originPort() });
    const { app, accepted } = await applicationPair();
    relayTunnel(accepted, tunnel, {});
    app.end('after the hang-up');
    assert.equal((await readAll(app)).toString(), 'after the hang-up');
    await transport.close();
    hop.close();
  });

  test(`${bytePath}: early start sends the application's bytes behind the CONNECT and loses none across the gateway's answer`, async () => {
    let originGot: Promise<Buffer> | undefined;
    onOrigin = (socket) => {
      originGot = readAll(socket);
      socket.write('first words from the origin');
      originGot.then(() => socket.end());
    };
    const transport = transportFor(bytePath, { poolSize: 1, port: gateway.port });
    // The first tunnel waits for the answer, which says this gateway takes early bytes.
    const learn = await transport.open({ host: '127.0.0.1', port: originPort() });
    learn.destroy();
    assert.equal(transport.startsEarly, true, "the gateway's 200 said it reads bytes after the CONNECT head");
    const early = await transport.openEarly({ host: '127.0.0.1', port: originPort() });
    assert.equal(early.stream instanceof NativeTunnelStream, bytePath === 'native');
    const { app, accepted } = await applicationPair();
    const done = new Promise<RelayResult>((resolve) => relayTunnel(accepted, early.stream, { toApplication: Buffer.from('OK\n'), holdDown: early.answered, done: resolve }));
    // All at once, without waiting for the answer: more than an early start sends before it
    // (the rest waits), so bytes go before, while and after it arrives. 200 chunks of 1 KiB, each numbered.
    const chunks = Array.from({ length: 200 }, (_, i) => Buffer.alloc(1024, i % 251));
    for (const chunk of chunks) app.write(chunk);
    app.end();
    const received = await readAll(app);
    assert.equal(received.toString(), 'OK\nfirst words from the origin');
    assert.ok(Buffer.concat(chunks).equals((await originGot) ?? Buffer.alloc(0)), 'the origin got every byte, in order');
    const result = await done;
    assert.equal(result.error, undefined);
    assert.equal(result.bytesUp, 200 * 1024, 'bytes sent before and after the answer are counted');
    await transport.close();
  });

  test(`${bytePath}: an early start the gateway refuses gives the application no byte of the refusal, and the refusal is the answer's error`, async () => {
    // The gateway dials before it answers, but this process may accept after: wait for that accept.
    const learnArrived = new Promise<void>((resolve) => {
      onOrigin = (socket) => {
        socket.destroy();
        resolve();
      };
    });
    const transport = transportFor(bytePath, { poolSize: 1, port: gateway.port });
    const learn = await transport.open({ host: '127.0.0.1', port: originPort() });
    learn.destroy();
    await learnArrived;
    let originReached = false;
    onOrigin = (socket) => {
      originReached = true;
      socket.destroy();
    };
    // A destination the gateway's policy refuses (only the origin is allowed).
    const early = await transport.openEarly({ host: '127.0.0.1', port: 1 });
    const refusal = early.answered.then(
      () => undefined,
      (err: unknown) => err,
    );
    const { app, accepted } = await applicationPair();
    app.on('error', () => undefined);
    const done = new Promise<RelayResult>((resolve) => relayTunnel(accepted, early.stream, { toApplication: Buffer.from('OK\n'), holdDown: early.answered, done: resolve }));
    app.write('an application ClientHello');
    const received = await readAll(app);
    assert.equal(received.toString(), 'OK\n', 'only the local 200: nothing of the refusal reaches the application');
    const err = await refusal;
    assert.ok(err instanceof PinholeError, 'the answer rejects');
    assert.equal(err.code, 'PINHOLE_DEST_FORBIDDEN');
    assert.ok((await done).error !== undefined, 'the relay says it did not finish');
    assert.equal(originReached, false);
    await transport.close();
  });
}
