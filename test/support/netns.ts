/**
 * A network namespace a test makes (only its loopback, up; deleted at the end even on failure), and
 * a way in: a relay from a port on the host's loopback to a TCP port on the namespace's loopback,
 * through a unix socket (unix sockets belong to no network namespace). A process inside can reach
 * nothing but its own loopback, so a policy test whose code regresses still sends nothing to any
 * real network. Needs root (ip netns), as test/e2e/lan-box.e2e.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Peers, Program, runCommand, runCommandOk } from './processes.js';

/** Makes a namespace with its loopback up; `peers` deletes it. Resolves with its name. */
export const makeNetns = async (peers: Peers, prefix: string): Promise<string> => {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await runCommandOk('ip', { name: 'ip', args: ['netns', 'add', name] });
  peers.defer(() => runCommand('ip', { name: 'ip', args: ['netns', 'del', name] }));
  await runCommandOk('ip', { name: 'ip', args: ['-n', name, 'link', 'set', 'lo', 'up'] });
  return name;
};

/** The command line that runs `command args` inside namespace `ns`. */
export const insideNetns = (ns: string, command: string, args: readonly string[]): { command: string; args: string[] } => ({ command: 'ip', args: ['netns', 'exec', ns, command, ...args] });

// Runs inside the namespace: accepts on a unix socket, connects each to 127.0.0.1:PORT there.
const INNER = `
const net = require('node:net');
const [path, port] = process.argv.slice(1);
net.createServer((c) => {
  const t = net.connect(Number(port), '127.0.0.1');
  const end = () => { c.destroy(); t.destroy(); };
  c.on('error', end); t.on('error', end); c.on('close', end); t.on('close', end);
  c.pipe(t).pipe(c);
}).listen(path, () => console.log('relay ready'));
process.on('SIGTERM', () => process.exit(0));
`;

/** Relays 127.0.0.1:(the returned port) on the host to 127.0.0.1:`port` inside `ns`; `peers` stops it. */
export const relayIntoNetns = async (peers: Peers, ns: string, port: number): Promise<number> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-netns-relay-'));
  peers.defer(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'relay.sock');
  const { command, args } = insideNetns(ns, process.execPath, ['-e', INNER, path, String(port)]);
  const inner = peers.watch(new Program(command, { name: `relay-into-${ns}`, args }));
  peers.defer(() => inner.stop('SIGTERM', 5_000));
  await inner.waitForLine((l) => l.text === 'relay ready', 20_000, '"relay ready"');
  const sockets = new Set<Socket>();
  const server: Server = createServer((outer) => {
    const tunnel = connect(path);
    sockets.add(outer).add(tunnel);
    const end = (): void => {
      outer.destroy();
      tunnel.destroy();
      sockets.delete(outer);
      sockets.delete(tunnel);
    };
    for (const s of [outer, tunnel]) s.on('error', end).on('close', end);
    outer.pipe(tunnel).pipe(outer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peers.defer(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as { port: number }).port;
};
