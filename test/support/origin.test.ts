import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { get } from 'node:https';
import { request } from 'node:http';
import { deterministicBytes, deterministicSha256, startOrigin } from './origin.js';

test('the origin serves deterministic bytes whose hash it announces, over HTTPS with its own certificate', async (t) => {
  const origin = await startOrigin();
  t.after(() => origin.stop());
  const length = 3 * 1024 * 1024 + 17;
  const { sha, header } = await new Promise<{ sha: string; header: string | undefined }>((resolve, reject) => {
    get({ host: '127.0.0.1', port: origin.httpsPort, path: `/bytes/${length}`, ca: origin.certificate.cert }, (res) => {
      const hash = createHash('sha256');
      res.on('data', (c: Buffer) => hash.update(c));
      res.on('end', () => resolve({ sha: hash.digest('hex'), header: res.headers['x-sha256'] as string | undefined }));
    }).once('error', reject);
  });
  assert.equal(sha, header);
  assert.equal(sha, deterministicSha256(length));
  assert.equal(createHash('sha256').update(deterministicBytes(length)).digest('hex'), sha);
});

test('the origin hashes uploads over plain HTTP', async (t) => {
  const origin = await startOrigin();
  t.after(() => origin.stop());
  const body = deterministicBytes(100_000);
  const answer = await new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: origin.httpPort, path: '/upload', method: 'POST' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(JSON.parse(text) as { bytes: number; sha256: string }));
    });
    req.once('error', reject);
    req.end(body);
  });
  assert.deepEqual(answer, { bytes: 100_000, sha256: createHash('sha256').update(body).digest('hex') });
});
