import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../shared/log.js';
import { stateFilePath, writeState } from '../sysproxy/state.js';
import type { ProxyFields, SystemProxyAdapter } from '../sysproxy/types.js';
import { fetchPac, resolveOsUpstream } from './auto.js';
import { osProxyFrom, osProxyFromEnv, parseGvString, windowsProxyServer } from './os-proxy.js';
import { evaluatePac, firstHttpProxy } from './pac-eval.js';

const logger = createLogger({ name: 'test', level: 'error', destination: { write: () => undefined } });

test('the proxy each platform was told to use is read back from its saved fields', () => {
  const gnome = (mode: string, extra: ProxyFields = {}): ProxyFields => ({ 'org.gnome.system.proxy mode': mode, ...extra });
  const table: Array<[string, ProxyFields, unknown]> = [
    ['gnome', gnome("'none'"), { kind: 'none' }],
    ['gnome', gnome("'auto'", { 'org.gnome.system.proxy autoconfig-url': "'http://wpad.corp/proxy.pac'" }), { kind: 'pac', url: 'http://wpad.corp/proxy.pac' }],
    ['gnome', gnome("'manual'", { 'org.gnome.system.proxy.https host': "'proxy.corp'", 'org.gnome.system.proxy.https port': '3128' }), { kind: 'manual', proxy: { host: 'proxy.corp', port: 3128 } }],
    ['gnome', gnome("'manual'", { 'org.gnome.system.proxy.https host': "''", 'org.gnome.system.proxy.https port': '0', 'org.gnome.system.proxy.http host': "'web.corp'", 'org.gnome.system.proxy.http port': '8080' }), { kind: 'manual', proxy: { host: 'web.corp', port: 8080 } }],
    ['kde5', { ProxyType: '1', httpsProxy: 'http://proxy.corp 3128' }, { kind: 'manual', proxy: { host: 'proxy.corp', port: 3128 } }],
    ['kde6', { ProxyType: '2', 'Proxy Config Script': 'http://wpad/p.pac' }, { kind: 'pac', url: 'http://wpad/p.pac' }],
    ['kde5', { ProxyType: '0', httpsProxy: 'http://proxy.corp 3128' }, { kind: 'none' }],
    ['windows', { ProxyEnable: 'REG_DWORD 0x1', ProxyServer: 'REG_SZ proxy.corp:8080', AutoConfigURL: null }, { kind: 'manual', proxy: { host: 'proxy.corp', port: 8080 } }],
    ['windows', { ProxyEnable: 'REG_DWORD 0x0', ProxyServer: 'REG_SZ proxy.corp:8080', AutoConfigURL: 'REG_SZ http://wpad/wpad.dat' }, { kind: 'pac', url: 'http://wpad/wpad.dat' }],
    ['windows', { ProxyEnable: 'REG_DWORD 0x0', ProxyServer: 'REG_SZ proxy.corp:8080', AutoConfigURL: null }, { kind: 'none' }],
    ['macos', { '["Wi-Fi","autoproxy"]': '{"enabled":false,"url":""}', '["Wi-Fi","secureweb"]': '{"enabled":true,"server":"proxy.corp","port":3128}' }, { kind: 'manual', proxy: { host: 'proxy.corp', port: 3128 } }],
    ['macos', { '["Wi-Fi","autoproxy"]': '{"enabled":true,"url":"http://wpad/p.pac"}' }, { kind: 'pac', url: 'http://wpad/p.pac' }],
    ['memory', { mode: 'manual' }, { kind: 'none' }],
  ];
  for (const [adapter, fields, expected] of table) assert.deepEqual(osProxyFrom(adapter, fields), expected, `${adapter} ${JSON.stringify(fields)}`);
  assert.deepEqual(windowsProxyServer('http=a:1;https=b:2'), { host: 'b', port: 2 });
  assert.equal(parseGvString("'it\\'s'"), "it's");
  assert.equal(parseGvString('"it\'s"'), "it's");
  assert.deepEqual(osProxyFromEnv({ https_proxy: 'http://proxy.corp:3128/' }), { kind: 'manual', proxy: { host: 'proxy.corp', port: 3128 } });
  assert.deepEqual(osProxyFromEnv({}), { kind: 'none' });
});

test("a PAC's answer gives the first HTTP proxy before DIRECT", () => {
  assert.deepEqual(firstHttpProxy('PROXY a.corp:3128; DIRECT'), { host: 'a.corp', port: 3128 });
  assert.deepEqual(firstHttpProxy('SOCKS s:1080; HTTPS b:443'), { host: 'b', port: 443 });
  assert.equal(firstHttpProxy('DIRECT; PROXY a:1'), undefined);
  assert.equal(firstHttpProxy(''), undefined);
});

test('a PAC is evaluated with the standard helpers, sees only names resolved beforehand, and cannot run forever', () => {
  const pac = `function FindProxyForURL(url, host) {
    if (isPlainHostName(host)) return "DIRECT";
    if (shExpMatch(url, "https://*.vendor.example/*") && isInNet(dnsResolve(host), "203.0.113.0", "255.255.255.0")) return "PROXY proxy.corp:3128; DIRECT";
    if (localHostOrDomainIs(host, "intranet.corp")) return "DIRECT";
    return "PROXY fallback.corp:8080";
  }`;
  assert.equal(evaluatePac(pac, 'https://gw.vendor.example/', 'gw.vendor.example', { 'gw.vendor.example': '203.0.113.9' }).answer, 'PROXY proxy.corp:3128; DIRECT');
  assert.deepEqual(evaluatePac(pac, 'https://gw.vendor.example/', 'gw.vendor.example').proxy, { host: 'fallback.corp', port: 8080 }, 'an unresolved name is not in any net');
  assert.equal(evaluatePac(pac, 'https://intranet/', 'intranet').proxy, undefined);
  assert.throws(() => evaluatePac('function FindProxyForURL() { for (;;) {} }', 'https://x/', 'x', {}, 200), { code: 'PINHOLE_UPSTREAM_PROXY_FAILED' });
  assert.throws(() => evaluatePac('function FindProxyForURL() { return require("fs"); }', 'https://x/', 'x'), { code: 'PINHOLE_UPSTREAM_PROXY_FAILED' });
});

const serve = async (t: { after: (fn: () => unknown) => void }, body: string): Promise<{ url: string; hits: () => number }> => {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits += 1;
    if (req.url !== '/corp.pac') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ns-proxy-autoconfig' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/corp.pac`, hits: () => hits };
};

const gnomeAdapter = (fields: ProxyFields): SystemProxyAdapter => ({
  name: 'gnome',
  snapshot: async () => ({ adapter: 'gnome', fields }),
  read: async () => ({ adapter: 'gnome', fields }),
  plan: () => ({ adapter: 'gnome', fields: {} }),
  apply: async () => undefined,
  restore: async () => undefined,
});

const CORP_PAC = `function FindProxyForURL(url, host) {
  if (host == "127.0.0.1" && url == "https://127.0.0.1:8443/") return "PROXY 127.0.0.1:3128; DIRECT";
  return "DIRECT";
}`;

test('with the live settings pointing at a corporate PAC, the PAC is fetched from its server and names the proxy for the gateway', async (t) => {
  const pac = await serve(t, CORP_PAC);
  const stateDir = await mkdtemp(join(tmpdir(), 'pinhole-upstream-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const adapter = gnomeAdapter({ 'org.gnome.system.proxy mode': "'auto'", 'org.gnome.system.proxy autoconfig-url': `'${pac.url}'` });
  const proxy = await resolveOsUpstream({ gateway: { host: '127.0.0.1', port: 8443 }, logger, stateDir, adapter });
  assert.deepEqual(proxy, { host: '127.0.0.1', port: 3128 });
  assert.equal(pac.hits(), 1);
  const other = await resolveOsUpstream({ gateway: { host: '127.0.0.1', port: 9443 }, logger, stateDir, adapter });
  assert.equal(other, undefined, 'the PAC says DIRECT for another gateway');
});

test('while Pinhole holds the system proxy, the settings saved before it (a corporate PAC) are used, not its own', async (t) => {
  const pac = await serve(t, CORP_PAC);
  const stateDir = await mkdtemp(join(tmpdir(), 'pinhole-upstream-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const before = { 'org.gnome.system.proxy mode': "'auto'", 'org.gnome.system.proxy autoconfig-url': `'${pac.url}'` };
  const ours = { 'org.gnome.system.proxy mode': "'manual'", 'org.gnome.system.proxy.https host': "'127.0.0.1'", 'org.gnome.system.proxy.https port': '18080' };
  await writeState(stateFilePath(stateDir), {
    version: 1,
    adapter: 'gnome',
    snapshot: before,
    applied: ours,
    settings: { mode: 'manual', host: '127.0.0.1', port: 18080, bypass: [] },
    ownerPid: process.pid,
    sessionId: 'test',
    time: new Date().toISOString(),
  });
  const proxy = await resolveOsUpstream({ gateway: { host: '127.0.0.1', port: 8443 }, logger, stateDir, adapter: gnomeAdapter(ours) });
  assert.deepEqual(proxy, { host: '127.0.0.1', port: 3128 });
});

test('a PAC URL that is not http, or not there, is refused with a sentence', async (t) => {
  const pac = await serve(t, CORP_PAC);
  await assert.rejects(fetchPac('https://127.0.0.1/corp.pac'), { code: 'PINHOLE_UPSTREAM_PROXY_FAILED', message: /Only http:\/\// });
  await assert.rejects(fetchPac(pac.url.replace('corp.pac', 'missing.pac')), { code: 'PINHOLE_UPSTREAM_PROXY_FAILED', message: /HTTP 404/ });
});

test("a manual system proxy comes with the OS's saved credentials, else with those of a proxy variable naming the same proxy", async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'pinhole-upstream-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const lines: string[] = [];
  const recording = createLogger({ name: 'test', level: 'info', destination: { write: (line: string) => void lines.push(line) } });
  const adapter = gnomeAdapter({ 'org.gnome.system.proxy mode': "'manual'", 'org.gnome.system.proxy.https host': "'proxy.corp'", 'org.gnome.system.proxy.https port': '3128' });
  const gateway = { host: '127.0.0.1', port: 8443 };
  const fromOs = await resolveOsUpstream({ gateway, logger: recording, stateDir, adapter, env: {}, credentials: async () => ({ user: 'bob', password: 'os-secret', source: 'the GNOME proxy settings' }) });
  assert.deepEqual(fromOs, { host: 'proxy.corp', port: 3128, user: 'bob', password: 'os-secret' });
  const env = { https_proxy: 'http://carol:env%20secret@proxy.corp:3128' };
  const fromEnv = await resolveOsUpstream({ gateway, logger: recording, stateDir, adapter, env, credentials: async () => undefined });
  assert.deepEqual(fromEnv, { host: 'proxy.corp', port: 3128, user: 'carol', password: 'env secret' });
  const otherProxy = await resolveOsUpstream({ gateway, logger: recording, stateDir, adapter, env: { https_proxy: 'http://carol:pw@elsewhere.corp:3128' } });
  assert.deepEqual(otherProxy, { host: 'proxy.corp', port: 3128 }, "another proxy's credentials are not sent");
  const text = lines.join('');
  assert.match(text, /The corporate proxy's user name and password were read from the GNOME proxy settings\./);
  assert.match(text, /read from the environment \(https_proxy\)\./);
  assert.match(text, /No user name for the corporate proxy was found/);
  assert.doesNotMatch(text, /os-secret|env secret|env%20secret/, 'no password in the log');
});
