/**
 * The system proxy on a real GNOME settings store: each scenario runs in its own desktop
 * session (fresh HOME, private bus), so `gsettings` reaches a private dconf, and real holder
 * processes play Pinhole (see sysproxy-gnome.scenario.ts). Nothing here touches the machine's
 * own settings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startDesktopSession } from '../support/desktop-session.js';
import { runCommand } from '../support/processes.js';

const scenarioFile = fileURLToPath(new URL('./sysproxy-gnome.scenario.ts', import.meta.url));

type Proxy = Record<string, string>;

const runScenario = async (t: { after: (fn: () => unknown) => void }, name: string): Promise<Record<string, unknown>> => {
  const session = await startDesktopSession({ name: 'sysproxy', desktop: 'gnome' });
  t.after(() => session.stop());
  const { code, stdout, stderr } = await runCommand(process.execPath, { args: ['--import', 'tsx', scenarioFile, name], env: session.env, timeoutMs: 120_000 });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `scenario ${name} printed no result (exit ${code}):\n${stdout}\n${stderr}`);
  assert.equal(code, 0, stderr);
  return JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>;
};

const OURS = {
  'proxy mode': "'manual'",
  'proxy ignore-hosts': "['localhost', '127.0.0.0/8', '::1', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '*.local']",
  'proxy.http host': "'127.0.0.1'",
  'proxy.http port': '18080',
  'proxy.https host': "'127.0.0.1'",
  'proxy.https port': '18080',
};

test('connecting points GNOME at Pinhole, and SIGTERM puts back exactly what was there', async (t) => {
  const r = await runScenario(t, 'sigterm');
  const before = r.before as Proxy;
  assert.equal(before['proxy mode'], "'none'");
  assert.deepEqual(r.during, { ...before, ...OURS });
  assert.equal(r.stateDuring, true, 'the previous settings are saved while connected');
  assert.deepEqual(r.exit, { code: 0, signal: null });
  assert.deepEqual(r.after, before);
  assert.equal(r.stateAfter, false, 'the saved state is removed once restored');
});

test('after kill -9 the watchdog restores a corporate proxy within 5 seconds', async (t) => {
  const r = await runScenario(t, 'kill9');
  const before = r.before as Proxy;
  assert.equal(before['proxy.http host'], "'proxy.corp.example'");
  assert.deepEqual(r.during, { ...before, ...OURS });
  assert.deepEqual(r.exit, { code: null, signal: 'SIGKILL' });
  assert.equal(r.restoredWithin5s, true, `not restored within 5 s: ${JSON.stringify(r.after)}`);
  assert.deepEqual(r.after, before);
  assert.equal(r.watchdogGone, true, 'the watchdog exits after restoring');
  assert.equal(r.stateAfter, false);
});

test("a company's PAC URL set before connecting comes back exactly", async (t) => {
  const r = await runScenario(t, 'pac');
  const before = r.before as Proxy;
  assert.equal(before['proxy mode'], "'auto'");
  assert.equal(before['proxy autoconfig-url'], "'http://wpad.corp.example/wpad.dat'");
  assert.deepEqual(r.during, { ...before, 'proxy autoconfig-url': "'http://127.0.0.1:18080/proxy.pac'" });
  assert.deepEqual(r.after, before);
});

test('a proxy host the user set while connected is not overwritten on restore', async (t) => {
  const r = await runScenario(t, 'user-change');
  const before = r.before as Proxy;
  assert.deepEqual(r.during, { ...before, ...OURS });
  assert.deepEqual(r.after, { ...before, 'proxy.http host': "'user.example'" });
});

test("a second connect right after a restore is not undone by the first session's watchdog", async (t) => {
  const r = await runScenario(t, 'second-connect');
  const before = r.before as Proxy;
  assert.deepEqual(r.afterFirst, before);
  const second = { ...before, ...OURS, 'proxy.http port': '18081', 'proxy.https port': '18081' };
  assert.deepEqual(r.duringSecond, second);
  assert.equal(r.firstWatchdogGone, true, "the first session's watchdog stops by itself");
  assert.deepEqual(r.secondStill, second);
  assert.equal(r.secondWatchdogAlive, true);
  assert.deepEqual(r.after, before);
});

test('a fatal process.exit() still puts the proxy back before the process is gone, without the watchdog', async (t) => {
  const r = await runScenario(t, 'exit');
  const before = r.before as Proxy;
  assert.deepEqual(r.during, { ...before, ...OURS });
  assert.deepEqual(r.exit, { code: 3, signal: null });
  assert.deepEqual(r.after, before);
  assert.equal(r.watchdogHadToRestore, false);
  assert.equal(r.watchdogGone, true);
  assert.equal(r.stateAfter, false);
});

test('after a power cut (Pinhole and its watchdog both gone) the next start restores the old settings', async (t) => {
  const r = await runScenario(t, 'power-cut');
  const before = r.before as Proxy;
  assert.deepEqual(r.stale, { ...before, ...OURS }, 'nothing was left running to restore it');
  assert.equal(r.stateStale, true);
  assert.deepEqual(r.nextStart, { outcome: 'restored' });
  assert.deepEqual(r.after, before);
  assert.equal(r.stateAfter, false);
});
