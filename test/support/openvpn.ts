/**
 * Real OpenVPN peers for tests: a throwaway CA with a server and a client certificate (made by
 * openssl), a point-to-point TLS server in TCP mode and a client, both with `--dev null` and no
 * interface or route changes, so they need no privileges beyond a socket. Success is the line
 * "Initialization Sequence Completed" on both sides.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Program, freePort, runCommandOk, waitForPort } from './processes.js';

export interface OpenvpnCerts {
  dir: string;
}

export const makeOpenvpnCerts = async (): Promise<OpenvpnCerts> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-openvpn-'));
  const at = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await runCommandOk('openssl', { args: ['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=pinhole-test-ca', '-keyout', at('ca.key'), '-out', at('ca.crt')] });
  for (const [name, usage] of [['server', 'serverAuth'], ['client', 'clientAuth']] as const) {
    await writeFile(at(`${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=${usage}\n`);
    await runCommandOk('openssl', { args: ['req', ...ec, '-subj', `/CN=${name}`, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`)] });
    await runCommandOk('openssl', {
      args: ['x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.crt'), '-CAkey', at('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', at(`${name}.ext`), '-out', at(`${name}.crt`)],
    });
  }
  return { dir };
};

const common = (certs: OpenvpnCerts, side: 'server' | 'client'): string[] => [
  '--dev', 'null',
  '--ifconfig-noexec',
  '--route-noexec',
  '--ca', join(certs.dir, 'ca.crt'),
  '--cert', join(certs.dir, `${side}.crt`),
  '--key', join(certs.dir, `${side}.key`),
  '--verb', '3',
];

export const INITIALIZED = 'Initialization Sequence Completed';

export interface RunningOpenvpn {
  port: number;
  program: Program;
  stop: () => Promise<unknown>;
}

export const startOpenvpnServer = async (certs: OpenvpnCerts): Promise<RunningOpenvpn> => {
  const port = await freePort();
  const program = new Program('openvpn', {
    name: 'openvpn-server',
    args: ['--tls-server', '--proto', 'tcp-server', '--local', '127.0.0.1', '--lport', String(port), '--dh', 'none', ...common(certs, 'server')],
  });
  try {
    await waitForPort(port, 15_000, () => program.running);
  } catch (err) {
    await program.stop('SIGKILL');
    throw new Error(`openvpn server did not start: ${(err as Error).message}\n${program.transcript()}`, { cause: err });
  }
  return { port, program, stop: () => program.stop('SIGTERM', 5_000) };
};

export const startOpenvpnClient = (certs: OpenvpnCerts, port: number): Program =>
  new Program('openvpn', {
    name: 'openvpn-client',
    args: ['--tls-client', '--proto', 'tcp-client', '--remote', '127.0.0.1', String(port), '--nobind', '--remote-cert-tls', 'server', '--connect-retry-max', '3', ...common(certs, 'client')],
  });
