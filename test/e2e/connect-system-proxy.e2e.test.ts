/**
 * `pinhole connect LINK --system-proxy` on a real GNOME settings store (a private dconf in its own
 * D-Bus session): a Pinhole that died earlier left its proxy set, so this start first puts the
 * settings back, then points GNOME at its own local proxy, and SIGTERM restores what was there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stateFilePath, writeState } from '../../main/sysproxy/state.js';
import { startDesktopSession, type DesktopSession } from '../support/desktop-session.js';
import { startGateway } from '../support/gateway.js';
import { startOrigin } from '../support/origin.js';
import { explainFailure, listenPortOf, Peers, pinholeBin, Program } from '../support/processes.js';
import { requestThroughProxy } from '../support/proxy-requests.js';

/** The GNOME proxy settings Pinhole changes, as `gsettings get` prints them. */
const proxySettings = async (session: DesktopSession): Promise<string> => {
  const mode = await session.gsettings('get', 'org.gnome.system.proxy', 'mode');
  const host = await session.gsettings('get', 'org.gnome.system.proxy.http', 'host');
  const port = await session.gsettings('get', 'org.gnome.system.proxy.http', 'port');
  return `mode=${mode} host=${host} port=${port}`;
};

test('connect --system-proxy repairs what a crashed Pinhole left, points GNOME at itself, and SIGTERM puts the settings back', async (t) => {
  const peers = new Peers();
  t.after(() => peers.close());
  const origin = peers.add(await startOrigin());
  const gateway = peers.add(await startGateway({ restrictTo: [`127.0.0.1:${origin.httpsPort}`] }));
  const link = await gateway.provision();
  const session = peers.add(await startDesktopSession({ name: 'connect-sysproxy', desktop: 'gnome' }));
  const configDir = session.configDir;

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

  // What the dead Pinhole had set (and recorded in its state file).
  await session.gsettings('set', 'org.gnome.system.proxy.http', 'host', "'stale.left.behind'");
  await session.gsettings('set', 'org.gnome.system.proxy', 'mode', "'manual'");
  assert.match(await proxySettings(session), /^mode='manual' host='stale\.left\.behind'/);

  const program = new Program(pinholeBin, {
    name: 'pinhole connect --system-proxy',
    args: ['connect', link, '--listen', '127.0.0.1:0', '--system-proxy'],
    env: session.env,
  });
  peers.add({ program, stop: () => program.stop('SIGTERM', 15_000) });

  await explainFailure(peers, async () => {
    const port = listenPortOf(await program.waitForLog((r) => r.msg === 'The local proxy is listening.', 60_000, 'the listening line'));
    await program.waitForLog((r) => r.msg === 'A previous Pinhole left the system proxy set; putting it back.', 10_000, 'the stale settings being repaired');
    // Pinhole logs this once every setting is written and read back.
    await program.waitForLog((r) => r.msg === 'The system proxy now points at Pinhole.', 30_000, 'the system proxy set');
    assert.equal(await proxySettings(session), `mode='manual' host='127.0.0.1' port=${port}`);
    assert.ok(existsSync(stateFilePath(configDir)), 'the settings from before are saved while connected');

    const res = await requestThroughProxy({ proxy: { port }, url: `https://127.0.0.1:${origin.httpsPort}/hello`, ca: origin.certificate.cert });
    assert.equal(res.status, 200);

    assert.deepEqual(await program.stop('SIGTERM', 15_000), { code: 0, signal: null });
    assert.match(await proxySettings(session), /^mode='none' host='' port=\d+$/, 'what was there before the crashed Pinhole is back');
    assert.ok(!existsSync(stateFilePath(configDir)), 'the saved state is removed once restored');
  });
});
