/**
 * UDP flows that cannot be opened are refused before any 200, and every refusal is a line on the
 * client (issue 28 item 3), with the real products: `pinhole-gateway run --restrict-to` allowing two
 * destinations no UDP socket can be connected to (a link-local address without a zone: EINVAL; the
 * broadcast address without SO_BROADCAST: EACCES; the kernel refuses the connect, so nothing is
 * ever sent), `pinhole forward -L udp:` over h2 and wss, and SOCKS5 UDP ASSOCIATE through `pinhole
 * connect`. The gateway answers 502 PINHOLE_CONNECT_FAILED (its access log says so), the clients log
 * the code, and no stream is reset as "malformed capsules".
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { COMMAND, encodeGreeting, encodeRequest, encodeUdpDatagram, parseReply } from '../../main/socks/codec.js';
import { startClientOf, type RunningClient } from '../support/client.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { Peers, Program, explainFailure, listenPortOf, pinholeBin } from '../support/processes.js';

const UNCONNECTABLE = ['[fe80::1]:53', '255.255.255.255:53'];
const REFUSED_LINE = 'A UDP flow through the tunnel could not be opened.';
const peers = new Peers();
let gateway: RunningGateway;
let link: string;
let client: RunningClient;
let sender: UdpSocket;

before(async () => {
  gateway = peers.add(await startGateway({ restrictTo: UNCONNECTABLE }));
  link = await gateway.provision();
  client = peers.add(await startClientOf(gateway));
  sender = createSocket('udp4');
  sender.bind(0, '127.0.0.1');
  await once(sender, 'listening');
  peers.defer(() => sender.close());
});
after(() => peers.close());

const accessLine = (target: string, proto: string): Promise<Record<string, unknown>> =>
  gateway.program.waitForLog((r) => r['method'] === 'CONNECT-UDP' && r['target'] === target && r['proto'] === proto, 15_000, `the ${target} flow over ${proto} in the access log`);

for (const transport of ['h2', 'wss'] as const) {
  test(`forward -L udp: over ${transport} to a destination no UDP socket connects to: 502 PINHOLE_CONNECT_FAILED, in both logs`, () =>
    explainFailure(peers, async () => {
      const program = peers.watch(new Program(pinholeBin, { name: `pinhole-forward-${transport}`, args: ['forward', ...UNCONNECTABLE.flatMap((t) => ['-L', `udp:0:${t}`]), link, '--transport', transport] }));
      peers.defer(() => program.stop('SIGTERM', 5_000));
      for (const target of UNCONNECTABLE) {
        const listening = await program.waitForLog((r) => r.msg === 'The UDP forward is listening.' && r['target'] === target, 20_000, `the forward to ${target} listening`);
        sender.send('query', listenPortOf(listening), '127.0.0.1');
        const refusal = await program.waitForLog((r) => r.msg === REFUSED_LINE && r['target'] === target, 15_000, `the refusal of ${target} in the forward log`);
        assert.equal(refusal['code'], 'PINHOLE_CONNECT_FAILED', JSON.stringify(refusal));
        assert.equal(refusal['status'], 502);
        const access = await accessLine(target, transport);
        assert.equal(access['status'], 502);
        assert.equal(access['code'], 'PINHOLE_CONNECT_FAILED');
      }
      assert.equal(program.records.some((r) => r.msg === 'A UDP flow through the tunnel ended with an error.'), false, 'no flow was opened and then broken');
      assert.equal(gateway.program.records.some((r) => /malformed capsules/.test(String(r.msg))), false, 'no stream reset as malformed capsules');
      assert.equal((await program.stop('SIGTERM', 10_000)).code, 0);
    }));
}

test('SOCKS5 UDP ASSOCIATE through pinhole connect: each refused flow is a line in the client log, with the gateway\'s code', () =>
  explainFailure(peers, async () => {
    const control = netConnect({ host: '127.0.0.1', port: client.port });
    control.on('error', () => undefined);
    await once(control, 'connect');
    const reply = new Promise<NonNullable<ReturnType<typeof parseReply>>['value']>((resolve) => {
      let got = Buffer.alloc(0);
      control.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        const parsed = got.length > 2 ? parseReply(got.subarray(2)) : undefined;
        if (parsed !== undefined) resolve(parsed.value);
      });
    });
    control.write(encodeGreeting([0]));
    control.write(encodeRequest(COMMAND.udpAssociate, '0.0.0.0', 0));
    const { code, bound } = await reply;
    assert.equal(code, 0, 'UDP ASSOCIATE succeeded');
    try {
      sender.send(encodeUdpDatagram('fe80::1', 53, Buffer.from('to an address no socket connects to')), bound.port, '127.0.0.1');
      sender.send(encodeUdpDatagram('127.0.0.1', 9, Buffer.from('to a destination outside --restrict-to')), bound.port, '127.0.0.1');
      const failed = await client.program.waitForLog((r) => r.msg === REFUSED_LINE && r['target'] === '[fe80::1]:53', 15_000, 'the refusal of [fe80::1]:53 in the client log');
      assert.equal(failed['code'], 'PINHOLE_CONNECT_FAILED');
      assert.equal(failed['status'], 502);
      const forbidden = await client.program.waitForLog((r) => r.msg === REFUSED_LINE && r['target'] === '127.0.0.1:9', 15_000, 'the refusal of 127.0.0.1:9 in the client log');
      assert.equal(forbidden['code'], 'PINHOLE_DEST_FORBIDDEN');
      assert.equal((await accessLine('[fe80::1]:53', 'h2'))['status'], 502);
    } finally {
      control.destroy();
    }
  }));
