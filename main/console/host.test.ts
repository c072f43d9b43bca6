import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDispatcher } from '../../shared/contract.js';
import { encodeLink } from '../../shared/link.js';
import { EngineHost } from './host.js';
import { MemoryProfiles, MemorySecrets, ScriptedEngine } from '../../test/support/memory-deps.js';

const world = () => {
  const engine = new ScriptedEngine();
  const profiles = new MemoryProfiles();
  const secrets = new MemorySecrets();
  const proxyLog: string[] = [];
  const host = new EngineHost({
    engine,
    profiles,
    secrets,
    version: '1.2.3',
    platform: 'linux',
    shellExportLine: (h, p) => `export https_proxy=http://${h}:${p}`,
    systemProxy: async ({ host: h, port, mode }) => {
      proxyLog.push(`apply ${mode} ${h}:${port}`);
      return { restore: async () => void proxyLog.push('restore') };
    },
  });
  const dispatch = createDispatcher(host.handlers);
  const call = async (name: string, input: unknown = {}) => {
    const reply = await dispatch(name, input);
    if (!reply.ok) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
    return reply.result as Record<string, unknown>;
  };
  return { engine, profiles, secrets, host, call, proxyLog };
};

const manual = { name: 'Seed', endpoints: ['stunnel.example.com:443'], serverName: 'stunnel.example.com', user: 'bob', trust: { kind: 'insecure' }, transport: 'h1' };

test('a manual profile sends its password to the keychain; the profile and every reply hold only a reference', async () => {
  const w = world();
  const saved = await w.call('saveProfile', { ...manual, password: 'p4ss-word' });
  assert.equal(saved.hasPassword, true);
  assert.equal(saved.isDefault, true, 'the first profile becomes the default');
  assert.doesNotMatch(JSON.stringify(saved), /p4ss-word/);
  const stored = w.profiles.list()[0];
  assert.ok(stored);
  assert.doesNotMatch(JSON.stringify(stored), /p4ss-word/);
  assert.equal(w.secrets.get(stored.secretRef), 'p4ss-word');
  // Editing without a password keeps the stored one.
  const edited = await w.call('saveProfile', { ...manual, id: stored.id, name: 'Seed (edited)' });
  assert.equal(edited.name, 'Seed (edited)');
  assert.equal(w.secrets.get(stored.secretRef), 'p4ss-word');
  const creds = await w.call('setCredentials', { id: stored.id, user: 'carol', password: 'n3w' });
  assert.equal(creds.storedIn, w.secrets.location);
  assert.equal(w.profiles.list()[0]?.user, 'carol');
  assert.equal(w.secrets.get(stored.secretRef), 'n3w');
  await w.call('clearCredentials', { id: stored.id });
  await assert.rejects(w.call('connect', {}), { code: 'PINHOLE_AUTH_MISSING' });
});

test('importing the same link twice updates one profile instead of adding another', async () => {
  const w = world();
  const link = encodeLink({ endpoints: ['gw.example.com:443'], serverName: 'gw.example.com', user: 'alice', secret: 'one' });
  await w.call('importLink', { link });
  const preview = await w.call('previewLink', { link });
  assert.ok(preview.existingId);
  await w.call('importLink', { link: encodeLink({ endpoints: ['gw.example.com:8443'], serverName: 'gw.example.com', user: 'alice', secret: 'two' }) });
  assert.equal(w.profiles.list().length, 1);
  assert.deepEqual(w.profiles.list()[0]?.endpoints, ['gw.example.com:8443']);
  assert.equal(w.secrets.get(w.profiles.list()[0]?.secretRef ?? ''), 'two');
  await assert.rejects(w.call('importLink', { link: 'pinhole://v1/garbage' }), { code: 'PINHOLE_LINK_TRUNCATED' });
});

test('connect sets the system proxy when asked and disconnect puts it back', async () => {
  const w = world();
  await w.call('saveProfile', { ...manual, password: 'pw' });
  await w.call('setSettings', { systemProxyOnConnect: true, proxyMode: 'manual' });
  const status = await w.call('connect', {});
  assert.equal(status.state, 'connected');
  assert.deepEqual(w.proxyLog, ['apply manual 127.0.0.1:18080']);
  assert.equal(w.engine.connects[0]?.password, 'pw');
  await w.call('disconnect');
  assert.deepEqual(w.proxyLog, ['apply manual 127.0.0.1:18080', 'restore']);
});

test('app rules: the toggle is stored on the profile and decides new connections at once', async () => {
  const w = world();
  await w.call('saveProfile', { ...manual, password: 'pw' });
  await w.call('connect', {});
  const decide = w.engine.connects[0]?.options.decide;
  assert.ok(decide);
  const route = (path?: string): string => decide({ host: 'api.vendor.example', port: 443, ...(path ? { app: { path, name: path.split('/').pop() ?? path } } : {}) }).route;
  assert.equal(route('/usr/bin/curl'), 'tunnel');
  const apps = await w.call('setAppRule', { path: '/usr/bin/curl', action: 'direct' });
  assert.deepEqual((apps.apps as { path: string; action: string }[]).map((a) => [a.path, a.action]), [['/usr/bin/curl', 'direct']]);
  assert.equal(route('/usr/bin/curl'), 'direct');
  await w.call('setDefaultAppAction', { action: 'block' });
  assert.equal(route('/usr/bin/wget'), 'block');
  assert.equal(route(), 'block');
  assert.equal(w.profiles.list()[0]?.appRules['/usr/bin/curl'], 'direct');
});

test('a link that lists the vendor domains tunnels exactly those, sends the rest direct, and the PAC agrees', async () => {
  const w = world();
  const link = encodeLink({ endpoints: ['gw.example.com:443'], serverName: 'gw.example.com', user: 'alice', secret: 'one', domains: ['api.vendor.example', '*.cdn.vendor.example'] });
  await w.call('importLink', { link });
  await w.call('connect', {});
  const options = w.engine.connects[0]?.options;
  assert.ok(options?.decide && options.pac);
  assert.deepEqual(options.decide({ host: 'api.vendor.example', port: 443 }), { route: 'tunnel' });
  assert.deepEqual(options.decide({ host: 'img.cdn.vendor.example', port: 443 }), { route: 'tunnel' });
  assert.deepEqual(options.decide({ host: 'news.example.org', port: 443 }), { route: 'direct' });
  const pac = options.pac('127.0.0.1:18080');
  assert.match(pac, /FindProxyForURL/);
  assert.match(pac, /PROXY 127\.0\.0\.1:18080/);
  assert.match(pac, /DIRECT/);
});

test('quitting disconnects and restores the system proxy, and deleting a profile removes its keychain entry', async () => {
  const w = world();
  const saved = await w.call('saveProfile', { ...manual, password: 'pw' });
  await w.call('setSettings', { systemProxyOnConnect: true });
  await w.call('connect', {});
  await w.host.shutdown();
  assert.equal(w.engine.getStatus().state, 'disconnected');
  assert.equal(w.proxyLog.at(-1), 'restore');
  const w2 = world();
  const p = await w2.call('saveProfile', { ...manual, password: 'pw' });
  await w2.call('deleteProfile', { id: p.id });
  assert.equal(w2.secrets.secrets.size, 0);
  assert.equal(w2.profiles.list().length, 0);
  await assert.rejects(w2.call('deleteProfile', { id: String(saved.id) }), { code: 'PINHOLE_PROFILE_NOT_FOUND' });
});

test('info names the keychain and the shell line; exported logs are JSON lines', async () => {
  const w = world();
  const info = await w.call('getInfo');
  assert.equal(info.version, '1.2.3');
  assert.deepEqual(info.keychain, { kind: 'memory', location: w.secrets.location, available: true });
  assert.equal(info.shellExport, 'export https_proxy=http://127.0.0.1:0');
  w.engine.addLog('info', 'Tunnel opened.', { target: 'a.example:443' });
  const exported = await w.call('exportLogs');
  assert.match(String(exported.filename), /^pinhole-\d{8}-\d{6}\.log$/);
  assert.deepEqual(JSON.parse(String(exported.text).trim()), { time: JSON.parse(String(exported.text).trim()).time, level: 'info', msg: 'Tunnel opened.', target: 'a.example:443' });
});
