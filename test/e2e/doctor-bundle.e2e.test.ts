/**
 * `pinhole doctor PROFILE --bundle FILE` as a headless user runs it (issue 25): two stored
 * profiles whose passwords live in a passphrase-encrypted secrets file, a proxy variable carrying
 * a password in the environment; the check passes against a real gateway on loopback, and the
 * archive the system's tar reads holds the check, the profiles and the settings but none of the
 * secrets. Without any profile the bundle is still written, saying why there is no check.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_USER, startGateway, type RunningGateway } from '../support/gateway.js';
import { pinholeBin, runCommand, runCommandOk } from '../support/processes.js';

const PASSPHRASE = 'bundle passphrase 8e21';
const PROXY_PASSWORD = 'env-proxy-pw-77c1d3';
const OTHER = { name: 'dave', password: 'dave password 90b4f' };
let gateway: RunningGateway;
let dir: string;

before(async () => {
  gateway = await startGateway({ users: [DEFAULT_USER, OTHER] });
  dir = await mkdtemp(join(tmpdir(), 'pinhole-doctor-bundle-'));
});
after(async () => {
  await gateway?.stop();
  await rm(dir, { recursive: true, force: true });
});

const envFor = (configDir: string): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: dir,
  PINHOLE_CONFIG_DIR: configDir,
  PINHOLE_SECRETS_PASSPHRASE: PASSPHRASE,
  https_proxy: `http://corp:${PROXY_PASSWORD}@proxy.corp.test:3128`,
});

test('the bundle of a passing check holds the report, profiles and settings, and no password, passphrase or link secret', async () => {
  const configDir = join(dir, 'config');
  const secretsFile = join(configDir, 'secrets.enc.json');
  const env = envFor(configDir);
  for (const [name, user] of [['Work', DEFAULT_USER], ['Other', OTHER]] as const) {
    await runCommandOk(pinholeBin, { name: 'pinhole profile import', args: ['profile', 'import', await gateway.provision({ user }), '--name', name, '--secrets-file', secretsFile], env });
  }
  const bundle = join(dir, 'work.tar.gz');
  const result = await runCommand(pinholeBin, { name: 'pinhole doctor', args: ['doctor', 'Work', '--secrets-file', secretsFile, '--bundle', bundle], env, timeoutMs: 60_000 });
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /Every hop passed\./);
  assert.match(result.stderr, /the diagnostics bundle is in .*work\.tar\.gz/);
  const listing = execFileSync('tar', ['-tzf', bundle], { encoding: 'utf8' });
  for (const file of ['doctor.txt', 'doctor.json', 'versions.json', 'system.json', 'logs.jsonl', 'profiles.json', 'settings.json']) assert.match(listing, new RegExp(`/${file.replace('.', '\\.')}\\n`));
  const text = gunzipSync(await readFile(bundle)).toString('latin1');
  for (const secret of [DEFAULT_USER.password, OTHER.password, PASSPHRASE, PROXY_PASSWORD, encodeURIComponent(DEFAULT_USER.password)]) assert.ok(!text.includes(secret), `${secret} is in the archive`);
  assert.ok(!/pinhole:\/\//.test(text), 'no link');
  assert.match(text, /"name": "Other"/);
  assert.match(text, /The gateway accepted the credential of alice\./);
  assert.match(text, /http:\/\/corp:\[removed\]@proxy\.corp\.test:3128/);
});

test('without a profile the check does not run, the exit is 1, and the bundle still says why', async () => {
  const bundle = join(dir, 'empty.tar.gz');
  const result = await runCommand(pinholeBin, { name: 'pinhole doctor', args: ['doctor', '--bundle', bundle], env: envFor(join(dir, 'empty-config')), timeoutMs: 60_000 });
  assert.equal(result.code, 1, result.stderr);
  const text = gunzipSync(await readFile(bundle)).toString('utf8');
  assert.match(text, /No profile yet/);
});
