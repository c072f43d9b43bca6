/**
 * SOCKS5 on the local proxy's port with real clients (issue 14): `curl --socks5-hostname` (the
 * name reaches the gateway unresolved: its access log shows the name), `curl --socks5` with an IP,
 * `ssh` through `nc -X 5` to a real sshd, the HTTP proxy still answering on the same port, and a
 * destination outside the gateway's --restrict-to refused with a SOCKS reply (not a hang), and
 * UDP ASSOCIATE carrying a datagram to a UDP echo through the tunnel (CONNECT-UDP on h2).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { startClientOf, type RunningClient } from '../support/client.js';
import { isAccessRecord, startGateway, type RunningGateway } from '../support/gateway.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { Peers, explainFailure, runCommand } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';
import { startSshd, type RunningSshd } from '../support/sshd.js';
import { startUdpEcho, type UdpEcho } from '../support/udp-echo.js';
import { COMMAND, encodeGreeting, encodeRequest, encodeUdpDatagram, parseReply, parseUdpDatagram } from '../../main/socks/codec.js';

const peers = new Peers();
let origin: Origin;
let sshd: RunningSshd;
let gateway: RunningGateway;
let client: RunningClient;
let echo: UdpEcho;

before(async () => {
  origin = peers.add(await startOrigin());
  sshd = peers.add(await startSshd());
  echo = await startUdpEcho('echo:');
  peers.defer(() => echo.close());
  const allowed = [`127.0.0.1:${echo.port}`, `localhost:${origin.httpPort}`, `127.0.0.1:${origin.httpPort}`, `127.0.0.1:${sshd.port}`];
  gateway = peers.add(await startGateway({ restrictTo: allowed }));
  client = peers.add(await startClientOf(gateway));
});
after(() => peers.close());

const curl = (args: string[]): ReturnType<typeof runCommand> => runCommand('curl', { name: 'curl', args: ['-sS', '--max-time', '20', ...args], timeoutMs: 30_000 });

test('curl --socks5-hostname through pinhole connect: the name travels to the gateway unresolved and the origin answers', () =>
  explainFailure(peers, async () => {
    const result = await curl(['--socks5-hostname', `127.0.0.1:${client.port}`, `http://localhost:${origin.httpPort}/hello`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'hello from the origin');
    await gateway.program.waitForLog((r) => isAccessRecord(r) && r['target'] === `localhost:${origin.httpPort}`, 15_000, 'the NAME localhost in the gateway access log');
  }));

test('curl --socks5 with an IP address goes through the tunnel to that address', () =>
  explainFailure(peers, async () => {
    const result = await curl(['--socks5', `127.0.0.1:${client.port}`, `http://127.0.0.1:${origin.httpPort}/hello`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'hello from the origin');
    await gateway.program.waitForLog((r) => isAccessRecord(r) && r['target'] === `127.0.0.1:${origin.httpPort}`, 15_000, 'the IP target in the gateway access log');
  }));

test('ssh with ProxyCommand nc -X 5 reaches a real sshd through the SOCKS5 port', () =>
  explainFailure(peers, async () => {
    const result = await sshd.ssh(['-p', String(sshd.port), '-o', `ProxyCommand=nc -X 5 -x 127.0.0.1:${client.port} %h %p`, 'root@127.0.0.1', 'echo socks-through-pinhole']);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.equal(result.stdout.trim(), 'socks-through-pinhole');
    await gateway.program.waitForLog((r) => isAccessRecord(r) && r['target'] === `127.0.0.1:${sshd.port}`, 15_000, 'the sshd target in the gateway access log');
  }));

test('the same port still speaks HTTP: an absolute-URI request is answered', () =>
  explainFailure(peers, async () => {
    const res = await requestThroughProxy({ proxy: { port: client.port }, url: `http://127.0.0.1:${origin.httpPort}/hello` });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello from the origin\n');
  }));

test('a SOCKS5 CONNECT outside --restrict-to gets a refusal reply at once, and the client log gives the code', () =>
  explainFailure(peers, async () => {
    const result = await curl(['--socks5-hostname', `127.0.0.1:${client.port}`, 'http://localhost:9/']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /SOCKS|proxy/i);
    await client.program.waitForLog((r) => r['code'] === 'PINHOLE_DEST_FORBIDDEN' && r['target'] === 'localhost:9', 10_000, 'PINHOLE_DEST_FORBIDDEN for localhost:9 in the client log');
  }));

/** Reads from `socket` until `parse` finds a whole message past `skip` bytes. */
const readUntil = <T>(socket: Socket, skip: number, parse: (bytes: Uint8Array) => T | undefined): Promise<T> =>
  new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      const value = got.length > skip ? parse(got.subarray(skip)) : undefined;
      if (value !== undefined) {
        socket.off('data', onData);
        resolve(value);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`the SOCKS5 control connection closed after ${got.length} bytes`)));
  });

test('SOCKS5 UDP ASSOCIATE carries a datagram to a UDP echo through the tunnel and back', () =>
  explainFailure(peers, async () => {
    const control = netConnect({ host: '127.0.0.1', port: client.port });
    await once(control, 'connect');
    const reply = readUntil(control, 2, (bytes) => parseReply(bytes));
    control.write(encodeGreeting([0]));
    control.write(encodeRequest(COMMAND.udpAssociate, '0.0.0.0', 0));
    const { value } = await reply;
    assert.equal(value.code, 0, 'UDP ASSOCIATE succeeded');
    const udp = createSocket('udp4');
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    try {
      const answer = once(udp, 'message');
      udp.send(encodeUdpDatagram('127.0.0.1', echo.port, Buffer.from('ping over socks udp')), value.bound.port, '127.0.0.1');
      const [message] = (await answer) as [Buffer];
      const datagram = parseUdpDatagram(message);
      assert.equal(Buffer.from(datagram.payload).toString(), 'echo:ping over socks udp');
      assert.deepEqual(echo.seen, ['ping over socks udp'], 'the echo saw exactly the datagram');
    } finally {
      udp.close();
      control.destroy();
    }
  }));
