/** The captive portal probe against local HTTP servers: a redirect names the portal's page, 511 too; anything else is no portal, and the probe carries no credential. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultPortalProbe, findCaptivePortal } from './captive-portal.js';

const serve = async (handler: RequestListener): Promise<{ url: string; server: Server }> => {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
};

test('a redirect is a portal: its page, made absolute; the probe carries no credential', async () => {
  const seen: IncomingHttpHeaders[] = [];
  const { url, server } = await serve((req, res) => {
    seen.push(req.headers);
    res.writeHead(302, { location: '/login?next=1' });
    res.end();
  });
  try {
    assert.equal(await findCaptivePortal(url), `${url}login?next=1`);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.authorization, undefined);
    assert.equal(seen[0]?.['proxy-authorization'], undefined);
  } finally {
    server.close();
  }
});

test('511 Network Authentication Required is a portal at the probe address', async () => {
  const { url, server } = await serve((_req, res) => {
    res.writeHead(511);
    res.end();
  });
  try {
    assert.equal(await findCaptivePortal(url), url);
  } finally {
    server.close();
  }
});

test('a plain answer, a refused port, an https probe or a bad URL: no portal', async () => {
  const { url, server } = await serve((_req, res) => res.end('a web site'));
  assert.equal(await findCaptivePortal(url), undefined);
  await new Promise((resolve) => server.close(resolve));
  assert.equal(await findCaptivePortal(url), undefined, 'refused');
  assert.equal(await findCaptivePortal('https://127.0.0.1:1/'), undefined);
  assert.equal(await findCaptivePortal('not a url'), undefined);
});

test('the default probe is the gateway host on port 80, IPv6 bracketed', () => {
  assert.equal(defaultPortalProbe('gw.example.com'), 'http://gw.example.com/');
  assert.equal(defaultPortalProbe('fd20:220::1'), 'http://[fd20:220::1]/');
});
