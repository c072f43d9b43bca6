import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PinholeError } from '../../shared/errors.js';
import { hashPassword } from '../../node/htpasswd.js';
import { HtpasswdCheck } from './htpasswd-check.js';

const withFile = async (text: string | undefined, body: (file: string) => Promise<void>): Promise<void> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-local-users-'));
  try {
    const file = join(dir, 'users');
    if (text !== undefined) await writeFile(file, text);
    await body(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

test('a terminal user in the htpasswd file passes with its password and fails with another; an unknown user fails', () =>
  withFile(undefined, async (file) => {
    await writeFile(file, `# terminals\nkiosk:${await hashPassword('right one', 4)}\nold:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n`);
    const check = await HtpasswdCheck.load(file);
    assert.equal(await check.check('kiosk', 'right one'), true);
    assert.equal(await check.check('kiosk', 'wrong one'), false);
    assert.equal(await check.check('old', 'test'), true, 'SHA1 lines from htpasswd -s work too');
    assert.equal(await check.check('nobody', 'right one'), false);
  }));

test('a missing or empty users file is a clear configuration error', async () => {
  await withFile(undefined, async (file) => {
    await assert.rejects(HtpasswdCheck.load(file), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_FILE_UNREADABLE' && /could not be read/.test(err.message));
  });
  await withFile('# nobody yet\n', async (file) => {
    await assert.rejects(HtpasswdCheck.load(file), (err: unknown) => err instanceof PinholeError && err.code === 'PINHOLE_FILE_INVALID' && /names no user/.test(err.message));
  });
});
