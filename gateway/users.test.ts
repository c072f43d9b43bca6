import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { schemeOf, type HtpasswdEntry } from '../node/htpasswd.js';
import { createLogger } from '../shared/log.js';
import { recordingDestination } from '../test/support/record-list.js';
import { parseBasicAuth, UserStore, usualSchemeOf } from './users.js';

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

test('a users file made by htpasswd -c with mixed schemes checks out, and edits are picked up without a restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-users-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'squid_user');
  await run('htpasswd', ['-cbm', file, 'test', 'qY8kd0Cf']);
  await run('htpasswd', ['-bB', file, 'bcrypt', 'b-pass']);
  await run('htpasswd', ['-bs', file, 'sha', 's-pass']);
  const { destination, lines } = recordingDestination();
  const store = new UserStore(file, createLogger({ name: 'test', destination }));
  t.after(() => store.unwatch());
  assert.equal(await store.check('test', 'qY8kd0Cf'), true);
  assert.equal(await store.check('bcrypt', 'b-pass'), true);
  assert.equal(await store.check('sha', 's-pass'), true);
  assert.equal(await store.check('test', 'wrong'), false);
  assert.equal(await store.check('nobody', 'qY8kd0Cf'), false);
  assert.equal(store.hashOf('nobody'), undefined);
  assert.match(store.hashOf('bcrypt') ?? '', /^\$2y\$/);
  store.watch();
  await writeFile(file, '');
  await lines.first((r) => r['msg'] === 'The users file was reloaded.', 'the reload line');
  assert.equal(await store.check('test', 'qY8kd0Cf'), false);
});

test('an unknown user is checked against a decoy of the file\'s usual scheme and cost, so it costs what a known one does', () => {
  const entry = (user: string, hash: string): HtpasswdEntry => ({ user, hash, scheme: schemeOf(hash) });
  const b12 = `$2y$12$${'a'.repeat(53)}`;
  const b10 = `$2y$10$${'a'.repeat(53)}`;
  const apr1 = `$apr1$abcdefgh$${'a'.repeat(22)}`;
  assert.deepEqual(usualSchemeOf([]), { scheme: 'bcrypt', cost: 10 });
  assert.deepEqual(usualSchemeOf([entry('a', b12), entry('b', b12), entry('c', b10)]), { scheme: 'bcrypt', cost: 12 });
  assert.deepEqual(usualSchemeOf([entry('a', apr1), entry('b', apr1), entry('c', b10)]).scheme, 'apr1');
});
