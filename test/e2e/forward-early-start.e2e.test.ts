/**
 * Early start through `pinhole forward -L` (issue 24): once the gateway accepted the forward's
 * target, a new forwarded connection's first bytes travel right behind its CONNECT instead of
 * waiting a round trip for the answer, as the local proxy's CONNECT does (main/tunnel/opener.ts
 * decides for both). A refusal of an early tunnel ends the connection without a byte and the log
 * says so; the next connection waits for the answer again. On every transport: HTTP/2, HTTP/1.1
 * (on both byte paths) and WebSocket.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { startGateway } from '../support/gateway.js';
import { explainFailure, listenPortOf, Peers, pinholeBin, Program } from '../support/processes.js';
import { startTwoWriteServer, timeExchanges } from '../support/two-write-server.js';
import { bytesUntilClose } from '../support/tunnel-ends.js';

const peers = new Peers();
after(() => peers.close());

const connectTo = async (port: number): Promise<Socket> => {
  const socket = netConnect({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  return socket;
};

/** A two-write server, a gateway that allows only it, and `pinhole forward -L` to it with `args`. */
const startForward = async (name: string, args: readonly string[]): Promise<{ server: Awaited<ReturnType<typeof startTwoWriteServer>>; forward: Program; port: number }> => {
  const server = await startTwoWriteServer();
  peers.add({ stop: () => server.stop().catch(() => undefined) });
  const gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${server.port}`] }));
  peers.watch(gateway.program);
  const link = await gateway.provision();
  const forward = new Program(pinholeBin, { name, args: ['forward', '-L', `127.0.0.1:0:127.0.0.1:${server.port}`, link, ...args, '--log-format', 'json'] });
  peers.add({ stop: () => forward.stop('SIGTERM', 10_000) });
  peers.watch(forward);
  const port = listenPortOf(await forward.waitForLog((r) => r.msg === 'The forward is listening.', 20_000, '"The forward is listening."'));
  return { server, forward, port };
};

/** The forward's flags per transport (h1 on each byte path). */
const TRANSPORTS = {
  h2: ['--transport', 'h2'],
  'h1 js': ['--transport', 'h1', '--byte-path', 'js'],
  'h1 native': ['--transport', 'h1', '--byte-path', 'native'],
  wss: ['--transport', 'wss'],
} as const;

for (const [transport, transportArgs] of Object.entries(TRANSPORTS)) {
  test(`pinhole forward -L (${transport}): a target the gateway accepted starts early and carries the exchange; a refused early start ends the connection and the log says so`, () =>
    explainFailure(peers, async () => {
      const { server, forward, port } = await startForward(`forward-${transport.replace(' ', '-')}`, transportArgs);

      const first = await connectTo(port);
      assert.equal((await timeExchanges(first, 'echo', 3)).length, 3, 'first contact: the tunnel waits for the gateway, which accepts');
      first.destroy();
      const second = await connectTo(port);
      assert.equal((await timeExchanges(second, 'twoWrites', 3)).length, 3, 'an early tunnel carries the whole exchange');
      second.destroy();

      await server.stop();
      const early = await connectTo(port);
      early.write('e');
      assert.equal(await bytesUntilClose(early), 0, 'the refused early tunnel ends without a byte');
      const earlyLine = await forward.waitForLog((r) => r['startedEarly'] === true, 15_000, 'the early refusal');
      assert.equal(earlyLine['code'], 'PINHOLE_CONNECT_FAILED');
      assert.match(String(earlyLine.msg), /^A forwarded connection could not be opened: /);

      const waited = await connectTo(port);
      assert.equal(await bytesUntilClose(waited), 0);
      const waitedLine = await forward.waitForLog((r) => r['code'] === 'PINHOLE_CONNECT_FAILED' && r['startedEarly'] === undefined, 15_000, 'the refusal of a tunnel that waited');
      assert.match(String(waitedLine.msg), /^A forwarded connection could not be opened: /);
    }));
}

test('pinhole forward --no-early-start (wss, as behind a reverse proxy that drops bytes sent before its 101): a target the gateway accepted still waits for the answer', () =>
  explainFailure(peers, async () => {
    const { server, forward, port } = await startForward('forward-no-early', [...TRANSPORTS.wss, '--no-early-start']);

    const first = await connectTo(port);
    assert.equal((await timeExchanges(first, 'echo', 3)).length, 3, 'the gateway accepts the target');
    first.destroy();
    await server.stop();
    const next = await connectTo(port);
    next.write('e');
    assert.equal(await bytesUntilClose(next), 0);
    const line = await forward.waitForLog((r) => r['code'] === 'PINHOLE_CONNECT_FAILED', 15_000, 'the refusal');
    assert.equal(line['startedEarly'], undefined, 'with --no-early-start the tunnel waited for the answer although the target was accepted before');
  }));
