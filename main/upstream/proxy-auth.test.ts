import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authSchemes, upstreamAuthError } from './proxy-auth.js';

test('the schemes a proxy offers are read from Proxy-Authenticate, parameters and quoted commas aside', () => {
  const table: Array<[string | undefined, string[]]> = [
    [undefined, []],
    ['', []],
    ['Basic realm="Proxy Authentication Required"', ['Basic']],
    ['Basic realm="a, b=c", Negotiate, NTLM', ['Basic', 'Negotiate', 'NTLM']],
    ['Negotiate, NTLM', ['Negotiate', 'NTLM']],
    ['Negotiate YIIB8wYGKwYBBQUCoIIB5zCCAeOgMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYKKwYBBAGCNwICHgYKKwYBBAGCNwICCqKCAa0EggGpTlRMTVNTUAABAAAAt4II4gAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==', ['Negotiate']],
    ['Digest realm="corp", qop="auth", nonce="x", Basic realm="corp"', ['Digest', 'Basic']],
    ['basic realm="x", Basic realm="y"', ['basic']],
  ];
  for (const [header, expected] of table) assert.deepEqual(authSchemes(header), expected, String(header));
});

test('a 407 says whether credentials were missing, rejected, or of a scheme Pinhole does not speak', () => {
  const proxy = { host: '127.0.0.1', port: 3128 };
  const basic = { 'proxy-authenticate': 'Basic realm="corp"' };

  const missing = upstreamAuthError({ proxy, user: undefined, headers: basic });
  assert.equal(missing.code, 'PINHOLE_UPSTREAM_AUTH_REQUIRED');
  assert.equal(missing.status, 502);
  assert.match(missing.message, /^The corporate proxy at 127\.0\.0\.1:3128 wants a user name and password \(HTTP 407\), and none was found\. Pinhole looked in https_proxy, .*GNOME proxy settings/);

  const rejected = upstreamAuthError({ proxy, user: 'bob', headers: basic });
  assert.equal(rejected.code, 'PINHOLE_UPSTREAM_AUTH_REJECTED');
  assert.match(rejected.message, /rejected the user name "bob" and its password/);
  assert.deepEqual(rejected.details, { status: 407, upstreamProxy: '127.0.0.1:3128', schemes: ['Basic'], user: 'bob' });

  assert.equal(upstreamAuthError({ proxy, user: undefined, headers: {} }).code, 'PINHOLE_UPSTREAM_AUTH_REQUIRED', 'no header: a user name and password is the likely wish');

  for (const user of [undefined, 'bob']) {
    const unsupported = upstreamAuthError({ proxy: { host: '::1', port: 8080 }, user, headers: { 'proxy-authenticate': 'Negotiate, NTLM' } });
    assert.equal(unsupported.code, 'PINHOLE_UPSTREAM_AUTH_UNSUPPORTED');
    assert.match(unsupported.message, /^The corporate proxy at \[::1\]:8080 asks for Negotiate or NTLM sign-in \(HTTP 407\), and Pinhole only signs in to a corporate proxy with Basic/);
  }
});
