/**
 * OpenVPN in UDP mode for UDP tunnel tests (the multiplexer seed's `wstunnel --udp -L
 * 12345:127.0.0.1:1194`): the same throwaway certificates and `--dev null` peers as
 * openvpn.ts, with `--proto udp`. No privileges, no interface or route changes.
 */
import { join } from 'node:path';
import { Program, freePort } from './processes.js';
import type { OpenvpnCerts, RunningOpenvpn } from './openvpn.js';

const peer = (certs: OpenvpnCerts, side: 'server' | 'client'): string[] => [
  '--dev', 'null',
  '--ifconfig-noexec',
  '--route-noexec',
  '--proto', 'udp',
  '--ca', join(certs.dir, 'ca.crt'),
  '--cert', join(certs.dir, `${side}.crt`),
  '--key', join(certs.dir, `${side}.key`),
  '--verb', '3',
];

/** A UDP OpenVPN server on 127.0.0.1 and a free port; resolves once its socket is bound. */
export const startOpenvpnUdpServer = async (certs: OpenvpnCerts): Promise<RunningOpenvpn> => {
  const port = await freePort();
  const program = new Program('openvpn', {
    name: 'openvpn-udp-server',
    args: ['--tls-server', '--local', '127.0.0.1', '--lport', String(port), '--dh', 'none', ...peer(certs, 'server')],
  });
  try {
    await program.waitForLine((line) => /link local \(bound\)/.test(line.text), 15_000, 'the UDP socket bound');
  } catch (err) {
    await program.stop('SIGKILL');
    throw new Error(`openvpn UDP server did not start: ${(err as Error).message}\n${program.transcript()}`, { cause: err });
  }
  return { port, program, stop: () => program.stop('SIGTERM', 5_000) };
};

/** A UDP OpenVPN client to 127.0.0.1:port (the local end of a UDP forward). */
export const startOpenvpnUdpClient = (certs: OpenvpnCerts, port: number): Program =>
  new Program('openvpn', {
    name: 'openvpn-udp-client',
    args: ['--tls-client', '--remote', '127.0.0.1', String(port), '--nobind', '--remote-cert-tls', 'server', ...peer(certs, 'client')],
  });
