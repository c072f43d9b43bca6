/**
 * The first hour of a new user and a new operator, each trap of issue 25 tried as they would try
 * it, with real gateways and the real command lines: a refused password stops `pinhole connect`
 * at start (no "Connected"); `provision` never creates a user or changes a password unasked; a
 * policy refusal names the rule and the flag; links travel in files or on stdin, a link on the
 * command line is warned about; a chosen secrets file is remembered; a managed profile cannot be
 * removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayCommand, startGateway } from '../support/gateway.js';
import { startOrigin } from '../support/origin.js';
import { explainFailure, listenPortOf, Peers, pinholeBin, Program, runCommand, type LogRecord } from '../support/processes.js';
import { openTunnel } from '../support/proxy-requests.js';

const tempDir = async (t: { after: (fn: () => Promise<void>) => void }, prefix: string): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

const startConnect = (peers: Peers, args: string[], env: NodeJS.ProcessEnv, stdin?: string): Program => {
  const program = new Program(pinholeBin, { name: 'pinhole connect', args: ['connect', ...args, '--listen', '127.0.0.1:0', '--log-format', 'json'], env, ...(stdin === undefined ? {} : { stdin }) });
  peers.add({ program, stop: () => program.stop('SIGTERM', 15_000) });
  return program;
};

test('a password changed on the gateway stops connect at start with what to do, and provision changes it only when asked, saying which links stop working', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const home = await tempDir(t, 'pinhole-first-hour-');
  const env = { ...process.env, PINHOLE_CONFIG_DIR: join(home, 'config'), PINHOLE_MANAGED_FILE: join(home, 'managed.yaml') };
  const gateway = peers.add(await startGateway());
  const oldLink = await gateway.provision();
  await writeFile(join(home, 'old.link'), `${oldLink}\n`);

  // Asking for a link for an existing user without a password or a flag changes nothing.
  const usersBefore = await readFile(join(gateway.dir, 'users.htpasswd'), 'utf8');
  const asked = await runCommand(pinholeBin.replace(/pinhole$/, 'pinhole-gateway'), { args: ['provision', '--dir', gateway.dir, '--user', 'alice'] });
  assert.equal(asked.code, 2, asked.stderr);
  assert.match(asked.stderr, /The user alice exists: give the password with --password-stdin .* or add --reset-password for a new one \(alice's existing links stop working\)/);
  const carol = await runCommand(pinholeBin.replace(/pinhole$/, 'pinhole-gateway'), { args: ['provision', '--dir', gateway.dir, '--user', 'carol'] });
  assert.equal(carol.code, 2);
  assert.match(carol.stderr, /There is no user carol: add --create-user/);
  assert.equal(await readFile(join(gateway.dir, 'users.htpasswd'), 'utf8'), usersBefore, 'no user created, no password changed');

  const created = await gatewayCommand(['provision', '--dir', gateway.dir, '--user', 'carol', '--create-user', '--endpoint', `127.0.0.1:${gateway.port}`]);
  assert.match(created.stderr, /The user carol was created/);
  assert.match(created.stdout.trim(), /^pinhole:\/\//);
  const again = await runCommand(pinholeBin.replace(/pinhole$/, 'pinhole-gateway'), { args: ['provision', '--dir', gateway.dir, '--user', 'carol', '--create-user'] });
  assert.equal(again.code, 2);
  assert.match(again.stderr, /The user carol already exists/);

  // The gateway reads its users file again within a second of each change: carol's first, then the reset's.
  const reloaded = (r: LogRecord): boolean => r.msg === 'The users file was reloaded.';
  await gateway.program.waitForLog((r) => reloaded(r) && r['users'] === 2, 30_000, 'the users file reloaded with carol');
  const reloadsBefore = gateway.program.records.filter(reloaded).length;
  const reset = await gatewayCommand(['provision', '--dir', gateway.dir, '--user', 'alice', '--reset-password', '--endpoint', `127.0.0.1:${gateway.port}`]);
  assert.match(reset.stderr, /The password of alice was changed: every link made for alice before now stops working/);
  await gateway.program.waitForLogs(reloaded, reloadsBefore + 1, 30_000, "the users file reloaded with alice's new password");
  const newLink = reset.stdout.trim();

  // The old link: an error at start that says to ask for a new link, never "Connected".
  const stale = await runCommand(pinholeBin, { args: ['connect', '--link-file', join(home, 'old.link'), '--listen', '127.0.0.1:0', '--log-format', 'json'], env, timeoutMs: 60_000 });
  assert.equal(stale.code, 2, stale.stdout + stale.stderr);
  assert.match(stale.stderr, /The gateway refused the password of ".*" \(it was changed or revoked\): ask your administrator for a new link.*\(PINHOLE_AUTH_REJECTED\)/);
  assert.doesNotMatch(stale.stdout, /Connected to the gateway|The local proxy is listening/);

  // The new link on standard input: connected, and no warning about the command line.
  const fresh = startConnect(peers, ['--link-file', '-'], env, `${newLink}\n`);
  await explainFailure(peers, () => fresh.waitForLog((r) => r.msg === 'The local proxy is listening.', 60_000, 'the listening line'));
  assert.doesNotMatch(fresh.stderr, /warning/);
});

test('a link on the command line is warned about in one line; forward takes --link-file; the policy refusal names its rule and the flag that changes it', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const home = await tempDir(t, 'pinhole-first-hour-');
  const env = { ...process.env, PINHOLE_CONFIG_DIR: join(home, 'config'), PINHOLE_MANAGED_FILE: join(home, 'managed.yaml') };
  const origin = peers.add(await startOrigin());
  const gateway = peers.add(await startGateway({ runArgs: ['--allow-port', String(origin.httpsPort)] }));
  const link = await gateway.provision();
  const client = startConnect(peers, [link], env);
  const port = await explainFailure(peers, async () => listenPortOf(await client.waitForLog((r) => r.msg === 'The local proxy is listening.', 60_000, 'the listening line')));
  const warnings = client.stderr.split('\n').filter((line) => line.includes('warning'));
  assert.equal(warnings.length, 1, client.stderr);
  assert.match(warnings[0] ?? '', /^pinhole connect: warning: a link on the command line is visible to every user of this machine \(ps, shell history\); .*--link-file FILE/);

  // --allow-port does not lift the loopback ban: the 403 says which rule refused and which flag changes it.
  const loopback = await openTunnel({ proxy: { port }, target: `127.0.0.1:${origin.httpsPort}` });
  assert.equal(loopback.status, 403);
  assert.equal(loopback.headers['pinhole-error'], 'PINHOLE_DEST_FORBIDDEN');
  const body = loopback.body.toString();
  assert.match(body, /refused by the rule special-addresses \(--allow-port does not lift it\); the operator adds --restrict-to 127\.0\.0\.1:\d+/);
  const port19 = await openTunnel({ proxy: { port }, target: 'api.example.invalid:19443' });
  assert.equal(port19.status, 403);
  assert.match(port19.body.toString(), /refused by the rule allow-port .*adds --allow-port 19443/);
  await explainFailure(peers, async () => {
    const record = await gateway.program.waitForLog((r) => r['rule'] === 'allow-port', 20_000, 'the access record naming the rule');
    assert.match(String(record['reason']), /--allow-port 19443/);
    assert.ok(gateway.program.records.some((r) => r['rule'] === 'special-addresses' && /--restrict-to/.test(String(r['reason']))));
  });

  // forward from a link file: no warning; a link given to it directly: the warning.
  await writeFile(join(home, 'vendor.link'), `${link}\n`);
  const forward = new Program(pinholeBin, { name: 'pinhole forward', args: ['forward', '-L', `127.0.0.1:0:127.0.0.1:${origin.httpsPort}`, '--link-file', join(home, 'vendor.link'), '--log-format', 'json'], env });
  peers.add({ program: forward, stop: () => forward.stop('SIGTERM', 15_000) });
  await explainFailure(peers, () => forward.waitForLog((r) => r.msg === 'The forward is listening.', 60_000, 'the forward listening'));
  assert.doesNotMatch(forward.stderr, /warning/);
});

test('a chosen secrets file is remembered, and a managed profile is listed as managed and cannot be removed', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const home = await tempDir(t, 'pinhole-first-hour-');
  const managedFile = join(home, 'managed.yaml');
  const env = {
    ...process.env,
    PINHOLE_CONFIG_DIR: join(home, 'config'),
    PINHOLE_MANAGED_FILE: managedFile,
    PINHOLE_SECRETS_PASSPHRASE: 'a long passphrase for the test',
    DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent',
  };
  const gateway = peers.add(await startGateway());
  const link = await gateway.provision();
  await writeFile(join(home, 'vendor.link'), `${link}\n`);
  const secrets = join(home, 'secrets.enc.json');
  const imported = await runCommand(pinholeBin, { args: ['profile', 'import', '--link-file', join(home, 'vendor.link'), '--name', 'Vendor', '--secrets-file', secrets], env });
  assert.equal(imported.code, 0, imported.stderr);
  assert.doesNotMatch(imported.stderr, /warning/);
  const settings = JSON.parse(await readFile(join(home, 'config', 'config.json'), 'utf8')) as { settings: { secretsFile?: string } };
  assert.equal(settings.settings.secretsFile, secrets);
  // No --secrets-file this time: the remembered one opens the password.
  const client = startConnect(peers, ['Vendor'], env);
  await explainFailure(peers, () => client.waitForLog((r) => r.msg === 'The local proxy is listening.', 60_000, 'the listening line'));

  await writeFile(managedFile, `profiles:\n  - name: Acme cloud\n    gateway: 127.0.0.1:${gateway.port}\n    pin: ${gateway.fingerprint}\nsupportUrl: https://help.example.com/vpn\n`);
  const listed = await runCommand(pinholeBin, { args: ['profile', 'list'], env });
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /Acme cloud \(managed\)/);
  assert.match(listed.stdout, /Vendor/);
  const removed = await runCommand(pinholeBin, { args: ['profile', 'remove', 'Acme cloud'], env });
  assert.equal(removed.code, 2, removed.stdout + removed.stderr);
  assert.equal(
    removed.stderr.trim(),
    `pinhole profile: The profile "Acme cloud" is set by your administrator's managed configuration (${managedFile}) and cannot be changed here; ask your administrator (https://help.example.com/vpn). (PINHOLE_MANAGED_LOCKED)`,
  );
  await writeFile(managedFile, 'profiles:\n  - name: Acme cloud\n    gateway: 127.0.0.1:1\n    password: hunter2\n');
  const malformed = await runCommand(pinholeBin, { args: ['profile', 'list'], env });
  assert.equal(malformed.code, 0);
  assert.equal(malformed.stderr.trim().split('\n').length, 1);
  assert.match(malformed.stderr, new RegExp(`^pinhole profile: The managed configuration ${managedFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid: field profiles\\.0\\.password would hold a secret`));
});
