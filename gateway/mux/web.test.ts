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
