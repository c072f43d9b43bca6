/**
 * Bulk lane: a destination that moved bulk data recently gets its next tunnels on a dedicated TLS
 * connection to the gateway (HTTP/1.1 CONNECT, the application's first bytes pipelined behind
 * it) instead of an HTTP/2 stream; everything else stays on the one warm HTTP/2 session. The
 * gateway's access log says which way each tunnel came.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { deterministicSha256 } from '../support/origin.js';
import { explainFailure, waitUntil, type LogRecord } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';
import { startClient } from '../support/client.js';
import { startPinholeStack, type PinholeStack } from '../support/stack.js';

let stack: PinholeStack;

before(async () => {
  stack = await startPinholeStack();
});
after(() => stack?.stop());

const tunnelsTo = (port: number): LogRecord[] =>
  stack.gateway.program.records.filter((r) => r['method'] === 'CONNECT' && r['target'] === `127.0.0.1:${port}` && r['status'] === 200);

test('after a big download, the next tunnels to that destination ride their own TLS connection, intact; other destinations stay on HTTP/2', () =>
  explainFailure(stack.peers, async () => {
    const https = stack.origin.httpsPort;
    const length = 24 * 1024 * 1024;
    const url = `https://127.0.0.1:${https}/bytes/${length}`;
    for (let i = 0; i < 2; i += 1) {
      const res = await requestThroughProxy({ proxy: stack.proxy, url, sink: 'hash', timeoutMs: 50_000 });
      assert.equal(res.status, 200);
      assert.equal(res.sha256, deterministicSha256(length), `download ${i + 1} arrives unchanged`);
      // A bulk tunnel never waits for a lane connection: let the first one come up.
      if (i === 0) await stack.client.program.waitForLog((r) => r['target'] === `127.0.0.1:${https}` && /moved bulk data/.test(String(r.msg)), 15_000, 'the bulk lane line');
    }
    const small = await requestThroughProxy({ proxy: stack.proxy, url: `https://127.0.0.1:${https}/hello`, ca: stack.origin.certificate.cert });
    assert.equal(small.body.toString(), 'hello from the origin\n', 'a small exchange on the lane (bytes pipelined behind the CONNECT) is intact too');
    await waitUntil(() => tunnelsTo(https).length >= 3, 10_000, 'three tunnels in the access log');
    assert.deepEqual(tunnelsTo(https).map((r) => r['proto']), ['h2', 'http/1.1', 'http/1.1'], 'first on HTTP/2, then on the lane');

    const other = await requestThroughProxy({ proxy: stack.proxy, url: `http://127.0.0.1:${stack.origin.httpPort}/hello` });
    assert.equal(other.status, 200);
    await waitUntil(() => tunnelsTo(stack.origin.httpPort).length >= 1, 10_000, 'the plain-HTTP tunnel in the access log');
    assert.equal(tunnelsTo(stack.origin.httpPort)[0]?.['proto'], 'h2');
  }));

test('with --no-bulk-lane every tunnel stays on the HTTP/2 connection, big downloads included', () =>
  explainFailure(stack.peers, async () => {
    const client = stack.peers.add(await startClient({ link: stack.link, extraArgs: ['--no-bulk-lane'], name: 'pinhole-streams-only' }));
    const length = 12 * 1024 * 1024;
    const url = `https://127.0.0.1:${stack.origin.httpsPort}/bytes/${length + 1}`;
    const before = stack.gateway.program.records.filter((r) => r['method'] === 'CONNECT').length;
    for (let i = 0; i < 3; i += 1) {
      const res = await requestThroughProxy({ proxy: { port: client.port }, url, sink: 'hash', timeoutMs: 50_000 });
      assert.equal(res.sha256, deterministicSha256(length + 1));
    }
    const mine = await waitUntil(
      () => {
        const fresh = stack.gateway.program.records.filter((r) => r['method'] === 'CONNECT').slice(before);
        return fresh.length >= 3 ? fresh : undefined;
      },
      10_000,
      'three access log lines',
    );
    assert.deepEqual(mine.map((r) => r['proto']), ['h2', 'h2', 'h2']);
  }));
