/**
 * Issue 27 item 3: the gateway's HTTP/1.1 CONNECT tunnels on both byte paths. With the native path
 * the addon runs the TLS server and relays the answered tunnel; the request, its authentication and
 * the answer stay in JavaScript. Through the seed's stunnel client (TLS 1.2, no ALPN) and through
 * `pinhole connect --transport h1` (ALPN http/1.1), real `bin/pinhole-gateway run`: the bytes arrive
 * whole both ways, the access line and /metrics count them, a wrong password is refused as before,
 * and a drain serves an open tunnel until its deadline, then ends it with its line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { BYTE_PATHS_UNDER_TEST } from '../support/byte-paths.js';
import { startClient } from '../support/client.js';
import { sampleOf } from '../support/fleet.js';
import { DEFAULT_USER, startGateway } from '../support/gateway.js';
import { startEchoOnLoopback } from '../support/port443-backends.js';
import { explainFailure, freePort, Peers, waitUntil } from '../support/processes.js';
import { startStunnelClient } from '../support/seed.js';
import { adminText, echoedWhole } from '../support/tunnel-ends.js';

const DRAIN_SECONDS = 3;
const CLOSED = 'A tunnel closed.';
const RAN_OUT = 'The drain time ran out; closing the open tunnels and pass-through connections.';
const STOPPING = 'The gateway is stopping: no new connections, open tunnels drain.';

/** A CONNECT through a plain proxy port (the stunnel client's, or pinhole's local proxy): the answer's head, and the socket. */
const connectThrough = async (port: number, target: number, authorization?: string): Promise<{ socket: Socket; head: string }> => {
  const socket = netConnect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(`CONNECT 127.0.0.1:${target} HTTP/1.1\r\nHost: 127.0.0.1:${target}\r\n${authorization === undefined ? '' : `Proxy-Authorization: ${authorization}\r\n`}\r\n`);
  const head = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const rest = Buffer.from(text.slice(end + 4), 'latin1');
      if (rest.length > 0) socket.unshift(rest);
      resolve(text.slice(0, end + 4));
    };
    socket.on('data', onData).once('close', () => reject(new Error(`closed before the answer: ${text}`)));
  });
  return { socket, head };
};

const basic = `Basic ${Buffer.from(`${DEFAULT_USER.name}:${DEFAULT_USER.password}`).toString('base64')}`;

/** Bytes both ways through an echo: `size` up, the same back. */
const echoed = (socket: Socket, size: number): Promise<void> => echoedWhole(socket, randomBytes(size));

for (const bytePath of BYTE_PATHS_UNDER_TEST) {
  test(`--byte-path ${bytePath}: HTTP/1.1 tunnels through the seed's stunnel client and pinhole connect carry bytes both ways, are counted, refused as before, and drained`, { timeout: 150_000 }, async (t) => {
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
        await startGateway({ restrictTo: [`127.0.0.1:${echoPort}`], runArgs: ['--byte-path', bytePath, '--drain-seconds', String(DRAIN_SECONDS), '--admin', `127.0.0.1:${adminPort}`] }),
      );
      const said = await gateway.program.waitForLog((r) => typeof r['bytePath'] === 'string', 15_000, 'the byte path line');
      assert.equal(said['bytePath'], bytePath, 'the start-up line names the byte path');
      await waitUntil(() => gateway.program.records.some((r) => r.msg === 'The admin listener is up (/metrics, /healthz, /readyz).'), 10_000, 'the admin listener');
      const closedLines = (): Array<Record<string, unknown>> => gateway.program.records.filter((r) => r.msg === CLOSED);

      // The seed's customer side: stunnel's client (TLS 1.2, no ALPN) in front of the gateway.
      const stunnel = peers.add(await startStunnelClient({ connect: gateway.port }));
      const refused = await connectThrough(stunnel.port, echoPort, 'Basic d3Jvbmc6d3Jvbmc=');
      assert.match(refused.head, /^HTTP\/1\.1 407 /, 'a wrong password is refused as on the JavaScript path');
      refused.socket.destroy();
      const viaStunnel = await connectThrough(stunnel.port, echoPort, basic);
      assert.match(viaStunnel.head, /^HTTP\/1\.1 200 /);
      await echoed(viaStunnel.socket, 4 * 1024 * 1024);
      viaStunnel.socket.end();
      const first = await waitUntil(() => closedLines().find((r) => r['status'] === 200), 20_000, 'the stunnel tunnel closed');
      assert.equal(first['bytesUp'], 4 * 1024 * 1024, 'the access line counts the bytes up');
      assert.equal(first['bytesDown'], 4 * 1024 * 1024, 'and down');

      // Pinhole's own client on the HTTP/1.1 transport (ALPN http/1.1).
      const client = peers.add(
        await startClient({ server: `127.0.0.1:${gateway.port}`, user: DEFAULT_USER.name, password: DEFAULT_USER.password, pin: gateway.fingerprint, serverName: gateway.hostname, transport: 'h1' }),
      );
      const viaPinhole = await connectThrough(client.port, echoPort);
      assert.match(viaPinhole.head, /^HTTP\/1\.1 200 /);
      await echoed(viaPinhole.socket, 2 * 1024 * 1024);
      const metrics = await adminText(adminPort, '/metrics');
      assert.equal(metrics.status, 200);
      assert.ok(sampleOf(metrics.body, 'pinhole_tunnel_bytes_total', 'direction="up"') >= 4 * 1024 * 1024, '/metrics counts the closed tunnel');

      // A drain serves the open tunnel until its deadline (it is counted open), then ends it.
      const stopping = gateway.stop();
      await gateway.program.waitForLog((r) => r.msg === STOPPING, 10_000, 'the drain');
      await echoed(viaPinhole.socket, 64 * 1024);
      const tunnelEnded = once(viaPinhole.socket, 'close');
      await stopping;
      const ranOut = gateway.program.records.find((r) => r.msg === RAN_OUT);
      assert.equal(ranOut?.['openTunnels'], 1, 'the drain waited for the open tunnel');
      await tunnelEnded;
      viaPinhole.socket.destroy();
    });
  });
}
