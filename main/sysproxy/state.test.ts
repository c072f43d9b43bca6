import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { defaultStateDir, isOwnerAlive, planRestore, readState, removeStateIf, stateFilePath, writeState, type SystemProxyState } from './state.js';

const state = (over: Partial<SystemProxyState> = {}): SystemProxyState => ({
  version: 1,
  adapter: 'gnome',
  snapshot: { mode: "'auto'", url: "'http://wpad/'", host: "''" },
  applied: { mode: "'manual'", host: "'127.0.0.1'" },
  settings: { mode: 'manual', host: '127.0.0.1', port: 1, bypass: [] },
  ownerPid: process.pid,
  sessionId: 'a',
  time: new Date().toISOString(),
  ...over,
});

test('restore puts back only the fields that still hold what Pinhole set', () => {
  const table: Array<[Record<string, string | null>, ReturnType<typeof planRestore>]> = [
    [{ mode: "'manual'", host: "'127.0.0.1'", url: "'http://wpad/'" }, { restore: { mode: "'auto'", host: "''" }, changedOutside: [], gone: [] }],
    [{ mode: "'manual'", host: "'user.example'" }, { restore: { mode: "'auto'" }, changedOutside: ['host'], gone: [] }],
    [{ mode: "'none'", host: "'user.example'" }, { restore: {}, changedOutside: ['mode', 'host'], gone: [] }],
    [{ host: "'127.0.0.1'" }, { restore: { host: "''" }, changedOutside: [], gone: ['mode'] }],
  ];
  for (const [current, expected] of table) assert.deepEqual(planRestore(state(), current), expected);
});

test('the state file is written atomically, private, and read back whole', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinhole-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = stateFilePath(join(dir, 'pinhole'));
  await writeState(file, state());
  await writeState(file, state({ sessionId: 'b' }));
  assert.deepEqual(await readState(file), state({ sessionId: 'b', time: (await readState(file))?.time ?? '' }));
  assert.deepEqual(readdirSync(join(dir, 'pinhole')), ['sysproxy-state.json'], 'no temporary file is left behind');
  if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(await removeStateIf(file, 'a'), false, "another session's state is kept");
  assert.equal(await removeStateIf(file, 'b'), true);
  assert.equal(await readState(file), undefined);
});

test('the state folder follows PINHOLE_CONFIG_DIR, then XDG_CONFIG_HOME', () => {
  assert.equal(defaultStateDir({ PINHOLE_CONFIG_DIR: '/x/p', XDG_CONFIG_HOME: '/x/c' }), '/x/p');
  assert.equal(defaultStateDir({ XDG_CONFIG_HOME: '/x/c' }), '/x/c/pinhole');
});

test('an owner is dead when its pid is gone or when the machine rebooted since', () => {
  const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(exited.stdout);
  assert.equal(isOwnerAlive(state({ ownerPid: deadPid })), false);
  assert.equal(isOwnerAlive(state()), true);
  const now = Date.now();
  assert.equal(isOwnerAlive(state({ time: new Date(now - 3_600_000).toISOString() }), now, 60), false, 'written before the last boot');
});
