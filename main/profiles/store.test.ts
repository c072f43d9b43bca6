import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLink } from '../../shared/link.js';
import { writeError, writeFileAtomic } from './atomic-write.js';
import { MemorySecretStore } from '../../test/support/memory-secret-store.js';
import { configDir } from './paths.js';
import { STORE_PROJECT_VERSION } from './schema.js';
import { forgetProfile, importLink, previewLink, ProfileStore } from './store.js';

const PIN = 'ab'.repeat(32);
const link = (extra: Record<string, unknown> = {}): string =>
  encodeLink({ endpoints: ['gw.example.com:443'], serverName: 'gw.example.com', pin: PIN, user: 'alice', secret: 'pa55-word-xyz', ...extra });

const tempDir = async (t: { after(fn: () => Promise<void>): void }): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

test('the settings folder follows the OS convention and PINHOLE_CONFIG_DIR overrides it', () => {
  assert.equal(configDir({ XDG_CONFIG_HOME: '/x/cfg' }, 'linux', '/home/u'), '/x/cfg/pinhole');
  assert.equal(configDir({}, 'linux', '/home/u'), '/home/u/.config/pinhole');
  assert.equal(configDir({}, 'darwin', '/Users/u'), '/Users/u/Library/Application Support/pinhole');
  assert.equal(configDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32', 'C:\\Users\\u').replaceAll('\\', '/'), 'C:/Users/u/AppData/Roaming/pinhole');
  assert.equal(configDir({ PINHOLE_CONFIG_DIR: '/tmp/p', XDG_CONFIG_HOME: '/x' }, 'linux', '/home/u'), '/tmp/p');
});

test('a link preview shows server, user, pin, transport and domain count, and stores nothing', async (t) => {
  const dir = await tempDir(t);
  const preview = previewLink(link({ name: 'Vendor', domains: ['a.vendor.com', 'b.vendor.com'], transport: 'wss' }));
  assert.equal(preview.name, 'Vendor');
  assert.equal(preview.server, 'gw.example.com:443');
  assert.equal(preview.user, 'alice');
  assert.equal(preview.pin, 'AB:'.repeat(31) + 'AB');
  assert.equal(preview.transport, 'wss');
  assert.equal(preview.domainsCount, 2);
  assert.ok(!JSON.stringify(preview).includes('pa55'), 'the preview carries no secret');
  assert.deepEqual(await readdir(dir), []);
  assert.throws(() => previewLink('pinhole://v1/garbage'), (err: { code?: string }) => String(err.code).startsWith('PINHOLE_LINK'));
});

test('importing a link keeps the password in the secret store and only a reference in the file', async (t) => {
  const dir = await tempDir(t);
  const store = new ProfileStore({ dir });
  const secrets = new MemorySecretStore();
  const profile = await importLink(link({ domains: ['x.vendor.com'] }), { store, secrets });
  assert.equal(profile.name, 'gw.example.com');
  assert.equal(profile.secretRef, `profile:${profile.id}`);
  assert.equal(await secrets.get(profile.secretRef), 'pa55-word-xyz');
  assert.deepEqual(profile.trust, { kind: 'pin', pin: PIN.toUpperCase() });
  assert.equal(store.defaultId(), profile.id, 'the first profile becomes the default');
  const file = await readFile(store.path, 'utf8');
  assert.ok(!file.includes('pa55-word-xyz'));
  assert.ok(file.includes(profile.secretRef));
  if (process.platform !== 'win32') assert.equal((await stat(store.path)).mode & 0o777, 0o600);

  // Another user on the same server: a second profile with a unique name.
  const second = await importLink(link({ user: 'bob', secret: 'other' }), { store, secrets });
  assert.equal(second.name, 'gw.example.com (2)');
  // The same server and user again: the first profile is updated, not duplicated.
  const again = await importLink(link({ secret: 'rotated' }), { store, secrets });
  assert.equal(again.id, profile.id);
  assert.equal(await secrets.get(profile.secretRef), 'rotated');
  assert.equal(store.list().length, 2);
  assert.equal(store.get('GW.EXAMPLE.COM')?.id, profile.id);

  await forgetProfile('gw.example.com (2)', { store, secrets });
  assert.equal(await secrets.get(second.secretRef), undefined);
  assert.equal(store.list().length, 1);
  assert.throws(() => store.require('nope'), { code: 'PINHOLE_PROFILE_NOT_FOUND' });
});

test('a stored profile never keeps a password field', async (t) => {
  const dir = await tempDir(t);
  const store = new ProfileStore({ dir });
  const profile = await importLink(link(), { store, secrets: new MemorySecretStore() });
  store.save({ ...profile, password: 'leak' } as typeof profile);
  assert.ok(!(await readFile(store.path, 'utf8')).includes('leak'));
});

test('settings have defaults, validate patches and survive reopen', async (t) => {
  const dir = await tempDir(t);
  const store = new ProfileStore({ dir });
  assert.equal(store.getSettings().proxyMode, 'pac');
  store.updateSettings({ proxyMode: 'manual', localPort: 18080, bypass: ['*.corp'] });
  assert.throws(() => store.updateSettings({ localPort: 70000 }), { code: 'PINHOLE_CONFIG_INVALID' });
  assert.throws(() => store.updateSettings({ nonsense: 1 } as never), { code: 'PINHOLE_CONFIG_INVALID' });
  const reopened = new ProfileStore({ dir });
  assert.equal(reopened.getSettings().proxyMode, 'manual');
  assert.equal(reopened.getSettings().localPort, 18080);
  assert.deepEqual(reopened.getSettings().bypass, ['*.corp']);
});

test('an old settings file is migrated to the current schema version', async (t) => {
  const dir = await tempDir(t);
  const profile = {
    id: 'p1', name: 'Old', endpoints: ['gw.example.com:443'], serverName: 'gw.example.com', trust: { kind: 'system' },
    user: 'alice', secretRef: 'profile:p1',
  };
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({ profiles: { p1: profile }, defaultProfile: 'p1', settings: { systemProxy: { enabled: true, mode: 'manual', bypass: ['a.corp'] }, localPort: 3128 } }),
  );
  const store = new ProfileStore({ dir });
  assert.deepEqual(store.list().map((p) => p.name), ['Old']);
  const settings = store.getSettings();
  assert.equal(settings.defaultProfileId, 'p1');
  assert.equal(settings.systemProxyOnConnect, true);
  assert.equal(settings.proxyMode, 'manual');
  assert.deepEqual(settings.bypass, ['a.corp']);
  assert.equal(settings.localPort, 3128);
  const raw = JSON.parse(await readFile(store.path, 'utf8')) as { __internal__?: { migrations?: { version?: string } }; defaultProfile?: unknown };
  assert.equal(raw.__internal__?.migrations?.version, STORE_PROJECT_VERSION);
  assert.equal(raw.defaultProfile, undefined);
});

test('a full disk is PINHOLE_DISK_FULL, and a failed write leaves neither half a file nor a temporary one', async (t) => {
  const dir = await tempDir(t);
  assert.equal(writeError(Object.assign(new Error('no space'), { code: 'ENOSPC' }), 'f').code, 'PINHOLE_DISK_FULL');
  assert.equal(writeError(Object.assign(new Error('quota'), { code: 'EDQUOT' }), 'f').code, 'PINHOLE_DISK_FULL');
  assert.equal(writeError(Object.assign(new Error('denied'), { code: 'EACCES' }), 'f').code, 'PINHOLE_WRITE_FAILED');
  // The target is a non-empty folder: the rename cannot happen.
  const target = join(dir, 'config.json');
  await mkdir(join(target, 'inside'), { recursive: true });
  await assert.rejects(writeFileAtomic(target, '{"new":true}'), (err: { code?: string; message: string }) => err.code === 'PINHOLE_WRITE_FAILED' && err.message.includes('nothing was changed'));
  assert.deepEqual(await readdir(dir), ['config.json'], 'no temporary file is left behind');
  assert.deepEqual(await readdir(target), ['inside']);
  const ok = join(dir, 'ok.json');
  await writeFileAtomic(ok, 'one');
  await writeFileAtomic(ok, 'two');
  assert.equal(await readFile(ok, 'utf8'), 'two');
});

test('a settings patch changes only the fields it names', async (t) => {
  const dir = await tempDir(t);
  const store = new ProfileStore({ dir });
  store.updateSettings({ proxyMode: 'manual', upstreamProxy: 'corp.example:3128', theme: 'dark' });
  const next = store.updateSettings({ upstreamProxy: undefined });
  assert.equal(next.upstreamProxy, '', 'an explicit undefined clears the corporate proxy');
  assert.equal(next.proxyMode, 'manual');
  assert.equal(next.theme, 'dark');
  assert.equal(store.updateSettings({ localPort: 9000 }).proxyMode, 'manual');
});
