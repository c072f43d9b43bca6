/**
 * `pinhole connect LINK --system-proxy` on a real GNOME settings store (a private dconf in its own
 * D-Bus session): a Pinhole that died earlier left its proxy set, so this start first puts the
 * settings back, then points GNOME at its own local proxy, and SIGTERM restores what was there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stateFilePath, writeState } from '../../main/sysproxy/state.js';
import { startGateway } from '../support/gateway.js';
import { startOrigin } from '../support/origin.js';
import { explainFailure, listenPortOf, Peers, pinholeBin, Program } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';

const READ = 'echo "$1: mode=$(gsettings get org.gnome.system.proxy mode) host=$(gsettings get org.gnome.system.proxy.http host) port=$(gsettings get org.gnome.system.proxy.http port)"';

const SESSION_SCRIPT = [
  'set -u',
  'bus=$(dbus-daemon --session --fork --print-address=1 --print-pid=1) || exit 1',
  'export DBUS_SESSION_BUS_ADDRESS=$(printf "%s\\n" "$bus" | sed -n 1p)',
  'bus_pid=$(printf "%s\\n" "$bus" | sed -n 2p)',
  `show() { ${READ}; }`,
  // What the dead Pinhole had set (and recorded in its state file).
  "gsettings set org.gnome.system.proxy.http host 'stale.left.behind' && gsettings set org.gnome.system.proxy mode 'manual' || { kill -TERM $bus_pid; exit 3; }",
  'show left-behind',
  '"$0" connect "$1" --listen 127.0.0.1:0 --system-proxy &',
  'child=$!',
  "trap 'kill -TERM $child 2>/dev/null' TERM INT",
  // Pinhole writes the mode last: once it says manual with our host, the whole change is in.
  'for i in $(seq 1 200); do [ "$(gsettings get org.gnome.system.proxy.http host) $(gsettings get org.gnome.system.proxy mode)" = "\'127.0.0.1\' \'manual\'" ] && break; sleep 0.1; done',
  'show during',
  'wait $child; status=$?',
  'if kill -0 $child 2>/dev/null; then wait $child; status=$?; fi',
  'show after',
  'kill -TERM $bus_pid 2>/dev/null',
  'exit $status',
].join('\n');

test('connect --system-proxy repairs what a crashed Pinhole left, points GNOME at itself, and SIGTERM puts the settings back', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const origin = peers.add(await startOrigin());
  const gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.httpsPort}`] }));
  const link = await gateway.provision();
  const home = await mkdtemp(join(tmpdir(), 'pinhole-connect-sysproxy-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const configDir = join(home, 'pinhole');

  // A Pinhole process that is gone: its pid is a finished child's.
  const gone = spawnSync('true');
  assert.equal(gone.status, 0);
  await writeState(stateFilePath(configDir), {
    version: 1,
    adapter: 'gnome',
    snapshot: { 'org.gnome.system.proxy mode': "'none'", 'org.gnome.system.proxy.http host': "''" },
    applied: { 'org.gnome.system.proxy mode': "'manual'", 'org.gnome.system.proxy.http host': "'stale.left.behind'" },
    settings: { mode: 'manual', host: 'stale.left.behind', port: 1, bypass: [] },
    ownerPid: gone.pid,
    sessionId: 'crashed-session',
    time: new Date().toISOString(),
  });

  const program = new Program('bash', {
    name: 'pinhole connect --system-proxy',
    args: ['-c', SESSION_SCRIPT, pinholeBin, link],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_RUNTIME_DIR: home,
      PINHOLE_CONFIG_DIR: configDir,
      PINHOLE_DESKTOP: 'gnome',
      GSETTINGS_BACKEND: 'dconf',
      LANG: 'C.UTF-8',
    },
  });
  peers.add({ program, stop: () => program.stop('SIGTERM', 15_000) });

  await explainFailure(peers, async () => {
    const port = listenPortOf(await program.waitForLog((r) => r.msg === 'The local proxy is listening.', 60_000, 'the listening line'));
    assert.match(program.stdout, /left-behind: mode='manual' host='stale\.left\.behind'/);
    await program.waitForLog((r) => r.msg === 'A previous Pinhole left the system proxy set; putting it back.', 10_000, 'the stale settings being repaired');
    const during = await program.waitForLine((l) => l.text.startsWith('during:'), 30_000, 'the settings while connected');
    assert.equal(during.text, `during: mode='manual' host='127.0.0.1' port=${port}`);
    assert.ok(existsSync(stateFilePath(configDir)), 'the settings from before are saved while connected');

    const res = await requestThroughProxy({ proxy: { port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
    assert.equal(res.status, 200);

    assert.deepEqual(await program.stop('SIGTERM', 15_000), { code: 0, signal: null });
    assert.match(program.stdout, /^after: mode='none' host='' port=\d+$/m, 'what was there before the crashed Pinhole is back');
    assert.ok(!existsSync(stateFilePath(configDir)), 'the saved state is removed once restored');
  });
});
