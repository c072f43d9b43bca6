import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLink } from '../../shared/link.js';
import { MemorySecretStore } from '../../test/support/memory-secret-store.js';
import { ProfileStore } from '../profiles/store.js';
import { run } from './profile.js';

const LINK = encodeLink({ name: 'Vendor', endpoints: ['gw.example.com:443'], serverName: 'gw.example.com', pin: 'cd'.repeat(32), user: 'alice', secret: 'top-secret-pw', domains: ['a.vendor.com'] });

const harness = async (t: { after(fn: () => Promise<void>): void }) => {
  const dir = await mkdtemp(join(tmpdir(), 'pinhole-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new ProfileStore({ dir });
  const secrets = new MemorySecretStore();
  let stdout = '';
  let stderr = '';
  const cli = async (...argv: string[]): Promise<number> => {
    stdout = '';
    stderr = '';
    return run(argv, { store, openSecrets: () => Promise.resolve(secrets), stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  };
  return { store, secrets, cli, out: () => stdout, err: () => stderr };
};

test('profile import, list, show and remove: the password never appears in the output', async (t) => {
  const h = await harness(t);
  assert.equal(await h.cli('import', LINK, '--name', 'Work'), 0);
  assert.match(h.out(), /Imported profile "Work" \(gw\.example\.com:443, user alice\)/);
  assert.equal(await h.cli('list'), 0);
  assert.match(h.out(), /NAME\s+SERVER\s+USER/);
  assert.match(h.out(), /\*\s+Work\s+gw\.example\.com:443\s+alice\s+h2\s+1/);
  assert.equal(await h.cli('list', '--json'), 0);
  const listed = JSON.parse(h.out()) as { name: string; default: boolean }[];
  assert.deepEqual(listed.map((p) => [p.name, p.default]), [['Work', true]]);
  assert.equal(await h.cli('show', 'work'), 0);
  assert.match(h.out(), /trust\s+pin CD:CD/);
  for (const text of [h.out(), JSON.stringify(listed)]) assert.ok(!text.includes('top-secret-pw'));
  const id = h.store.require('Work').id;
  assert.equal(await h.secrets.get(`profile:${id}`), 'top-secret-pw');
  assert.equal(await h.cli('remove', 'Work'), 0);
  assert.equal(await h.secrets.get(`profile:${id}`), undefined);
  assert.equal(h.store.list().length, 0);
});

test('bad input gives one line and exit code 2', async (t) => {
  const h = await harness(t);
  const cases: [string[], RegExp][] = [
    [[], /needs a subcommand/],
    [['import'], /needs --link-file FILE \(- for standard input\) or a pinhole:\/\/ link/],
    [['import', 'pinhole://v1/AAAA'], /link/i],
    [['import', 'https://example.com'], /link/i],
    [['show', 'ghost'], /no profile named "ghost"/],
    [['remove', 'ghost'], /no profile named "ghost"/],
    [['frobnicate'], /unknown profile subcommand/],
    [['list', '--bogus'], /bogus/],
  ];
  for (const [argv, want] of cases) {
    assert.equal(await h.cli(...argv), 2, argv.join(' '));
    assert.match(h.err(), want, argv.join(' '));
    assert.equal(h.err().trimEnd().split('\n').length, 1, `one line for ${argv.join(' ')}`);
  }
});
