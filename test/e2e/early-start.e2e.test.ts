/**
 * Early tunnel start: a destination the gateway accepted recently gets its 200 from the local proxy
 * at once, and the application's first bytes travel right behind the CONNECT (one round trip
 * saved per new connection). A destination seen for the first time, or refused last time, waits
 * for the gateway's answer, so refusals reach the application as clear statuses. On every
 * transport: HTTP/2, HTTP/1.1 (on both byte paths: JavaScript, and native with its warm pool of
 * native TLS sessions) and WebSocket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explainFailure } from '../support/processes.js';
import { openTunnel, requestThroughProxy } from '../support/proxy-requests.js';
import { startClient } from '../support/client.js';
import { startGateway } from '../support/gateway.js';
import { startOrigin } from '../support/origin.js';
import { startPinholeStack, type PinholeStack } from '../support/stack.js';
import { bytesUntilClose } from '../support/tunnel-ends.js';

/** The client's flags per transport (h1 on each byte path). */
const TRANSPORTS = {
  h2: ['--transport', 'h2'],
  'h1 js': ['--transport', 'h1', '--byte-path', 'js'],
  'h1 native': ['--transport', 'h1', '--byte-path', 'native'],
  wss: ['--transport', 'wss'],
} as const;

for (const [transport, clientArgs] of Object.entries(TRANSPORTS)) {
  describe(`early start on ${transport}`, () => {
    let stack: PinholeStack;

    before(async () => {
      stack = await startPinholeStack({ clientArgs: [...clientArgs] });
    });
    after(() => stack?.stop());

    test(`${transport}: a destination accepted before starts early; when it fails later the connection ends and the log says why, and the next attempt gets the clear 502`, () =>
      explainFailure(stack.peers, async () => {
        const origin = `127.0.0.1:${stack.origin.httpsPort}`;
        const url = `https://${origin}/hello`;
        const first = await requestThroughProxy({ proxy: stack.proxy, url, ca: stack.origin.certificate.cert });
        assert.equal(first.status, 200, 'first contact: the tunnel waits for the gateway, which accepts');
        const again = await requestThroughProxy({ proxy: stack.proxy, url, ca: stack.origin.certificate.cert });
        assert.equal(again.status, 200, 'an early tunnel carries the whole exchange');
        assert.equal(again.body.toString(), 'hello from the origin\n');

        await stack.origin.stop();
        const early = await openTunnel({ proxy: stack.proxy, target: origin });
        assert.equal(early.status, 200, 'the local proxy answered before the gateway: this is what saves the round trip');
        early.socket.write('an application ClientHello');
        assert.equal(await bytesUntilClose(early.socket), 0, 'the refused early tunnel ends without a byte');
        const logged = await stack.client.program.waitForLog((r) => r['route'] === 'tunnel, started early' && r['code'] === 'PINHOLE_CONNECT_FAILED', 15_000, 'the early refusal');
        assert.match(String(logged.msg), /^A request could not be carried: /);

        const waited = await openTunnel({ proxy: stack.proxy, target: origin });
        assert.equal(waited.status, 502, 'a destination that failed waits for the answer again');
        assert.equal(waited.headers['pinhole-error'], 'PINHOLE_CONNECT_FAILED');
      }));

    test(`${transport}: a destination never seen before is never started early: a policy refusal arrives as a 403 with its code`, () =>
      explainFailure(stack.peers, async () => {
        const refused = await openTunnel({ proxy: stack.proxy, target: '127.0.0.1:1' });
        assert.equal(refused.status, 403);
        assert.match(refused.headers['pinhole-error'] ?? '', /^PINHOLE_/);
      }));

    test(`${transport}: with --no-early-start even a destination accepted before waits for the answer, so its failure is a 502`, () =>
      explainFailure(stack.peers, async () => {
        const origin = stack.peers.add(await startOrigin());
        const gateway = stack.peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.httpsPort}`] }));
        const client = stack.peers.add(await startClient({ link: await gateway.provision(), extraArgs: [...clientArgs, '--no-early-start'], name: `pinhole-waits-${transport.replace(' ', '-')}` }));
        const target = `127.0.0.1:${origin.httpsPort}`;
        const first = await requestThroughProxy({ proxy: { port: client.port }, url: `https://${target}/hello`, ca: origin.certificate.cert });
        assert.equal(first.status, 200);
        await origin.stop();
        const waited = await openTunnel({ proxy: { port: client.port }, target });
        assert.equal(waited.status, 502);
        assert.equal(waited.headers['pinhole-error'], 'PINHOLE_CONNECT_FAILED');
      }));
  });
}
