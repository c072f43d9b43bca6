/**
 * The keychain against a real gnome-keyring-daemon in a private desktop session (fresh HOME):
 * store, read, update, delete; after `pinhole profile import` the password is in the keyring and
 * in no file under the config folder. Without a Secret Service the CLI says so and writes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLink } from '../../shared/link.js';
import { startDesktopSession } from '../support/desktop-session.js';
import { killOnExit, pinholeBin, repoRoot } from '../support/processes.js';

const runIn = async (command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> => {
  const child = killOnExit(spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  try {
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
};

test('passwords live in the GNOME keyring: stored, read, updated, deleted, and in no file under the config folder', async (t) => {
  const session = await startDesktopSession({ name: 'keyring', keyring: true });
  t.after(() => session.stop());
  const result = await runIn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/e2e/keyring-gnome.scenario.ts')], session.env);
  assert.equal(result.code, 0, result.stderr);
  const line = result.stdout.trim().split('\n').pop() ?? '';
  const report = JSON.parse(line) as Record<string, unknown>;
  assert.equal(report.kind, 'secret-service');
  assert.equal(report.location, 'in the GNOME Keyring (Secret Service)');
  assert.equal(report.missing, null);
  assert.equal(report.read, 'first-Secret-1');
  assert.equal(report.updated, 'second-Secret-2');
  assert.equal(report.lookupByTool, 'second-Secret-2', 'secret-tool finds it under service=pinhole');
  assert.equal(report.deleted, true);
  assert.equal(report.deletedAgain, false);
  assert.equal(report.afterDelete, null);

  assert.equal(report.secretRef, `profile:${String(report.profileId)}`);
  assert.equal(report.keyringHasPassword, 'Keyring-Only-Pa55word-7f3a', 'secret-tool lookup service pinhole username profile:ID');
  assert.equal(report.libraryHasPassword, 'Keyring-Only-Pa55word-7f3a');
  assert.ok((report.configFiles as string[]).includes('config.json'), 'the profile was written to the config folder');
  assert.deepEqual(report.filesWithPassword, [], 'no file under the config folder holds the password');
  assert.equal(report.printedPassword, false, 'import, list and show never print the password');
  assert.equal(report.afterRemove, null, 'profile remove deletes the password from the keyring');
});

test('without a Secret Service the import stops with PINHOLE_KEYCHAIN_UNAVAILABLE in words, and nothing is written', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'pinhole-nokeyring-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const configDir = join(home, 'cfg');
  const env = { PATH: process.env.PATH, HOME: home, PINHOLE_CONFIG_DIR: configDir };
  const link = encodeLink({ endpoints: ['gw.example.com:443'], serverName: 'gw.example.com', user: 'alice', secret: 'NoBus-Pa55' });
  // The link from a file (as the README says to), kept outside HOME, whose emptiness is asserted below.
  const linkDir = await mkdtemp(join(tmpdir(), 'pinhole-nokeyring-link-'));
  t.after(() => rm(linkDir, { recursive: true, force: true }));
  const linkFile = join(linkDir, 'link.txt');
  await writeFile(linkFile, link);
  const cli = await runIn(pinholeBin, ['profile', 'import', '--link-file', linkFile], env);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /^pinhole profile: No system keychain is reachable .*cannot be stored safely\..*passphrase-encrypted secrets file/);
  assert.equal(cli.stderr.trim().split('\n').length, 1);
  assert.ok(!cli.stderr.includes('NoBus-Pa55'));
  assert.deepEqual(await readdir(home), [], 'no config folder, no file');

  const probe = await runIn(
    process.execPath,
    ['--import', 'tsx', '-e', `import('./main/keychain/keychain.ts').then((m) => m.probeKeychain()).then(() => console.log('reachable'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`],
    env,
  );
  const error = JSON.parse(probe.stdout.trim()) as { code: string; message: string };
  assert.equal(error.code, 'PINHOLE_KEYCHAIN_UNAVAILABLE');
  assert.match(error.message, /No system keychain is reachable/);
});
