/**
 * Tunnels an application ends with a FIN to a silent server, right after a few bytes, before or
 * after the 200 arrives (issue 28 item 8, the churn bench's growth): whichever side's half-close
 * timeout runs, every one of them ends, and the gateway and `pinhole connect` hold no more sockets
 * than before, over h2 (early start on) and h1. The FIN may reach a side before its relay starts
 * (an h2 stream that carried END_STREAM before the gateway answered has already emitted 'end'),
 * which is the case that once never started the half-close timeout. Real processes on 127.0.0.1;
 * every wait is for a condition, with a generous bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { startSilentOrigin, type SilentOrigin } from '../support/fin-origin.js';
import { startClientOf } from '../support/client.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { explainFailure, Peers, waitUntil } from '../support/processes.js';
import { connectToProxy } from '../support/proxy-requests.js';
import { closed, inLanes, socketCount, tunnelRecords, tunnelTo } from '../support/tunnel-ends.js';

const TUNNELS = 200;
const BYTES = Buffer.from('hello, silent server\n');

/** The application writes CONNECT, a few bytes and its FIN in one go: all of it is on its way before the 200. */
const finBeforeAnswer = async (proxy: { port: number }, origin: SilentOrigin, bytes: Buffer): Promise<Socket> => {
  const socket = await connectToProxy(proxy);
  socket.on('error', () => undefined);
  socket.resume();
  socket.end(Buffer.concat([Buffer.from(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`), bytes]));
  return socket;
};

/** The application waits for the 200, then writes a few bytes and its FIN. */
const finAfterAnswer = async (proxy: { port: number }, origin: SilentOrigin, bytes: Buffer): Promise<Socket> => {
  const socket = await tunnelTo(proxy, origin);
  socket.resume();
  socket.end(bytes);
  return socket;
};

/** Each application's way to end: its FIN before or after the 200, after a few bytes or none (the churn bench's). */
const ENDINGS = [finBeforeAnswer, finAfterAnswer].flatMap((end) => [BYTES, Buffer.alloc(0)].map((bytes) => (proxy: { port: number }, origin: SilentOrigin) => end(proxy, origin, bytes)));

const sides = [
  { story: 'the gateway times out', gateway: ['--half-close-timeout', '1'], client: ['--half-close-timeout', '0', '--idle-timeout', '0'] },
  // Over h1 the client's end reaches the gateway as a FIN (a TLS socket cannot be reset), which the
  // gateway's own, longer timeout ends; over h2 the client's RST_STREAM ends it at once.
  { story: "the client's timeout is the shorter", gateway: ['--half-close-timeout', '5'], client: ['--half-close-timeout', '1'] },
];

for (const side of sides) {
  test(`${TUNNELS} tunnels per transport closed with a FIN before and after the 200 all end when ${side.story}; no socket is left on either side`, { timeout: 240_000 }, async (t) => {
    const peers = new Peers();
    const origin = await startSilentOrigin();
    t.after(async () => {
      await peers.close();
      await origin.stop();
    });
    await explainFailure(peers, async () => {
      const gateway: RunningGateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.port}`], runArgs: side.gateway }));
      let records = 0;
      for (const transport of ['h2', 'h1'] as const) {
        const client = peers.add(
          await startClientOf(gateway, { name: `pinhole-${transport}`, transport, extraArgs: [...side.client] }),
        );
        const proxy = { port: client.port };
        // One tunnel first: the destination is then known to be accepted (h2 starts the next ones
        // early) and the client's session to the gateway is part of the baseline.
        const warm = await finAfterAnswer(proxy, origin, BYTES);
        await closed(warm);
        records += 1;
        await waitUntil(() => tunnelRecords(gateway) === records || undefined, 60_000, 'the first tunnel to end at the gateway');
        const before = { gateway: socketCount(gateway.program.pid), client: socketCount(client.program.pid) };
        const apps: Socket[] = [];
        await inLanes(TUNNELS, 50, async (i) => {
          apps.push(await ENDINGS[i % ENDINGS.length]!(proxy, origin));
        });
        records += TUNNELS;
        // Each application sees its tunnel end (the FIN back, or a reset) without sending anything else.
        await waitUntil(() => apps.every((s) => s.closed) || undefined, 60_000, `every ${transport} application's tunnel to close`).catch(() => undefined);
        assert.equal(apps.filter((s) => !s.closed).length, 0, `${transport}: applications whose tunnel never ended`);
        await waitUntil(() => tunnelRecords(gateway) === records || undefined, 60_000, `every ${transport} tunnel to end at the gateway`).catch(() => undefined);
        assert.equal(tunnelRecords(gateway), records, `${transport}: access records`);
        const back = (): boolean => socketCount(gateway.program.pid) <= before.gateway && socketCount(client.program.pid) <= before.client;
        await waitUntil(() => back() || undefined, 60_000, `sockets back to ${JSON.stringify(before)}`).catch(() => undefined);
        const after = { gateway: socketCount(gateway.program.pid), client: socketCount(client.program.pid) };
        assert.ok(after.gateway <= before.gateway, `${transport}: gateway sockets ${before.gateway} -> ${after.gateway}`);
        assert.ok(after.client <= before.client, `${transport}: client sockets ${before.client} -> ${after.client}`);
        await client.stop();
      }
      assert.equal(origin.accepted(), records);
    });
  });
}
