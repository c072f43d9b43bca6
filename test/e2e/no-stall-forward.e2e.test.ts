/**
 * No exchange through `pinhole forward -L` waits for a delayed ACK (issue 24): a server answering
 * in two small writes 2 ms apart answers in a few milliseconds through a TCP forward on each
 * transport (h2, h1, WebSocket) and through `-L stdio:` (an SSH ProxyCommand). A stall would be
 * 40 ms or more per exchange; the median of 20 must stay under 20 ms (test/support/two-write-server.ts).
 * The gateway's own door is here too: an SNI pass-through route to a TLS server answering the same way.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import { makeSelfSignedCertificate, type TestCertificate } from '../support/certs.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { explainFailure, listenPortOf, Peers, pinholeBin, Program, repoRoot } from '../support/processes.js';
import { assertNoStall, startTwoWriteServer, type TwoWriteServer } from '../support/two-write-server.js';

/** The forward's flags per transport; h1 on each byte path. */
const TRANSPORTS: Record<string, readonly string[]> = {
  h2: ['--transport', 'h2'],
  'h1 native': ['--transport', 'h1', '--byte-path', 'native'],
  'h1 js': ['--transport', 'h1', '--byte-path', 'js'],
  wss: ['--transport', 'wss'],
};

const peers = new Peers();
const SNI_NAME = 'two-writes.test';
let server: TwoWriteServer;
let gateway: RunningGateway;
let sniCert: TestCertificate;
let link: string;

before(async () => {
  server = peers.add(await startTwoWriteServer());
  sniCert = await makeSelfSignedCertificate({ commonName: SNI_NAME, altNames: [SNI_NAME] });
  const sniServer = peers.add(await startTwoWriteServer({ tls: { cert: sniCert.cert, key: sniCert.key } }));
  gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${server.port}`], runArgs: ['--sni', `${SNI_NAME}=127.0.0.1:${sniServer.port}`] }));
  peers.watch(gateway.program);
  link = await gateway.provision();
});
after(() => peers.close());

for (const [transport, transportArgs] of Object.entries(TRANSPORTS)) {
  test(`pinhole forward -L (${transport}): a two-write answer is not held for a delayed ACK`, () =>
    explainFailure(peers, async () => {
      const forward = new Program(pinholeBin, { name: `forward-${transport.replace(' ', '-')}`, args: ['forward', '-L', `127.0.0.1:0:127.0.0.1:${server.port}`, link, ...transportArgs, '--log-format', 'json'] });
      peers.add({ stop: () => forward.stop('SIGTERM', 10_000) });
      peers.watch(forward);
      const port = listenPortOf(await forward.waitForLog((r) => r.msg === 'The forward is listening.', 20_000, '"The forward is listening."'));
      const local = netConnect({ host: '127.0.0.1', port, noDelay: true });
      await once(local, 'connect');
      await assertNoStall(local, `forward -L ${transport}`);
    }));
}

test('pinhole forward -L stdio: (an SSH ProxyCommand) answers without a delayed-ACK stall', () =>
  explainFailure(peers, async () => {
    // Its own child, not a Program: the test is the application on the other end of stdin and stdout.
    const forward = spawn(pinholeBin, ['forward', '-L', `stdio:127.0.0.1:${server.port}`, link], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = once(forward, 'exit');
    let stderr = '';
    forward.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    peers.add({ stop: () => (forward.exitCode === null ? (forward.kill('SIGTERM'), exited) : undefined) });
    try {
      const stdio = Duplex.from({ readable: forward.stdout, writable: forward.stdin });
      // Destroying it when the story is over aborts the pair with an AbortError: the end, not a failure.
      stdio.on('error', () => undefined);
      await assertNoStall(stdio, 'forward -L stdio');
    } catch (err) {
      throw new Error(`${(err as Error).message}\nforward's stderr:\n${stderr}`, { cause: err });
    }
  }));

test("the gateway's SNI pass-through route answers without a delayed-ACK stall", () =>
  explainFailure(peers, async () => {
    const secure = tlsConnect({ host: '127.0.0.1', port: gateway.port, servername: SNI_NAME, ca: sniCert.cert });
    secure.setNoDelay(true);
    await once(secure, 'secureConnect');
    await assertNoStall(secure, 'SNI pass-through');
  }));
