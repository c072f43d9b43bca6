/**
 * `pinhole connect` on a new headless box (no D-Bus session, so no keychain): with nothing to
 * connect to it says there is no profile yet and how to import one, before any keychain question;
 * a stored profile without a keychain gets the keychain sentence naming --secrets-file FILE; and a
 * profile imported into a passphrase-encrypted file connects with --secrets-file FILE.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLink } from '../../shared/link.js';
import { makeSelfSignedCertificate, type TestCertificate } from '../../test/support/certs.js';
import { startOrigin, type Origin } from '../../test/support/origin.js';
import { Program, listenPortOf, pinholeBin, runCommand } from '../../test/support/processes.js';
import { requestThroughProxy } from '../../test/support/proxy-requests.js';
import { startConnectServer, type ConnectServer } from '../../test/support/connect-server.js';
import { NO_PROFILE_SENTENCE } from './connect.js';

const PASSWORD = 'first run pw 9';
const PASSPHRASE = 'box passphrase';
let origin: Origin;
let cert: TestCertificate;
let server: ConnectServer;
const homes: string[] = [];

before(async () => {
  origin = await startOrigin();
  cert = await makeSelfSignedCertificate({ commonName: 'gw.example.test', altNames: ['gw.example.test'] });
  server = await startConnectServer({ cert: cert.cert, key: cert.key, user: 'alice', password: PASSWORD });
});
after(async () => {
  await server.stop();
  await origin.stop();
  for (const home of homes) await rm(home, { recursive: true, force: true });
});

/** A fresh HOME and config folder, and no D-Bus session: no keychain can answer. */
const headlessEnv = async (extra: NodeJS.ProcessEnv = {}): Promise<{ env: NodeJS.ProcessEnv; configDir: string }> => {
  const home = await mkdtemp(join(tmpdir(), 'pinhole-first-run-'));
  homes.push(home);
  const configDir = join(home, 'config');
  return { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, PINHOLE_CONFIG_DIR: configDir, LANG: 'C.UTF-8', ...extra }, configDir };
};

const pinhole = (args: string[], env: NodeJS.ProcessEnv) => runCommand(pinholeBin, { args, env });

const link = (): string =>
  encodeLink({ name: 'Acme', endpoints: [`127.0.0.1:${server.port}`], serverName: 'gw.example.test', pin: cert.sha256, user: 'alice', secret: PASSWORD, transport: 'h2' });

test('connect with nothing to connect to says there is no profile yet, and nothing about a keychain', async () => {
  const { env } = await headlessEnv();
  const result = await pinhole(['connect'], env);
  assert.equal(result.code, 2);
  assert.equal(result.stderr.trim(), `pinhole connect: ${NO_PROFILE_SENTENCE} (PINHOLE_PROFILE_NOT_FOUND)`);
  assert.match(NO_PROFILE_SENTENCE, /`pinhole profile import --link-file FILE`/);
  assert.doesNotMatch(result.stderr, /keychain|keyring|secrets/i);
});

test('connect NAME before any profile was stored names the missing profile and how to import one', async () => {
  const { env } = await headlessEnv();
  const result = await pinhole(['connect', 'Acme'], env);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /There is no profile named "Acme"\. No profile yet: import one with `pinhole profile import --link-file FILE`/);
  assert.doesNotMatch(result.stderr, /keychain|keyring/i);
});

test('the secrets file chosen at import is remembered: connect without the flag opens it, and without its passphrase says to set it', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'pinhole-vault-')), 'vault.enc.json');
  homes.push(join(file, '..'));
  const { env } = await headlessEnv({ PINHOLE_SECRETS_PASSPHRASE: PASSPHRASE });
  const imported = await pinhole(['profile', 'import', link(), '--secrets-file', file], env);
  assert.equal(imported.code, 0, imported.stderr);
  const { PINHOLE_SECRETS_PASSPHRASE: _given, ...withoutPassphrase } = env;
  const result = await pinhole(['connect'], withoutPassphrase);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /The encrypted secrets file needs a passphrase: set PINHOLE_SECRETS_PASSPHRASE\./);
});

test('a profile imported with --secrets-file FILE connects with --secrets-file FILE; no file holds the password in the clear', async () => {
  const { env, configDir } = await headlessEnv({ PINHOLE_SECRETS_PASSPHRASE: PASSPHRASE });
  const file = join(configDir, 'vault.enc.json');
  const imported = await pinhole(['profile', 'import', link(), '--secrets-file', file], env);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /passphrase-encrypted file/);
  for (const name of await readdir(configDir)) assert.ok(!(await readFile(join(configDir, name), 'utf8')).includes(PASSWORD), `${name} holds no password`);

  const wrong = await pinhole(['connect', 'Acme', '--secrets-file', file], { ...env, PINHOLE_SECRETS_PASSPHRASE: 'not it' });
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /passphrase does not open/);

  const program = new Program(pinholeBin, { args: ['connect', 'Acme', '--secrets-file', file, '--listen', '127.0.0.1:0'], env });
  try {
    const port = listenPortOf(await program.waitForLog((r) => r.msg === 'The local proxy is listening.', 20_000, 'the listening line'));
    const res = await requestThroughProxy({ proxy: { port }, url: `http://127.0.0.1:${origin.httpPort}/hello` });
    assert.equal(res.status, 200);
    assert.equal((await program.stop('SIGTERM')).code, 0);
    assert.ok(!program.stdout.includes(PASSWORD), 'the password is never logged');
  } finally {
    await program.stop('SIGKILL');
  }
});
