/**
 * The console host on a box without a keychain (issue 13): it says so in getInfo, refuses to save a
 * password anywhere, still connects a pasted link for the session, and moves on to a
 * passphrase-encrypted file (or a keyring started later) when the UI asks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDispatcher } from '../../shared/contract.js';
import { PinholeError } from '../../shared/errors.js';
import { encodeLink } from '../../shared/link.js';
import { SecretStoreSwitch } from '../keychain/secret-store-switch.js';
import { MemorySecretStore } from '../../test/support/memory-secret-store.js';
import { EngineHost } from './host.js';
import { MemoryProfiles, ScriptedEngine } from '../../test/support/memory-deps.js';

const SECRET = 'session pw 77';
const link = encodeLink({ name: 'Acme', endpoints: ['gw.example.com:443'], serverName: 'gw.example.com', user: 'alice', secret: SECRET, domains: ['api.acme.example'] });
const unavailable = (): Promise<never> => Promise.reject(new PinholeError('PINHOLE_KEYCHAIN_UNAVAILABLE', 'No system keychain is reachable (test).'));

const world = async (t: { after(fn: () => Promise<void>): void }, dir?: string) => {
  const configDir = dir ?? (await mkdtemp(join(tmpdir(), 'pinhole-host-secrets-')));
  if (!dir) t.after(() => rm(configDir, { recursive: true, force: true }));
  let keyringRunning = false;
  const keyring = new MemorySecretStore();
  const secrets = await SecretStoreSwitch.start({ open: unavailable, probeKeychain: () => (keyringRunning ? Promise.resolve(keyring) : unavailable()), configDir });
  const engine = new ScriptedEngine();
  const profiles = new MemoryProfiles();
  const host = new EngineHost({ engine, profiles, secrets, secretsControl: secrets, version: '1', platform: 'linux', shellExportLine: (h, p) => `export https_proxy=http://${h}:${p}` });
  const dispatch = createDispatcher(host.handlers);
  const call = async (name: string, input: unknown = {}) => {
    const reply = await dispatch(name, input);
    if (!reply.ok) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
    return reply.result as Record<string, unknown>;
  };
  return { configDir, engine, profiles, call, keyring, startKeyring: () => (keyringRunning = true) };
};

test('without a keychain: info says so, nothing can be saved, a link connects for the session with its secret in memory only', async (t) => {
  const w = await world(t);
  const info = await w.call('getInfo');
  assert.deepEqual(info.keychain, { available: false, kind: 'none', location: 'nowhere yet: no keychain answers', suggestedFile: join(w.configDir, 'secrets.enc.json') });
  await assert.rejects(w.call('importLink', { link }), (error: { code?: string; message: string }) => error.code === 'PINHOLE_KEYCHAIN_UNAVAILABLE' && /secrets file/.test(error.message));
  assert.equal(w.profiles.list().length, 0, 'a refused password leaves no profile behind');
  const status = await w.call('connectLink', { link });
  assert.equal(status.state, 'connected');
  assert.equal(w.engine.connects[0]?.password, SECRET);
  assert.equal(w.engine.connects[0]?.target.serverName, 'gw.example.com');
  assert.equal(w.engine.connects[0]?.options.profileName, 'Acme');
  assert.equal(w.engine.connects[0]?.options.decide?.({ host: 'elsewhere.example', port: 443 }).route, 'direct', "the link's domains route the session");
  assert.equal(w.engine.connects[0]?.options.decide?.({ host: 'api.acme.example', port: 443 }).route, 'tunnel');
  assert.equal(w.profiles.list().length, 0);
  assert.deepEqual(await readdir(w.configDir), [], 'nothing was written');
});

test('a secrets file chosen in the UI keeps the profile; after a restart the right passphrase opens it and the profile connects', async (t) => {
  const w = await world(t);
  const file = join(w.configDir, 'vault.enc.json');
  const info = await w.call('useSecretsFile', { file, passphrase: 'pp one' });
  assert.deepEqual({ ...(info.keychain as object) }, { available: true, kind: 'encrypted-file', location: `in a passphrase-encrypted file (${file})`, file, suggestedFile: join(w.configDir, 'secrets.enc.json') });
  const saved = await w.call('importLink', { link });
  assert.equal(saved.hasPassword, true);
  assert.ok(!(await readFile(file, 'utf8')).includes(SECRET), 'the file is encrypted');

  const again = await world(t, w.configDir);
  again.profiles.save(w.profiles.list()[0]!);
  await assert.rejects(again.call('connect', {}), { code: 'PINHOLE_KEYCHAIN_UNAVAILABLE' });
  await assert.rejects(again.call('useSecretsFile', { file, passphrase: 'wrong' }), { code: 'PINHOLE_PASSPHRASE_WRONG' });
  await again.call('useSecretsFile', { file, passphrase: 'pp one' });
  const status = await again.call('connect', {});
  assert.equal(status.state, 'connected');
  assert.equal(again.engine.connects[0]?.password, SECRET);
});

test('a keyring started after the console is found by "try again"', async (t) => {
  const w = await world(t);
  await assert.rejects(w.call('retryKeychain'), { code: 'PINHOLE_KEYCHAIN_UNAVAILABLE' });
  w.startKeyring();
  const info = await w.call('retryKeychain');
  assert.equal((info.keychain as { available: boolean; kind: string }).kind, 'memory');
  await w.call('importLink', { link });
  assert.deepEqual([...w.keyring.secrets.values()], [SECRET]);
});
