/**
 * A firewall's TLS inspection as a client sees it: a certificate authority of its own ("Corp TLS
 * Inspection CA") and a certificate it issues for the gateway's name, served by the real
 * `openssl s_server` on an address inside a network namespace. Made with openssl, as a firewall
 * vendor's appliance would present it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { insideNetns } from './netns.js';
import { Program, type Peers } from './processes.js';

const run = promisify(execFile);

export const INSPECTION_CA_NAME = 'Corp TLS Inspection CA';

/** Starts `openssl s_server` on `address:port` (443; inside `netns` when given) presenting a CA-issued certificate for `serverName`. */
export const startInspectingTls = async (peers: Peers, { netns, address, port = 443, serverName }: { netns?: string; address: string; port?: number; serverName: string }): Promise<Program> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-inspect-'));
  peers.defer(() => rm(dir, { recursive: true, force: true }));
  const file = (name: string): string => join(dir, name);
  await run('openssl', ['req', '-x509', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-days', '2', '-subj', `/CN=${INSPECTION_CA_NAME}/O=Corp Firewall`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', file('ca.key'), '-out', file('ca.crt')]);
  await run('openssl', ['req', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-subj', `/CN=${serverName}`, '-keyout', file('leaf.key'), '-out', file('leaf.csr')]);
  await writeFile(file('leaf.ext'), `subjectAltName=DNS:${serverName}\n`);
  await run('openssl', ['x509', '-req', '-in', file('leaf.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('leaf.ext'), '-out', file('leaf.crt')]);
  const serverArgs = ['s_server', '-accept', `${address}:${port}`, '-cert', file('leaf.crt'), '-key', file('leaf.key'), '-cert_chain', file('ca.crt'), '-www'];
  const { command, args } = netns === undefined ? { command: 'openssl', args: serverArgs } : insideNetns(netns, 'openssl', serverArgs);
  const program = peers.watch(new Program(command, { name: 'inspecting-tls', args }));
  peers.defer(() => program.stop('SIGTERM', 5_000));
  await program.waitForLine((l) => /ACCEPT/.test(l.text), 15_000, 'ACCEPT');
  return program;
};
