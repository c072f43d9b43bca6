/**
 * Issue 27 item 3: a pass-through route keeps counting and draining whichever byte path moves its
 * bytes. After the handover to the native engine the client's and the backend's sockets are closed
 * in JavaScript, so this proves the counts continue past it: /metrics' open connections, the
 * access line's bytes (the sniffed head included), and a drain that serves the connection until
 * its deadline and then ends it. Real `bin/pinhole-gateway run`, real sockets on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { BYTE_PATHS_UNDER_TEST } from '../support/byte-paths.js';
import { sampleOf } from '../support/fleet.js';
import { startGateway } from '../support/gateway.js';
import { startEchoOnLoopback } from '../support/port443-backends.js';
import { explainFailure, freePort, Peers, waitUntil } from '../support/processes.js';
import { adminText, readBytes } from '../support/tunnel-ends.js';

const DRAIN_SECONDS = 3;
const ENDED = 'A pass-through connection ended.';
const STOPPING = 'The gateway is stopping: no new connections, open tunnels drain.';

/** Writes `data` and reads the echo back, whole. */
const echoed = async (socket: Socket, data: Buffer): Promise<void> => {
  const back = readBytes(socket, data.length);
  socket.write(data);
  assert.ok((await back).equals(data), 'the backend echoed what was sent');
};

for (const bytePath of BYTE_PATHS_UNDER_TEST) {
  test(`--byte-path ${bytePath}: a pass-through connection is counted in /metrics and the access line, and a drain serves it until its deadline, then ends it`, { timeout: 120_000 }, async (t) => {
    const peers = new Peers();
    const echo = await startEchoOnLoopback();
    const echoPort = echo.port;
    t.after(async () => {
      await peers.close();
      await echo.close();
    });
    await explainFailure(peers, async () => {
      const adminPort = await freePort();
      const gateway = peers.add(
        await startGateway({
          restrictTo: [`127.0.0.1:${echoPort}`],
          runArgs: ['--ssh', `127.0.0.1:${echoPort}`, '--byte-path', bytePath, '--drain-seconds', String(DRAIN_SECONDS), '--admin', `127.0.0.1:${adminPort}`],
        }),
      );
      const said = await gateway.program.waitForLog((r) => typeof r['bytePath'] === 'string', 15_000, 'the byte path line');
      assert.equal(said['bytePath'], bytePath, 'the start-up line names the byte path');
      await waitUntil(() => gateway.program.records.some((r) => r.msg === 'The admin listener is up (/metrics, /healthz, /readyz).'), 10_000, 'the admin listener');

      const client = netConnect({ host: '127.0.0.1', port: gateway.port });
      client.on('error', () => undefined);
      await once(client, 'connect');
      const closed = once(client, 'close');
      // The ssh banner is what the multiplexer sniffs: it reaches the backend with what follows.
      const banner = Buffer.from('SSH-2.0-pinhole-test\r\n');
      await echoed(client, banner);
      const bulk = Buffer.alloc(1 << 20, 7);
      await echoed(client, bulk);
      // The bytes went through the relay, so the handover is behind us: both sockets still count.
      const open = sampleOf((await adminText(adminPort, '/metrics')).body, 'pinhole_connections_open');
      assert.equal(open, 2, 'the client connection and the backend connection are counted while the relay runs');

      gateway.program.signal('SIGTERM');
      await gateway.program.waitForLog((r) => r.msg === STOPPING, 15_000, 'the stopping line');
      // Draining: the pass-through is still served.
      const late = Buffer.from('still here during the drain\n');
      await echoed(client, late);
      assert.equal(gateway.program.records.some((r) => r.msg === ENDED), false, 'the connection is not ended before the drain deadline');
      // At the deadline the gateway ends it and exits by itself.
      await closed;
      const status = await gateway.program.exited;
      assert.deepEqual(status, { code: 0, signal: null }, 'the gateway exited by itself after its drain');
      const ended = gateway.program.records.find((r) => r.msg === ENDED);
      assert.ok(ended !== undefined, 'the pass-through logged its end');
      assert.equal(ended['bytePath'], bytePath);
      const sent = banner.length + bulk.length + late.length;
      assert.equal(ended['bytesUp'], sent, 'every byte the client sent is counted, the sniffed banner too');
      assert.equal(ended['bytesDown'], sent, 'every byte echoed back is counted');
      const warned = gateway.program.records.find((r) => typeof r['openPassThroughs'] === 'number');
      assert.equal(warned?.['openPassThroughs'], 1, 'the drain ran out with the pass-through open, and said so');
    });
  });
}
