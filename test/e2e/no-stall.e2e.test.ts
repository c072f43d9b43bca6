/**
 * No exchange waits for a delayed ACK (issue 24): a server that answers each request in two small
 * writes 2 ms apart answers through `pinhole connect`'s local proxy as it does directly, in a few
 * milliseconds. With Nagle's algorithm on any socket of the path, the second write waits for the
 * first one's ACK, which the receiver delays: 40 ms or more per exchange. So the median of 20
 * exchanges must stay under 20 ms: the margin to a stall is wide on a loaded machine, and a stall
 * cannot pass (test/support/two-write-server.ts).
 *
 * Paths: HTTP CONNECT and SOCKS5 over the h2, h1 and WebSocket transports, and `--transport h1`
 * against the seed's stunnel + Squid. `pinhole forward -L` is in no-stall-forward.e2e.test.ts.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startClient, type RunningClient } from '../support/client.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { explainFailure, Peers } from '../support/processes.js';
import { openTunnel } from '../support/proxy-requests.js';
import { startSeedCloud } from '../support/seed.js';
import { socksConnect } from '../support/socks-client.js';
import { assertNoStall, startTwoWriteServer, type TwoWriteServer } from '../support/two-write-server.js';

/** The client's flags per transport; h1 on each byte path (auto picks the native one where it is built). */
const TRANSPORTS: Record<string, readonly string[]> = {
  h2: ['--transport', 'h2'],
  'h1 native': ['--transport', 'h1', '--byte-path', 'native'],
  'h1 js': ['--transport', 'h1', '--byte-path', 'js'],
  wss: ['--transport', 'wss'],
};

const peers = new Peers();
let server: TwoWriteServer;
let gateway: RunningGateway;
let link: string;
const clients = new Map<string, RunningClient>();

before(async () => {
  server = peers.add(await startTwoWriteServer());
  gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${server.port}`] }));
  peers.watch(gateway.program);
  link = await gateway.provision();
});
after(() => peers.close());

const clientFor = async (transport: string): Promise<RunningClient> => {
  let client = clients.get(transport);
  if (client === undefined) {
    client = peers.add(await startClient({ link, extraArgs: [...(TRANSPORTS[transport] ?? [])], name: `pinhole-${transport.replace(' ', '-')}` }));
    peers.watch(client.program);
    clients.set(transport, client);
  }
  return client;
};

const connectTunnel = async (proxyPort: number): Promise<Socket> => {
  const tunnel = await openTunnel({ proxy: { port: proxyPort }, target: `127.0.0.1:${server.port}` });
  assert.equal(tunnel.status, 200, `CONNECT answered ${tunnel.status} ${tunnel.reason}`);
  tunnel.socket.setNoDelay(true);
  return tunnel.socket;
};

for (const transport of Object.keys(TRANSPORTS)) {
  test(`HTTP CONNECT through pinhole connect (${transport}): a two-write answer is not held for a delayed ACK`, () =>
    explainFailure(peers, async () => assertNoStall(await connectTunnel((await clientFor(transport)).port), `CONNECT ${transport}`)));

  test(`SOCKS5 through pinhole connect (${transport}): a two-write answer is not held for a delayed ACK`, () =>
    explainFailure(peers, async () => assertNoStall(await socksConnect((await clientFor(transport)).port, '127.0.0.1', server.port), `SOCKS5 ${transport}`)));
}

test("pinhole connect --transport h1 against the seed's stunnel + Squid answers without a delayed-ACK stall", () =>
  explainFailure(peers, async () => {
    const seedUser = { name: 'test', password: 'qY8kd0Cf' };
    const cloud = peers.add(await startSeedCloud({ users: [seedUser], connectPorts: [server.port], hostname: 'gw.example.test' }));
    peers.watch(cloud.squid.program);
    peers.watch(cloud.stunnel.program);
    const client = peers.add(
      await startClient({ server: `127.0.0.1:${cloud.port}`, user: seedUser.name, password: seedUser.password, pin: cloud.stunnel.cert.sha256, serverName: 'gw.example.test', transport: 'h1', name: 'pinhole-seed' }),
    );
    peers.watch(client.program);
    await assertNoStall(await connectTunnel(client.port), 'CONNECT h1 to stunnel + Squid');
  }));
