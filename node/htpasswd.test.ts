import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { hashPassword, parseHtpasswd, parseHtpasswdLine, verifyPassword } from './htpasswd.js';

const run = promisify(execFile);

test('htpasswd lines parse into user, hash and scheme', () => {
  const table: [string, ReturnType<typeof parseHtpasswdLine>][] = [
    ['', undefined],
    ['   ', undefined],
    ['# a comment', undefined],
    ['nohash', undefined],
    [':$2y$05$abc', undefined],
    ['bob:', undefined],
    ['test:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=', { user: 'test', hash: '{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=', scheme: 'sha1' }],
    ['test:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\r', { user: 'test', hash: '{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=', scheme: 'sha1' }],
    ['u:$apr1$Vl6e0PZe$Iy0.3tRrB8MgpAWUpXfDx/', { user: 'u', hash: '$apr1$Vl6e0PZe$Iy0.3tRrB8MgpAWUpXfDx/', scheme: 'apr1' }],
    [
      'alice:$2y$05$Zxq1uuVHjm/E3nL8f7CrAuPyGZ7v2R9PNTTZbgtYrMAg3bNtq8qm2',
      { user: 'alice', hash: '$2y$05$Zxq1uuVHjm/E3nL8f7CrAuPyGZ7v2R9PNTTZbgtYrMAg3bNtq8qm2', scheme: 'bcrypt' },
    ],
    ['crypt:abJnggxhB/yWI', { user: 'crypt', hash: 'abJnggxhB/yWI', scheme: 'unsupported' }],
  ];
  for (const [line, expected] of table) assert.deepEqual(parseHtpasswdLine(line), expected, JSON.stringify(line));
});

test('a file keeps the first entry per user and skips junk', () => {
  const users = parseHtpasswd('a:{SHA}x\n\n# c\nb:{SHA}y\na:{SHA}z\n');
  assert.deepEqual([...users.keys()], ['a', 'b']);
  assert.equal(users.get('a')?.hash, '{SHA}x');
});

for (const [flag, scheme] of [
  ['-B', 'bcrypt'],
  ['-m', 'apr1'],
  ['-s', 'sha1'],
] as const) {
  test(`Debian htpasswd ${flag} output is read and the right password accepted (${scheme})`, async () => {
    const { stdout } = await run('htpasswd', ['-nb', flag, 'test', 'qY8kd0Cf']);
    const entry = parseHtpasswdLine(stdout.split('\n')[0]!);
    assert.equal(entry?.user, 'test');
    assert.equal(entry?.scheme, scheme);
    assert.equal(await verifyPassword(entry!.hash, 'qY8kd0Cf'), true);
    assert.equal(await verifyPassword(entry!.hash, 'qY8kd0Cg'), false);
    assert.equal(await verifyPassword(entry!.hash, ''), false);
  });
}

test('our bcrypt entries use $2y$ and are accepted by Apache htpasswd -v', async () => {
  const hash = await hashPassword('s3cret pass');
  assert.match(hash, /^\$2y\$10\$/);
  assert.equal(await verifyPassword(hash, 's3cret pass'), true);
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-htpasswd-'));
  try {
    await writeFile(join(dir, 'users'), `alice:${hash}\n`);
    const { stderr } = await run('htpasswd', ['-vb', join(dir, 'users'), 'alice', 's3cret pass']);
    assert.match(stderr, /correct/);
    await assert.rejects(run('htpasswd', ['-vb', join(dir, 'users'), 'alice', 'wrong']));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('unsupported hashes never verify', async () => {
  assert.equal(await verifyPassword('abJnggxhB/yWI', 'anything'), false);
  assert.equal(await verifyPassword('plain', 'plain'), false);
});
