import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envCredentialsFor, parseProxyUrl, proxyFromEnv } from './credentials.js';
import { gnomeCredentialsFrom, readGnomeCredentials } from './gnome-credentials.js';

test('a proxy URL gives the proxy and, percent-decoded, the user name and password it carries', () => {
  const table: Array<[string, unknown]> = [
    ['http://proxy.corp:3128', { proxy: { host: 'proxy.corp', port: 3128 } }],
    ['http://proxy.corp:3128/', { proxy: { host: 'proxy.corp', port: 3128 } }],
    ['proxy.corp:8080', { proxy: { host: 'proxy.corp', port: 8080 } }],
    ['http://proxy.corp', { proxy: { host: 'proxy.corp', port: 80 } }],
    ['http://bob:s3cret@proxy.corp:3128', { proxy: { host: 'proxy.corp', port: 3128 }, credentials: { user: 'bob', password: 's3cret' } }],
    ['bob:s3cret@proxy.corp:3128', { proxy: { host: 'proxy.corp', port: 3128 }, credentials: { user: 'bob', password: 's3cret' } }],
    ['http://CORP%5Cbob:p%40ss%3Aw%2Frd%20%25@proxy.corp:3128', { proxy: { host: 'proxy.corp', port: 3128 }, credentials: { user: 'CORP\\bob', password: 'p@ss:w/rd %' } }],
    ['http://b%C3%B6b:%E2%82%AC@proxy.corp:3128', { proxy: { host: 'proxy.corp', port: 3128 }, credentials: { user: 'böb', password: '€' } }],
    ['http://bob:100%zz@proxy.corp:3128', { proxy: { host: 'proxy.corp', port: 3128 }, credentials: { user: 'bob', password: '100%zz' } }],
    ['http://bob@proxy.corp:3128', { proxy: { host: 'proxy.corp', port: 3128 }, credentials: { user: 'bob', password: '' } }],
    ['http://:token@proxy.corp:3128', { proxy: { host: 'proxy.corp', port: 3128 }, credentials: { user: '', password: 'token' } }],
    ['http://@proxy.corp:3128', { proxy: { host: 'proxy.corp', port: 3128 } }],
    ['http://bob:pw@[2001:db8::1]:3128', { proxy: { host: '2001:db8::1', port: 3128 }, credentials: { user: 'bob', password: 'pw' } }],
    ['[::1]:3128', { proxy: { host: '::1', port: 3128 } }],
    ['socks5://proxy.corp:1080', undefined],
    ['https://proxy.corp:443', undefined],
    ['http://proxy.corp:99999', undefined],
    ['http://', undefined],
    ['', undefined],
    ['   ', undefined],
  ];
  for (const [text, expected] of table) assert.deepEqual(parseProxyUrl(text), expected, text);
});

test('the environment is read in curl order, skipping variables that are not http proxies', () => {
  assert.equal(proxyFromEnv({}), undefined);
  assert.deepEqual(proxyFromEnv({ http_proxy: 'http://a:1', https_proxy: 'http://b:2' }), { proxy: { host: 'b', port: 2 }, name: 'https_proxy' });
  assert.deepEqual(proxyFromEnv({ HTTPS_PROXY: 'http://u:p@b:2' }), { proxy: { host: 'b', port: 2 }, credentials: { user: 'u', password: 'p' }, name: 'HTTPS_PROXY' });
  assert.deepEqual(proxyFromEnv({ https_proxy: 'socks5://s:1080', ALL_PROXY: 'http://c:3' }), { proxy: { host: 'c', port: 3 }, name: 'ALL_PROXY' });
  assert.equal(proxyFromEnv({ all_proxy: 'socks5h://s:1080' }), undefined);
});

test('credentials from the environment are used only for the proxy the variable names', () => {
  const env = { https_proxy: 'http://other.corp:3128', http_proxy: 'http://bob:pw@proxy.corp:3128' };
  assert.deepEqual(envCredentialsFor({ host: 'PROXY.corp', port: 3128 }, env), { user: 'bob', password: 'pw', source: 'the environment (http_proxy)' });
  assert.equal(envCredentialsFor({ host: 'proxy.corp', port: 8080 }, env), undefined);
  assert.equal(envCredentialsFor({ host: 'other.corp', port: 3128 }, env), undefined);
  assert.deepEqual(envCredentialsFor({ host: '::1', port: 3128 }, { ALL_PROXY: 'http://u:p@[::1]:3128' }), { user: 'u', password: 'p', source: 'the environment (ALL_PROXY)' });
});

const listing = (auth: string, user: string, password: string): string =>
  [
    'org.gnome.system.proxy.http enabled false',
    `org.gnome.system.proxy.http authentication-password ${password}`,
    `org.gnome.system.proxy.http authentication-user ${user}`,
    'org.gnome.system.proxy.http host \'proxy.corp\'',
    'org.gnome.system.proxy.http port 3128',
    `org.gnome.system.proxy.http use-authentication ${auth}`,
    '',
  ].join('\n');

test('GNOME credentials count only when authentication is switched on and a user is set', () => {
  assert.deepEqual(gnomeCredentialsFrom(listing('true', "'bob'", "'it\\'s secret'")), { user: 'bob', password: "it's secret", source: 'the GNOME proxy settings' });
  assert.deepEqual(gnomeCredentialsFrom(listing('true', "'CORP\\\\bob'", "''")), { user: 'CORP\\bob', password: '', source: 'the GNOME proxy settings' });
  assert.equal(gnomeCredentialsFrom(listing('false', "'bob'", "'pw'")), undefined);
  assert.equal(gnomeCredentialsFrom(listing('true', "''", "'pw'")), undefined);
  assert.equal(gnomeCredentialsFrom(''), undefined);
});

test('GNOME credentials are read with one gsettings call over an argument array', async () => {
  const calls: Array<[string, readonly string[]]> = [];
  const read = readGnomeCredentials(async (file, args) => {
    calls.push([file, args]);
    return { stdout: listing('true', "'bob'", "'pw'"), stderr: '' };
  });
  assert.deepEqual(await read(), { user: 'bob', password: 'pw', source: 'the GNOME proxy settings' });
  assert.deepEqual(calls, [['gsettings', ['list-recursively', 'org.gnome.system.proxy.http']]]);
});
