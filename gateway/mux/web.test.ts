import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isProxyRequest } from './web.js';

const cases: Array<[string, string, boolean]> = [
  ['CONNECT', 'example.org:443', true],
  ['GET', 'http://example.org/', true],
  ['POST', 'http://127.0.0.1:8080/echo?x=1', true],
  ['GET', '/', false],
  ['GET', '/pinhole/ws', false],
  ['HEAD', '/index.html', false],
  ['OPTIONS', '*', false],
];
for (const [method, url, proxy] of cases) {
  test(`${method} ${url} is ${proxy ? 'a proxy request' : 'for the web site'}`, () => {
    assert.equal(isProxyRequest(method, url), proxy);
  });
}

test('an HTTP/2 request that is not a CONNECT reaches the web site with X-Forwarded-For/-Proto, and its answer comes back', async (t) => {
  const { createServer: createHttpServer } = await import('node:http');
  const { createServer: createH2Server, connect: h2Connect } = await import('node:http2');
  const { createLogger } = await import('../../shared/log.js');
  const { WebFallback } = await import('./web.js');
  const seen: Record<string, unknown>[] = [];
  const site = createHttpServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('connection', 'keep-alive');
    res.end(`site ${req.method} ${req.url}`);
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  const web = new WebFallback({ web: { host: '127.0.0.1', port: (site.address() as { port: number }).port }, logger: createLogger({ name: 't', level: 'silent' }) });
  const h2 = createH2Server();
  h2.on('request', (req, res) => web.handle(req, res));
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  const client = h2Connect(`http://127.0.0.1:${(h2.address() as { port: number }).port}`);
  t.after(() => {
    client.close();
    h2.close();
    site.close();
  });
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = client.request({ ':method': 'GET', ':path': '/page?x=1', ':authority': 'gw.example.test' });
    let status = 0;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => resolve({ status, body }));
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 200);
  assert.equal(body, 'site GET /page?x=1');
  assert.equal(seen[0]?.['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen[0]?.['x-forwarded-proto'], 'https');
  assert.equal(seen[0]?.['host'], 'gw.example.test');
});
