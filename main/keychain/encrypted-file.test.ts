import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EncryptedFileStore, SECRETS_FILE_NAME } from './encrypted-file.js';
import { openSecretStore } from './keychain.js';

test('the encrypted secrets file keeps secrets across reopen, unreadable without the passphrase', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-enc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await EncryptedFileStore.open({ dir, passphrase: 'correct horse' });
  await store.set('profile:a', 's3cret-password-A');
  await store.set('profile:b', 'second');
  await store.set('profile:b', 'second-updated');
  assert.equal(await store.delete('profile:a'), true);
  assert.equal(await store.delete('profile:a'), false);

  const file = join(dir, SECRETS_FILE_NAME);
  const body = await readFile(file, 'utf8');
  assert.ok(!body.includes('second-updated') && !body.includes('s3cret'), 'the file holds no plain secret');
  if (process.platform !== 'win32') assert.equal((await stat(file)).mode & 0o777, 0o600);

  const again = await EncryptedFileStore.open({ dir, passphrase: 'correct horse' });
  assert.equal(await again.get('profile:b'), 'second-updated');
  assert.equal(await again.get('profile:a'), undefined);
  assert.match(again.location, /passphrase-encrypted file/);
});

test('a wrong passphrase is refused with a clear error and the file is left as it was', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-enc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await EncryptedFileStore.open({ dir, passphrase: 'right' });
  await store.set('profile:x', 'pw');
  const before = await readFile(join(dir, SECRETS_FILE_NAME), 'utf8');
  await assert.rejects(EncryptedFileStore.open({ dir, passphrase: 'wrong' }), (err: { code?: string; message: string }) => {
    assert.equal(err.code, 'PINHOLE_PASSPHRASE_WRONG');
    assert.match(err.message, /passphrase does not open/);
    return true;
  });
  assert.equal(await readFile(join(dir, SECRETS_FILE_NAME), 'utf8'), before);
});

test('the encrypted file is used only on explicit opt-in and needs a passphrase', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-enc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await assert.rejects(openSecretStore({ allowEncryptedFile: true, configDir: dir, env: {} }), { code: 'PINHOLE_USAGE' });
  const viaEnv = await openSecretStore({ configDir: dir, env: { PINHOLE_SECRETS: 'encrypted-file', PINHOLE_SECRETS_PASSPHRASE: 'pp' } });
  assert.equal(viaEnv.kind, 'encrypted-file');
});
