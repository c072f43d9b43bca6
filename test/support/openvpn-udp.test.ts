import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { LocalUdpForward } from '../../main/udp/local-udp.js';
import { INITIALIZED, makeOpenvpnCerts } from './openvpn.js';
import { startOpenvpnUdpClient, startOpenvpnUdpServer } from './openvpn-udp.js';
import { startUdpGateway } from './udp-pair.js';

for (const carrier of ['h2', 'ws'] as const) {
  test(`OpenVPN in UDP mode through the UDP tunnel (${carrier}): both ends print "${INITIALIZED}"`, async () => {
    const certs = await makeOpenvpnCerts();
    const server = await startOpenvpnUdpServer(certs);
    const gateway = await startUdpGateway();
    const openUdpFlow = carrier === 'h2' ? gateway.openH2(await gateway.h2Session()) : gateway.openWs();
    const forward = await LocalUdpForward.listen({ bindHost: '127.0.0.1', bindPort: 0, target: { host: '127.0.0.1', port: server.port }, openUdpFlow });
    const client = startOpenvpnUdpClient(certs, forward.address().port);
    try {
      await client.waitForLine((l) => l.text.includes(INITIALIZED), 60_000, 'the client to complete');
      await server.program.waitForLine((l) => l.text.includes(INITIALIZED), 60_000, 'the server to complete');
      assert.equal(forward.counters.flowsOpened, 1, 'one client, one flow');
      assert.ok(forward.counters.datagramsUp > 3 && forward.counters.datagramsDown > 3, JSON.stringify(forward.counters));
      assert.equal(gateway.flows.length, 1);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- client\n${client.transcript()}\n--- server\n${server.program.transcript()}`, { cause: err });
    } finally {
      await client.stop('SIGTERM', 5_000);
      await server.stop();
      await forward.close();
      await gateway.stop();
      await rm(certs.dir, { recursive: true, force: true });
    }
  });
}
