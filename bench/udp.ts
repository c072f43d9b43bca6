/**
 * Issue 14's benchmark case, UDP through the tunnel, with the real programs: `pinhole forward -L
 * udp:` in front of `pinhole-gateway run`, to a UDP echo server in its own process. Ratios from
 * this one run, tunnel over direct: the round trip one datagram at a time on loopback and across a
 * 50 ms RTT link (a UDP delay relay in front of the echo server; the gateway reaches the echo
 * through it), and datagrams per second with a window of 64 outstanding. Over h2 (CONNECT-UDP).
 */
import { startGateway } from '../test/support/gateway.js';
import { Program, listenPortOf, pinholeBin, type Peers } from '../test/support/processes.js';
import { measureDatagramRate, measureRoundTrips, startUdpDelayRelay } from '../test/support/udp-measure.js';
import type { FigureRow } from './report.js';

export interface UdpBenchOptions {
  roundTrips: number;
  rateSeconds: number;
  say: (text: string) => void;
}

export interface UdpBenchResult {
  rows: FigureRow[];
  details: Record<string, unknown>;
}

const ECHO = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'The UDP echo is listening.', listen: '127.0.0.1:' + s.address().port })));
`;

export async function measureUdp(peers: Peers, options: UdpBenchOptions): Promise<UdpBenchResult> {
  const { say } = options;
  const echoProgram = peers.add(new Program(process.execPath, { name: 'udp-echo', args: ['-e', ECHO] }));
  const echoPort = listenPortOf(await echoProgram.waitForLog((r) => r.msg === 'The UDP echo is listening.', 10_000, 'the UDP echo'));
  const far = await startUdpDelayRelay({ port: echoPort }, 25);
  peers.defer(() => far.stop());
  say('udp: starting a gateway and `pinhole forward -L udp:` (h2) to the echo, near and 50 ms away');
  const gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${echoPort}`, `127.0.0.1:${far.port}`] }));
  const link = await gateway.provision();
  const forward = async (port: number): Promise<number> => {
    const program = peers.add(new Program(pinholeBin, { name: `pinhole-forward-udp-${port}`, args: ['forward', '-L', `udp:0:127.0.0.1:${port}`, link, '--transport', 'h2', '--log-format', 'json'] }));
    return listenPortOf(await program.waitForLog((r) => r.msg === 'The UDP forward is listening.', 20_000, 'the UDP forward'));
  };
  const nearPort = await forward(echoPort);
  const farPort = await forward(far.port);
  // Warm: the flow opens on its first datagram.
  await measureRoundTrips(nearPort, 20);
  await measureRoundTrips(farPort, 3);
  const n = options.roundTrips;
  say(`udp: ${n} round trips each way`);
  const direct = await measureRoundTrips(echoPort, n);
  const tunnel = await measureRoundTrips(nearPort, n);
  const directFar = await measureRoundTrips(far.port, Math.min(n, 50));
  const tunnelFar = await measureRoundTrips(farPort, Math.min(n, 50));
  say(`udp: datagrams per second for ${options.rateSeconds} s each`);
  const directRate = await measureDatagramRate(echoPort, options.rateSeconds * 1000);
  const tunnelRate = await measureDatagramRate(nearPort, options.rateSeconds * 1000);
  const rows: FigureRow[] = [
    { key: 'udp-rtt-loopback', label: 'UDP round trip, loopback (median)', unit: 'ms', better: 'lower', direct: direct.medianMs, pinhole: tunnel.medianMs, compareTo: 'direct' },
    { key: 'udp-rtt-50ms', label: 'UDP round trip, 50 ms RTT (median)', unit: 'ms', better: 'lower', direct: directFar.medianMs, pinhole: tunnelFar.medianMs, compareTo: 'direct' },
    { key: 'udp-rate', label: 'UDP datagrams per second (64 in flight)', unit: '/s', better: 'higher', direct: directRate.perSecond, pinhole: tunnelRate.perSecond, compareTo: 'direct' },
  ];
  return { rows, details: { direct, tunnel, directFar, tunnelFar, directRate, tunnelRate } };
}
