import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createLogger } from '../../shared/log.js';
import { createMemoryAdapter } from './memory-adapter.js';
import { stateFilePath, writeState, type SystemProxyState } from './state.js';
import { runWatchdog } from './watchdog.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const BEFORE = { mode: 'none', server: null };
const OURS = { mode: 'manual', server: '127.0.0.1:18080' };

const fixture = async (t: { after: (fn: () => void) => void }, ownerPid: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinhole-watchdog-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = stateFilePath(dir);
  const state: SystemProxyState = {
    version: 1,
    adapter: 'memory',
    snapshot: BEFORE,
    applied: OURS,
    settings: { mode: 'manual', host: '127.0.0.1', port: 18080, bypass: [] },
    ownerPid,
    sessionId: 'first',
    time: new Date().toISOString(),
  };
  await writeState(file, state);
  const adapter = createMemoryAdapter(OURS);
  return { file, state, adapter };
};

test('when the owner is gone the watchdog restores from the state file and removes it', async (t) => {
  const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
  const { file, adapter } = await fixture(t, deadPid);
  const outcome = await runWatchdog({ stateFile: file, ownerPid: deadPid, sessionId: 'first', logger, intervalMs: 10, adapterFor: () => adapter });
  assert.equal(outcome, 'restored');
  assert.deepEqual(adapter.fields, BEFORE);
  assert.equal(existsSync(file), false);
});

test("the watchdog stands down when a newer session's state replaces its own, even after its owner died", async (t) => {
  const { file, state, adapter } = await fixture(t, process.pid);
  const watching = runWatchdog({ stateFile: file, ownerPid: process.pid, sessionId: 'first', logger, intervalMs: 10, adapterFor: () => adapter });
  await writeState(file, { ...state, sessionId: 'second', ownerPid: 999_999_999 });
  assert.equal(await watching, 'superseded');
  assert.deepEqual(adapter.writes, []);
  assert.equal(existsSync(file), true, "the newer session's state is kept");
});
