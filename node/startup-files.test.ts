import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { invalidFile, readStartupFile, unwritableFile } from './startup-files.js';

test('a file that cannot be read is named with why: missing (with the advice), a directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-files-'));
  try {
    assert.throws(() => readStartupFile(join(dir, 'users'), 'the users file', 'Add a user first.'), {
      code: 'PINHOLE_FILE_UNREADABLE',
      message: `The users file ${join(dir, 'users')} could not be read: it does not exist. Add a user first.`,
    });
    await mkdir(join(dir, 'cert.pem'));
    assert.throws(() => readStartupFile(join(dir, 'cert.pem'), 'the certificate file', 'never said'), {
      code: 'PINHOLE_FILE_UNREADABLE',
      message: `The certificate file ${join(dir, 'cert.pem')} could not be read: it is a directory, not a file.`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a malformed file is named with its line and field; a file not written says nothing changed', () => {
  assert.equal(invalidFile('/etc/pinhole/gateway.yaml', 'the gateway configuration', 'must be HOST:PORT.', { line: 3, field: 'listen' }, { code: 'PINHOLE_CONFIG_INVALID' }).message, 'The gateway configuration /etc/pinhole/gateway.yaml, line 3, field listen: must be HOST:PORT.');
  assert.equal(invalidFile('/k', 'the key file', 'not PEM.').code, 'PINHOLE_FILE_INVALID');
  const denied = unwritableFile(Object.assign(new Error('EACCES'), { code: 'EACCES' }), '/etc/pinhole/users.htpasswd', 'the users file');
  assert.equal(denied.code, 'PINHOLE_WRITE_FAILED');
  assert.match(denied.message, /^The users file \/etc\/pinhole\/users\.htpasswd could not be written: permission denied: .* may not write it; fix its owner or mode; nothing was changed\.$/);
});
