/**
 * The main story: an application on the user's machine uses the local proxy, and every request
 * reaches the local origin through the gateway, intact, whatever its size or how many run at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isAccessRecord } from '../support/gateway.js';
import { deterministicBytes, deterministicSha256 } from '../support/origin.js';
import { explainFailure } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';
import { startPinholeStack, type PinholeStack } from '../support/stack.js';

let stack: PinholeStack;

before(async () => {
  stack = await startPinholeStack();
});
after(() => stack?.stop());

const https = (path: string): string => `https://127.0.0.1:${stack.origin.httpsPort}${path}`;
const http = (path: string): string => `http://127.0.0.1:${stack.origin.httpPort}${path}`;

test('an HTTPS request goes through the local proxy by CONNECT and reaches the origin', () =>
  explainFailure(stack.peers, async () => {
    const res = await requestThroughProxy({ proxy: stack.proxy, url: https('/hello'), ca: stack.origin.certificate.cert });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello from the origin\n');
  }));

test('a plain HTTP request by absolute URI reaches the origin with its method, headers and body', () =>
  explainFailure(stack.peers, async () => {
    const res = await requestThroughProxy({
      proxy: stack.proxy,
      url: http('/echo?q=1'),
      method: 'PUT',
      headers: { 'x-story': 'absolute-uri' },
      body: 'a small body',
    });
    assert.equal(res.status, 200);
    const echo = JSON.parse(res.body.toString()) as { method: string; url: string; headers: Record<string, string>; body: string };
    assert.equal(echo.method, 'PUT');
    assert.equal(echo.url, '/echo?q=1', 'the origin sees an origin-form path, not the absolute URI');
    assert.equal(echo.headers['x-story'], 'absolute-uri');
    assert.equal(echo.body, 'a small body');
    assert.equal(echo.headers['proxy-authorization'], undefined, 'no proxy credentials reach the origin');
  }));

test('a 64 MiB HTTPS download arrives complete and unchanged', () =>
  explainFailure(stack.peers, async () => {
    const length = 64 * 1024 * 1024;
    const res = await requestThroughProxy({ proxy: stack.proxy, url: https(`/bytes/${length}`), sink: 'hash', timeoutMs: 50_000 });
    assert.equal(res.status, 200);
    assert.equal(res.bytes, length);
    assert.equal(res.sha256, deterministicSha256(length));
  }));

test('a 16 MiB HTTPS upload arrives complete and unchanged', () =>
  explainFailure(stack.peers, async () => {
    const body = deterministicBytes(16 * 1024 * 1024);
    const res = await requestThroughProxy({ proxy: stack.proxy, url: https('/upload'), method: 'POST', body, timeoutMs: 50_000 });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body.toString()), { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  }));

test('200 requests with 50 in flight, each on its own tunnel, all succeed and h2 carries them over one TLS connection', () =>
  explainFailure(stack.peers, async () => {
    const total = 200;
    const inFlight = 50;
    const accessBefore = stack.gateway.accessLog().length;
    let next = 0;
    const statuses: number[] = [];
    const worker = async (): Promise<void> => {
      while (next < total) {
        const n = next++;
        const res = await requestThroughProxy({ proxy: stack.proxy, url: https(`/bytes/${1000 + n}`), sink: 'hash', timeoutMs: 30_000 });
        assert.equal(res.sha256, deterministicSha256(1000 + n), `request ${n} came back intact`);
        statuses.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    assert.equal(statuses.length, total);
    assert.ok(statuses.every((s) => s === 200), `every status is 200: ${[...new Set(statuses)].join(',')}`);

    // The gateway writes one access line when a tunnel has closed on both sides.
    const records = await stack.gateway.program.waitForLogs(isAccessRecord, accessBefore + total, 30_000, `${total} access log lines from the gateway`).then((all) => all.slice(accessBefore)).catch((err: unknown) => {
      const seen = stack.gateway.accessLog().length - accessBefore;
      throw new Error(`${String(err)}: only ${seen} of ${total} tunnels were logged as closed by the gateway, although every application connection has closed`);
    });
    const target = `127.0.0.1:${stack.origin.httpsPort}`;
    const ours = records.filter((r) => r['target'] === target);
    assert.ok(ours.length >= total, `the access log names the target of each tunnel (${ours.length})`);
    assert.ok(ours.every((r) => r['proto'] === 'h2'), `every tunnel went over h2: ${[...new Set(ours.map((r) => String(r['proto'])))].join(',')}`);
    assert.ok(ours.every((r) => r['user'] === 'alice'));
    const connections = new Set(ours.map((r) => String(r['connId'])));
    assert.equal(connections.size, 1, `one TLS connection carried all ${ours.length} tunnels, saw connIds ${[...connections].join(',')}`);
  }));
