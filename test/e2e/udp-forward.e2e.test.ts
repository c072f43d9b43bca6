/**
 * UDP through the real products (issue 14): `pinhole forward -L udp:...` and `pinhole-gateway
 * run`, over h2 (CONNECT-UDP, RFC 9298) and over wss (one datagram per WebSocket message). `dig`
 * asks a local dnsmasq through the tunnel; OpenVPN in UDP mode (`--dev null`) completes its
 * handshake through it; a UDP destination in a private range is refused by the gateway's policy,
 * with the code in the forward's log and in the gateway's access log. Every peer is on loopback:
 * the gateway reaches dnsmasq and OpenVPN only because --restrict-to names them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { startDnsmasq, type RunningDnsmasq } from '../support/dnsmasq.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { INITIALIZED, makeOpenvpnCerts, type OpenvpnCerts, type RunningOpenvpn } from '../support/openvpn.js';
import { startOpenvpnUdpClient, startOpenvpnUdpServer } from '../support/openvpn-udp.js';
import { Peers, Program, explainFailure, listenPortOf, pinholeBin, runCommand } from '../support/processes.js';

const peers = new Peers();
let dns: RunningDnsmasq;
/** One OpenVPN server per transport: a p2p UDP server stays with its first peer. */
const vpn: Record<'h2' | 'wss', RunningOpenvpn> = {} as Record<'h2' | 'wss', RunningOpenvpn>;
let certs: OpenvpnCerts;
let gateway: RunningGateway;
/** A gateway with the default policy: no --restrict-to, so the SSRF ranges apply to UDP. */
let strict: RunningGateway;
let link: string;
let strictLink: string;

before(async () => {
  dns = peers.add(await startDnsmasq({ 'printer.lan.test': '10.213.0.7' }));
  certs = await makeOpenvpnCerts();
  peers.defer(() => rm(certs.dir, { recursive: true, force: true }));
  vpn.h2 = peers.add(await startOpenvpnUdpServer(certs));
  vpn.wss = peers.add(await startOpenvpnUdpServer(certs));
  const destinations = [dns.port, vpn.h2.port, vpn.wss.port].map((port) => `127.0.0.1:${port}`);
  gateway = peers.add(await startGateway({ restrictTo: destinations, runArgs: ['--udp-timeout', '20'] }));
  link = await gateway.provision();
  strict = peers.add(await startGateway());
  strictLink = await strict.provision();
});
after(() => peers.close());

const startUdpForward = async (spec: string, transport: 'h2' | 'wss', via = link): Promise<{ program: Program; port: number }> => {
  const program = peers.watch(new Program(pinholeBin, { name: `pinhole-forward-udp-${transport}`, args: ['forward', '-L', spec, via, '--transport', transport] }));
  peers.defer(() => program.stop('SIGTERM', 5_000));
  const record = await program.waitForLog((r) => r.msg === 'The UDP forward is listening.', 20_000, '"The UDP forward is listening."');
  assert.match(String(record['listen']), /^udp:127\.0\.0\.1:\d+$/);
  return { program, port: listenPortOf(record) };
};

const dig = (port: number, name: string, tries = 3): ReturnType<typeof runCommand> =>
  runCommand('dig', { name: 'dig', args: ['@127.0.0.1', '-p', String(port), name, 'A', '+short', '+time=2', `+tries=${tries}`], timeoutMs: 20_000 });

for (const transport of ['h2', 'wss'] as const) {
  test(`dig through pinhole forward -L udp: over ${transport} gets dnsmasq's answer, and the gateway logs the flow`, () =>
    explainFailure(peers, async () => {
      const before = dns.queries();
      const forward = await startUdpForward(`udp:0:127.0.0.1:${dns.port}`, transport);
      const answer = await dig(forward.port, 'printer.lan.test');
      assert.equal(answer.stdout.trim(), '10.213.0.7', `dig printed: ${answer.stdout}${answer.stderr}`);
      assert.ok(dns.queries() > before, 'dnsmasq saw the query');
      // The forward stops gracefully, which ends the flow; the gateway logs it as CONNECT-UDP.
      assert.equal((await forward.program.stop('SIGTERM', 10_000)).code, 0);
      const record = await gateway.program.waitForLog(
        (r) => r['method'] === 'CONNECT-UDP' && r['target'] === `127.0.0.1:${dns.port}` && r['proto'] === transport,
        10_000,
        `a CONNECT-UDP access line over ${transport}`,
      );
      assert.equal(record['status'], 200);
      assert.equal(record['user'], 'alice');
      assert.ok(Number(record['datagramsUp']) >= 1 && Number(record['datagramsDown']) >= 1, JSON.stringify(record));
    }));

  test(`OpenVPN in UDP mode through pinhole forward over ${transport}: both ends print "${INITIALIZED}"`, () =>
    explainFailure(peers, async () => {
      const server = vpn[transport];
      const forward = await startUdpForward(`udp:0:127.0.0.1:${server.port}`, transport);
      const client = peers.watch(startOpenvpnUdpClient(certs, forward.port));
      peers.defer(() => client.stop('SIGTERM', 5_000));
      await client.waitForLine((l) => l.text.includes(INITIALIZED), 60_000, `the OpenVPN client to complete over ${transport}`);
      await server.program.waitForLine((l) => l.text.includes(INITIALIZED), 60_000, `the OpenVPN server to complete over ${transport}`);
      await client.stop('SIGTERM', 5_000);
    }));

  test(`a UDP destination in a private range is refused by the gateway over ${transport}, and both logs say why`, () =>
    explainFailure(peers, async () => {
      const forward = await startUdpForward('udp:0:10.213.0.53:53', transport, strictLink);
      const answer = await dig(forward.port, 'printer.lan.test', 1);
      assert.equal(answer.stdout.includes('10.213.0.7'), false, 'no answer comes back');
      const warning = await forward.program.waitForLog((r) => r['code'] === 'PINHOLE_DEST_FORBIDDEN', 10_000, 'a PINHOLE_DEST_FORBIDDEN line in the forward log');
      assert.equal(warning['target'], '10.213.0.53:53');
      const record = await strict.program.waitForLog((r) => r['method'] === 'CONNECT-UDP' && r['code'] === 'PINHOLE_DEST_FORBIDDEN' && r['proto'] === transport, 10_000, 'the refusal in the access log');
      assert.equal(record['status'], 403);
    }));
}
