/**
 * The relay's story on both byte paths (issue 27): an HTTP/1.1 tunnel to the Pinhole gateway,
 * opened by H1Transport with and without the native byte path, and relayed with the call the proxy's
 * CONNECT, SOCKS5 and `forward -L` make (relayTunnel). Half-close both ways, a peer that resets, the
 * idle and half-close timeouts, byte counts and a tunnel used as a plain stream behave the same.
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

const transportFor = (bytePath: 'native' | 'js'): H1Transport =>
  new H1Transport({
    endpoints: [{ host: '127.0.0.1', port: gateway.port }],
    serverName: gateway.hostname,
    trust: { kind: 'pin', pin: gateway.fingerprint },
    user: DEFAULT_USER.name,
    password: DEFAULT_USER.password,
    logger: createLogger({ name: 'test', level: 'silent' }),
    poolSize: 0,
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
