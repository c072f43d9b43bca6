import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDesktopSession } from './desktop-session.js';
import { runCommand, waitUntil } from './processes.js';

/** Running, not a zombie waiting for a parent that never reaps it (a container's PID 1). */
const running = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

const busAnswers = async (address: string): Promise<boolean> =>
  (await runCommand('dbus-send', { args: [`--bus=${address}`, '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.Peer.Ping'] })).code === 0;

test('a desktop session has its own HOME, bus, unlocked keyring and settings, and stop() leaves nothing behind', async (t) => {
  const session = await startDesktopSession({ name: 'desktop-session-test', keyring: true, desktop: 'gnome' });
  t.after(() => session.stop());
  const address = session.env.DBUS_SESSION_BUS_ADDRESS ?? '';
  assert.notEqual(address, process.env.DBUS_SESSION_BUS_ADDRESS, 'not the machine bus');
  assert.equal(session.env.HOME, session.home);
  assert.equal(session.env.PINHOLE_CONFIG_DIR, session.configDir);
  assert.equal(session.env.PINHOLE_DESKTOP, 'gnome');
  assert.ok(existsSync(session.configDir));

  // The keyring is unlocked: storing asks for no password, and the secret lands under this HOME.
  await session.run('secret-tool', ['store', '--label=desktop session test', 'service', 'pinhole-test', 'username', 'alice'], { stdin: 'S3cret-in-session' });
  assert.equal((await session.run('secret-tool', ['lookup', 'service', 'pinhole-test', 'username', 'alice'])).stdout, 'S3cret-in-session');
  assert.ok(existsSync(join(session.home, '.local', 'share', 'keyrings')), 'the keyring files are in the session HOME');

  await session.gsettings('set', 'org.gnome.system.proxy', 'mode', "'manual'");
  assert.equal(await session.gsettings('get', 'org.gnome.system.proxy', 'mode'), "'manual'");
  assert.ok(existsSync(join(session.home, '.config', 'dconf', 'user')), 'the settings are in the session HOME');

  const owner = await session.run('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/', 'org.freedesktop.DBus.GetConnectionUnixProcessID', 'string:org.freedesktop.secrets']);
  const keyringPid = Number(/uint32 (\d+)/.exec(owner.stdout)?.[1]);
  assert.ok(running(keyringPid), 'the keyring daemon runs on the session bus');
  assert.equal(await busAnswers(address), true);

  await session.stop();
  await session.stop();
  await waitUntil(() => !running(keyringPid), 5_000, 'the keyring daemon to be gone');
  assert.equal(await busAnswers(address), false, 'the bus is gone');
  assert.equal(existsSync(session.home), false, 'HOME is removed');
});

test('without the keyring option no Secret Service is started, and two sessions share nothing', async (t) => {
  const [first, second] = await Promise.all([startDesktopSession(), startDesktopSession()]);
  t.after(() => Promise.all([first.stop(), second.stop()]));
  assert.notEqual(first.home, second.home);
  assert.notEqual(first.env.DBUS_SESSION_BUS_ADDRESS, second.env.DBUS_SESSION_BUS_ADDRESS);
  const owner = await runCommand('dbus-send', { args: ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.secrets'], env: first.env });
  assert.match(owner.stdout, /boolean false/);
  await first.gsettings('set', 'org.gnome.system.proxy', 'mode', "'auto'");
  assert.equal(await second.gsettings('get', 'org.gnome.system.proxy', 'mode'), "'none'");
});
