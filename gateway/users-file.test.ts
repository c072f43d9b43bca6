import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readUsersFile } from './users.js';
import { changeUsers, edits, isDisabled, type UsersFileIo } from './users-file.js';
import { gatewayCommand } from '../test/support/gateway.js';
import { repoRoot } from '../test/support/processes.js';

const run = promisify(execFile);
const hash = (n: number): string => `$2b$10$${String(n).padStart(53, 'a')}`;

const withDir = async (work: (dir: string) => Promise<void>): Promise<void> => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-users-'));
  try {
    await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

test('disable keeps the hash behind a "!", enable gives it back, delete removes the line, and an unknown user changes nothing', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'users.htpasswd');
    await changeUsers(file, edits.add('alice', hash(1)));
    await changeUsers(file, edits.add('bob', hash(2)));
    await changeUsers(file, edits.setDisabled('alice', true));
    assert.equal(readUsersFile(file).get('alice')?.hash, `!${hash(1)}`);
    assert.ok(isDisabled(readUsersFile(file).get('alice')!));
    await changeUsers(file, edits.setDisabled('alice', false));
    assert.equal(readUsersFile(file).get('alice')?.hash, hash(1));
    await assert.rejects(changeUsers(file, edits.add('bob', hash(3))), { code: 'PINHOLE_USER_EXISTS' });
    await changeUsers(file, edits.remove('bob'));
    await assert.rejects(changeUsers(file, edits.remove('bob')), { code: 'PINHOLE_USER_UNKNOWN' });
    assert.deepEqual([...readUsersFile(file).keys()], ['alice']);
    assert.deepEqual((await readdir(dir)).sort(), ['users.htpasswd'], 'no lock or temporary file is left behind');
  });
});

test('a hand edit made between two changes is kept: each change reads the file afresh', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'users.htpasswd');
    await changeUsers(file, edits.add('alice', hash(1)));
    await writeFile(file, `${await readFile(file, 'utf8')}# added by hand\ncarol:${hash(7)}\n`);
    await changeUsers(file, edits.add('dave', hash(8)));
    assert.deepEqual([...readUsersFile(file).keys()], ['alice', 'carol', 'dave']);
  });
});

test('changes from the console and `pinhole-gateway user add` processes at the same moment are all kept', async () => {
  await withDir(async (dir) => {
    await gatewayCommand(['init', '--dir', dir, '--hostname', 'gw.example.test']);
    const file = join(dir, 'users.htpasswd');
    const cli = ['cli1', 'cli2', 'cli3'].map((name) => gatewayCommand(['user', 'add', name, '--dir', dir, '--password-stdin'], 'pw-of-a-cli-user\n'));
    const inProcess = Array.from({ length: 30 }, (_, i) => changeUsers(file, edits.add(`console${i}`, hash(i))));
    await Promise.all([...cli, ...inProcess]);
    const names = [...readUsersFile(file).keys()];
    for (const name of ['cli1', 'cli2', 'cli3', ...Array.from({ length: 30 }, (_, i) => `console${i}`)]) assert.ok(names.includes(name), `${name} was lost; the file holds ${names.join(', ')}`);
  });
});

test('a failing write (the disk is full) leaves the file as it was and says so', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'users.htpasswd');
    await changeUsers(file, edits.add('alice', hash(1)));
    const before = await readFile(file, 'utf8');
    const full: UsersFileIo = {
      write: async (handle, text) => {
        await handle.write(text.slice(0, 10));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    };
    await assert.rejects(changeUsers(file, edits.add('bob', hash(2)), full), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'PINHOLE_DISK_FULL');
      assert.match(err.message, /full; the change was not saved and the file is as it was/);
      return true;
    });
    assert.equal(await readFile(file, 'utf8'), before);
    assert.deepEqual(await readdir(dir), ['users.htpasswd']);
  });
});

test('on a real full disk (a 64 KiB tmpfs in a user namespace) the change fails with PINHOLE_DISK_FULL and nothing is lost', async (t) => {
  const probe = await run('unshare', ['-rm', 'true']).then(() => true, () => false);
  if (!probe) {
    t.skip('user namespaces are not available here (unshare -rm); the injected ENOSPC test above covers the code path');
    return;
  }
  await withDir(async (dir) => {
    const mount = join(dir, 'disk');
    await run('mkdir', [mount]);
    const fixture = join(repoRoot, 'test', 'support', 'users-file-full-disk.fixture.ts');
    const script = `mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" --import tsx "$3" "$1"`;
    const { stdout } = await run('unshare', ['-rm', 'sh', '-c', script, 'sh', mount, process.execPath, fixture], { cwd: repoRoot });
    const outcome = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { code?: string; message?: string; before: string; after: string; leftovers: string[] };
    assert.equal(outcome.code, 'PINHOLE_DISK_FULL', outcome.message);
    assert.equal(outcome.after, outcome.before, 'the users file is exactly as it was');
    assert.match(outcome.after, /^alice:/);
    assert.deepEqual(outcome.leftovers, [], 'no lock or temporary file is left on the full disk');
  });
});
