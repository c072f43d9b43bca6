import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { PinholeError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { DatagramChannelBase } from '../../shared/udp/datagram-channel.js';
import { startOrigin } from '../../test/support/origin.js';
import { TestPasswordCheck } from '../../test/support/password-check.js';
import { runCommand, waitUntil } from '../../test/support/processes.js';
import { LocalUsers } from '../lan/local-users.js';
import { COMMAND, REPLY, encodeGreeting, encodeRequest, encodeUdpDatagram, encodeUserPass, parseReply, parseUdpDatagram } from './codec.js';
import { createSocksHandler, type OpenTunnel, type SocksServerDeps, type SocksSessionRecord } from './server.js';

const logger = createLogger({ name: 'socks-test', level: 'silent' });

/** A direct-dial openTunnel that plays the gateway: it resolves `origin.test` itself and records what it was asked. */
const directDial = (asked: string[]): OpenTunnel => async (host, port) => {
  asked.push(`${host}:${port}`);
  if (host === 'forbidden.test') throw new PinholeError('PINHOLE_DEST_FORBIDDEN');
  const socket = connect(port, host === 'origin.test' ? '127.0.0.1' : host);
  await once(socket, 'connect');
  return socket;
};

async function startSocks(deps: Omit<SocksServerDeps, 'logger'>): Promise<{ port: number; server: Server; sessions: SocksSessionRecord[]; stop: () => Promise<void> }> {
  const sessions: SocksSessionRecord[] = [];
  const handler = createSocksHandler({ logger, onSession: (r) => sessions.push(r), ...deps });
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    void handler(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    server,
    sessions,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const curl = (...args: string[]) => runCommand('curl', { args: ['-sS', '--max-time', '20', ...args], timeoutMs: 30_000 });

test('curl --socks5-hostname: the name reaches openTunnel unresolved and the page comes back', async () => {
  const origin = await startOrigin();
  const asked: string[] = [];
  const socks = await startSocks({ openTunnel: directDial(asked) });
  try {
    const result = await curl('--socks5-hostname', `127.0.0.1:${socks.port}`, `http://origin.test:${origin.httpPort}/hello`);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'hello from the origin');
    assert.deepEqual(asked, [`origin.test:${origin.httpPort}`]);
    await waitUntil(() => socks.sessions.length === 1, 5_000, 'the session record');
    assert.equal(socks.sessions[0]?.command, 'connect');
    assert.equal(socks.sessions[0]?.reply, REPLY.succeeded);
    assert.ok((socks.sessions[0]?.bytesDown ?? 0) > 20);
  } finally {
    await socks.stop();
    await origin.stop();
  }
});

test('curl --socks5 (curl resolves, sends an IPv4 address) works too', async () => {
  const origin = await startOrigin();
  const asked: string[] = [];
  const socks = await startSocks({ openTunnel: directDial(asked) });
  try {
    const result = await curl('--socks5', `127.0.0.1:${socks.port}`, `http://127.0.0.1:${origin.httpPort}/bytes/100000`, '-o', '/dev/null', '-w', '%{size_download}');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '100000');
    assert.deepEqual(asked, [`127.0.0.1:${origin.httpPort}`]);
  } finally {
    await socks.stop();
    await origin.stop();
  }
});

test('with --local-users, curl with user:pass gets through; a wrong password or none is refused before any tunnel opens', async () => {
  const origin = await startOrigin();
  const asked: string[] = [];
  const users = new LocalUsers({ check: new TestPasswordCheck({ alice: 'wonder:land' }) });
  const socks = await startSocks({ openTunnel: directDial(asked), users });
  try {
    const ok = await curl('-x', `socks5h://alice:wonder%3Aland@127.0.0.1:${socks.port}`, `http://origin.test:${origin.httpPort}/hello`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), 'hello from the origin');
    await waitUntil(() => socks.sessions.length === 1, 5_000, 'the session record');
    assert.equal(socks.sessions.at(-1)?.user, 'alice');

    const wrong = await curl('-x', `socks5h://alice:nope@127.0.0.1:${socks.port}`, `http://origin.test:${origin.httpPort}/hello`);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /User was rejected by the SOCKS5 server/);
    await waitUntil(() => socks.sessions.length === 2, 5_000, 'the refusal record');
    assert.equal(socks.sessions.at(-1)?.code, 'PINHOLE_LOCAL_AUTH_REJECTED');

    const none = await curl('--socks5-hostname', `127.0.0.1:${socks.port}`, `http://origin.test:${origin.httpPort}/hello`);
    assert.notEqual(none.code, 0);
    await waitUntil(() => socks.sessions.length === 3, 5_000, 'the refusal record');
    assert.equal(socks.sessions.at(-1)?.code, 'PINHOLE_LOCAL_AUTH_MISSING');
    assert.deepEqual(asked, [`origin.test:${origin.httpPort}`], 'only the signed-in request opened a tunnel');
  } finally {
    await socks.stop();
    await origin.stop();
  }
});

/** A raw client: sends `bytes`, collects everything until the server closes or `until` says enough. */
async function raw(port: number, bytes: Uint8Array[], until: (got: Buffer) => boolean): Promise<{ got: Buffer; socket: Socket }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  for (const b of bytes) socket.write(b);
  let got = Buffer.alloc(0);
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (until(got)) resolve();
    });
    socket.on('close', () => resolve());
  });
  return { got, socket };
}

const replyAfterMethod = (got: Buffer): number | undefined => (got.length >= 2 ? parseReply(got.subarray(2))?.value.code : undefined);

test('a policy refusal reaches the SOCKS client as reply 0x02 (not allowed by ruleset), a dead port as 0x05', async () => {
  const socks = await startSocks({ openTunnel: directDial([]) });
  const dead = createServer();
  dead.listen(0, '127.0.0.1');
  await once(dead, 'listening');
  const deadPort = (dead.address() as AddressInfo).port;
  await new Promise((resolve) => dead.close(resolve));
  try {
    const forbidden = await raw(socks.port, [encodeGreeting([0]), encodeRequest(COMMAND.connect, 'forbidden.test', 443)], () => false);
    assert.equal(replyAfterMethod(forbidden.got), REPLY.notAllowed);
    const refused = await raw(socks.port, [encodeGreeting([0]), encodeRequest(COMMAND.connect, '127.0.0.1', deadPort)], () => false);
    assert.equal(replyAfterMethod(refused.got), REPLY.connectionRefused);
  } finally {
    await socks.stop();
  }
});

test('BIND gets 0x07, an unknown address type 0x08, SOCKS4 and garbage are closed without a reply; nothing is tunnelled', async () => {
  const asked: string[] = [];
  const socks = await startSocks({ openTunnel: directDial(asked) });
  try {
    const bind = await raw(socks.port, [encodeGreeting([0]), encodeRequest(COMMAND.bind, '1.2.3.4', 80)], () => false);
    assert.equal(replyAfterMethod(bind.got), REPLY.commandNotSupported);
    const udpOff = await raw(socks.port, [encodeGreeting([0]), encodeRequest(COMMAND.udpAssociate, '0.0.0.0', 0)], () => false);
    assert.equal(replyAfterMethod(udpOff.got), REPLY.commandNotSupported, 'without openUdpFlow, UDP ASSOCIATE is not offered');
    const atyp = await raw(socks.port, [encodeGreeting([0]), Uint8Array.of(5, 1, 0, 9, 1, 2)], () => false);
    assert.equal(atyp.got[3], REPLY.addressTypeNotSupported);
    const socks4 = await raw(socks.port, [Uint8Array.of(4, 1, 0, 80, 127, 0, 0, 1, 0)], () => false);
    assert.equal(socks4.got.length, 0);
    const userPassOnly = await raw(socks.port, [encodeGreeting([2])], () => false);
    assert.deepEqual([...userPassOnly.got], [5, 0xff], 'no acceptable method');
    assert.deepEqual(asked, []);
  } finally {
    await socks.stop();
  }
});

test('a client that sends the greeting, credentials, request and its first bytes in one write is served (pipelining)', async () => {
  const origin = await startOrigin();
  const users = new LocalUsers({ check: new TestPasswordCheck({ u: 'p' }) });
  const socks = await startSocks({ openTunnel: directDial([]), users });
  try {
    const request = Buffer.from('GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const all = Buffer.concat([encodeGreeting([2]), encodeUserPass({ user: 'u', password: 'p' }), encodeRequest(COMMAND.connect, 'origin.test', origin.httpPort), request]);
    const { got } = await raw(socks.port, [all], () => false);
    assert.match(got.toString('latin1'), /hello from the origin/);
  } finally {
    await socks.stop();
    await origin.stop();
  }
});

test('an IPv6 CONNECT request reaches openTunnel as an IPv6 literal', async () => {
  const asked: string[] = [];
  const socks = await startSocks({ openTunnel: async (host, port) => (asked.push(`${host}:${port}`), Promise.reject(new PinholeError('PINHOLE_CONNECT_TIMEOUT'))) });
  try {
    const { got } = await raw(socks.port, [encodeGreeting([0]), encodeRequest(COMMAND.connect, '2001:db8::7', 853)], () => false);
    assert.equal(replyAfterMethod(got), REPLY.ttlExpired);
    assert.deepEqual(asked, ['2001:db8::7:853']);
  } finally {
    await socks.stop();
  }
});

/** A flow that sends straight to a UDP socket (what the tunnel's flow does at the gateway). */
class DirectFlow extends DatagramChannelBase {
  private readonly socket = createSocket('udp4');
  constructor(port: number) {
    super();
    this.socket.connect(port, '127.0.0.1');
    this.socket.on('message', (m) => this.deliver(m));
  }
  send(payload: Uint8Array): boolean {
    this.socket.send(payload);
    return true;
  }
  protected release(): void {
    this.socket.close();
  }
}

test('UDP ASSOCIATE relays datagrams with the SOCKS UDP header both ways, and ends with the TCP connection', async () => {
  const echo = createSocket('udp4');
  echo.on('message', (m, r) => echo.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  echo.bind(0, '127.0.0.1');
  await once(echo, 'listening');
  const echoPort = echo.address().port;
  const opened: string[] = [];
  const flows: DirectFlow[] = [];
  const socks = await startSocks({
    openTunnel: directDial([]),
    openUdpFlow: async (host, port) => {
      opened.push(`${host}:${port}`);
      const flow = new DirectFlow(echoPort);
      flows.push(flow);
      return flow;
    },
  });
  const client = createSocket('udp4');
  client.bind(0, '127.0.0.1');
  await once(client, 'listening');
  try {
    const { got, socket } = await raw(socks.port, [encodeGreeting([0]), encodeRequest(COMMAND.udpAssociate, '127.0.0.1', client.address().port)], (g) => g.length >= 12);
    const reply = parseReply(got.subarray(2));
    assert.equal(reply?.value.code, REPLY.succeeded);
    const relay = reply!.value.bound;
    assert.equal(relay.host, '127.0.0.1');
    client.send(encodeUdpDatagram('dns.test', 53, Buffer.from('ping')), relay.port, relay.host);
    const [answer] = (await once(client, 'message')) as [Buffer];
    const parsed = parseUdpDatagram(answer);
    assert.deepEqual({ host: parsed.address.host, port: parsed.address.port, payload: Buffer.from(parsed.payload).toString() }, { host: 'dns.test', port: 53, payload: 'echo:ping' });
    assert.deepEqual(opened, ['dns.test:53'], 'the name went to the flow unresolved');
    socket.destroy();
    await new Promise<void>((resolve) => flows[0]!.onClose(() => resolve()));
    assert.ok(flows[0]!.closed);
  } finally {
    client.close();
    echo.close();
    await socks.stop();
  }
});

test('a client that sends the greeting and CONNECT in one write and then resets does not take the process down', async () => {
  // The bug (issue 28): the method selection's write failed after the handshake had let go of the
  // socket's 'error' and before the server had its own, and Node threw the unhandled 'error'.
  const origin = await startOrigin();
  const socks = await startSocks({ openTunnel: directDial([]) });
  const uncaught: Error[] = [];
  const onUncaught = (err: Error): void => {
    uncaught.push(err);
  };
  process.on('uncaughtException', onUncaught);
  try {
    for (let i = 0; i < 40; i++) {
      const client = connect(socks.port, '127.0.0.1');
      client.on('error', () => undefined);
      await once(client, 'connect');
      client.write(Buffer.concat([encodeGreeting([0]), encodeRequest(COMMAND.connect, '127.0.0.1', origin.httpPort)]));
      client.resetAndDestroy();
      await once(client, 'close');
    }
    await waitUntil(() => socks.sessions.length === 40, 20_000, 'every session to end');
    assert.deepEqual(uncaught, []);
  } finally {
    process.off('uncaughtException', onUncaught);
    await socks.stop();
    await origin.stop();
  }
});
