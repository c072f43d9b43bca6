/**
 * The headless user's path with a stored profile: `pinhole profile import LINK` puts the password
 * in a real GNOME Keyring (its own D-Bus session bus, fresh HOME), and `pinhole connect NAME`
 * finds the profile, reads the password from the keyring and carries requests through the gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDesktopSession } from '../support/desktop-session.js';
import { startGateway } from '../support/gateway.js';
import { startOrigin } from '../support/origin.js';
import { explainFailure, listenPortOf, Peers, pinholeBin, Program, runCommand } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';

const filesUnder = async (dir: string): Promise<string[]> => {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
};

interface Session {
  program: Program;
  port: number;
  configDir: string;
  /** What `pinhole profile import` printed (stdout and stderr). */
  imported: string;
}

/** Imports `link` as "Vendor" into a fresh keyring, optionally sets app rules on it, and runs `pinhole connect Vendor` (or `pinhole connect`). */
const startSession = async (
  peers: Peers,
  link: string,
  { appRules, byName = true }: { appRules?: Record<string, string>; byName?: boolean } = {},
): Promise<Session> => {
  const session = peers.add(await startDesktopSession({ name: 'profile-connect', keyring: true }));
  const { stdout, stderr } = await session.run(pinholeBin, ['profile', 'import', link, '--name', 'Vendor']);
  const imported = `${stdout}\n${stderr}`;
  if (appRules) {
    // As the app's Apps page would: per-app rules set on the stored profile.
    const setRules = `const { ProfileStore } = await import('./main/profiles/store.ts'); const store = new ProfileStore(); store.save({ ...store.require('Vendor'), appRules: ${JSON.stringify(appRules)} });`;
    await session.run(process.execPath, ['--import', 'tsx', '-e', setRules]);
  }
  // No name: the default profile (the first one imported) is used.
  const program = new Program(pinholeBin, {
    name: 'pinhole connect Vendor',
    args: ['connect', ...(byName ? ['Vendor'] : []), '--listen', '127.0.0.1:0'],
    env: session.env,
  });
  peers.add({ program, stop: () => program.stop('SIGTERM', 15_000) });
  const port = await explainFailure(peers, async () =>
    listenPortOf(await program.waitForLog((r) => r.msg === 'The local proxy is listening.', 90_000, 'the listening line')),
  );
  return { program, port, configDir: session.configDir, imported };
};

test('a profile imported into the GNOME keyring connects by name and carries requests, the password read from the keyring', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const origin = peers.add(await startOrigin());
  const gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.httpsPort}`] }));
  const link = await gateway.provision();
  const { program, port, configDir, imported } = await startSession(peers, link);

  await explainFailure(peers, async () => {
    assert.match(imported, /Imported profile "Vendor" .*the password is stored in the GNOME Keyring \(Secret Service\)/);
    const connecting = await program.waitForLog((r) => r.msg === 'Connecting to the gateway.');
    assert.equal(connecting.user, gateway.users[0]?.name);
    const status = program.records.find((r) => r.state === 'connected');
    assert.ok(status, 'the client reached the connected state');

    const res = await requestThroughProxy({ proxy: { port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello from the origin\n');

    const password = gateway.users[0]?.password ?? '';
    assert.ok(password.length > 0);
    for (const file of await filesUnder(configDir)) assert.ok(!(await readFile(file)).includes(password), `${file} must not hold the password`);
    assert.ok(![imported, program.stdout, program.stderr].some((text) => text.includes(password)), 'the password is never printed');

    assert.deepEqual(await program.stop('SIGTERM', 15_000), { code: 0, signal: null }, 'SIGTERM stops it cleanly');
  });
});

test("the default profile's app rule blocks curl with a clear refusal naming it, while other apps pass", async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const origin = peers.add(await startOrigin());
  const gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.httpsPort}`] }));
  const link = await gateway.provision();
  const curl = realpathSync('/usr/bin/curl');
  const { program, port } = await startSession(peers, link, { appRules: { [curl]: 'block' }, byName: false });

  await explainFailure(peers, async () => {
    const blocked = await runCommand(curl, { args: ['-sS', '-k', '-D', '-', '-o', '/dev/null', '-x', `http://127.0.0.1:${port}`, `https://127.0.0.1:${origin.httpsPort}/hello`] });
    assert.match(blocked.stdout, /^HTTP\/1\.1 403 /m, `curl was refused by the local proxy:\n${blocked.stdout}\n${blocked.stderr}`);
    assert.match(blocked.stdout, /^Pinhole-Error: PINHOLE_APP_BLOCKED/im);
    const refusal = await program.waitForLog((r) => r.code === 'PINHOLE_APP_BLOCKED', 10_000, 'the refusal in the log');
    assert.equal(refusal.app, 'curl');

    assert.equal(program.records.find((r) => r.msg === 'Connecting to the gateway.')?.user, gateway.users[0]?.name, '`pinhole connect` without a name used the default profile');
    const allowed = await requestThroughProxy({ proxy: { port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
    assert.equal(allowed.status, 200, 'node (no rule) still goes through the tunnel');
  });
});
