import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PinholeError } from '../shared/errors.js';
import { parseBasicAuth, UserStore } from './users.js';

const run = promisify(execFile);
const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('Basic credentials parse, including colons in the password; anything else is not credentials', () => {
  const table: [string | undefined, ReturnType<typeof parseBasicAuth>][] = [
    [undefined, undefined],
    ['', undefined],
    ['Bearer abc', undefined],
    [`Basic ${b64('alice:pw')}`, { user: 'alice', password: 'pw' }],
    [`basic   ${b64('alice:p:w:')}  `, { user: 'alice', password: 'p:w:' }],
    [`Basic ${b64('alice:')}`, { user: 'alice', password: '' }],
    [`Basic ${b64(':pw')}`, undefined],
    [`Basic ${b64('nocolon')}`, undefined],
    ['Basic !!!', undefined],
  ];
  for (const [header, expected] of table) assert.deepEqual(parseBasicAuth(header), expected, String(header));
});

test('a users file made by htpasswd -c with mixed schemes authenticates, and edits are picked up without a restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-users-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'squid_user');
  await run('htpasswd', ['-cbm', file, 'test', 'qY8kd0Cf']);
  await run('htpasswd', ['-bB', file, 'bcrypt', 'b-pass']);
  await run('htpasswd', ['-bs', file, 'sha', 's-pass']);
  const store = new UserStore(file);
  t.after(() => store.unwatch());
  assert.equal(await store.authenticate(`Basic ${b64('test:qY8kd0Cf')}`), 'test');
  assert.equal(await store.authenticate(`Basic ${b64('bcrypt:b-pass')}`), 'bcrypt');
  assert.equal(await store.authenticate(`Basic ${b64('sha:s-pass')}`), 'sha');
  const codeOf = (header: string | undefined): Promise<string> =>
    store.authenticate(header).then(
      () => 'ok',
      (err: unknown) => (err instanceof PinholeError ? err.code : 'other'),
    );
  assert.equal(await codeOf(undefined), 'PINHOLE_AUTH_MISSING');
  assert.equal(await codeOf(`Basic ${b64('test:wrong')}`), 'PINHOLE_AUTH_REJECTED');
  assert.equal(await codeOf(`Basic ${b64('nobody:qY8kd0Cf')}`), 'PINHOLE_AUTH_REJECTED');
  store.watch();
  await writeFile(file, '');
  const deadline = Date.now() + 10_000;
  while ((await codeOf(`Basic ${b64('test:qY8kd0Cf')}`)) === 'ok' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.equal(await codeOf(`Basic ${b64('test:qY8kd0Cf')}`), 'PINHOLE_AUTH_REJECTED');
});
