import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { createLogger } from '../../shared/log.js';
import { CHANGED_OUTSIDE_MESSAGE, applySystemProxy, restoreStaleSystemProxy } from './index.js';
import { createMemoryAdapter } from './memory-adapter.js';
import { stateFilePath, writeState } from './state.js';

const INITIAL = { 'wifi mode': 'pac', 'wifi server': null, 'wifi pac': 'http://wpad.corp.example/wpad.dat', 'wifi bypass': '*.corp' };

const setup = (t: { after: (fn: () => void) => void }) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'pinhole-sysproxy-unit-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ name: 'test', destination });
  const adapter = createMemoryAdapter(INITIAL);
  const base = { host: '127.0.0.1', port: 18080, logger, adapter, stateDir, watchdog: false, checkEveryMs: 0 };
  return { stateDir, lines, adapter, base, file: stateFilePath(stateDir) };
};

test('what was there is saved on disk before the first setting changes, and restore puts it back', async (t) => {
  const { adapter, base, file } = setup(t);
  let savedAtFirstWrite: unknown;
  adapter.onWrite = () => {
    savedAtFirstWrite ??= JSON.parse(readFileSync(file, 'utf8'));
  };
  const session = await applySystemProxy({ ...base, mode: 'manual', bypass: ['intranet.corp'] });
  const saved = savedAtFirstWrite as { snapshot: unknown; ownerPid: number; sessionId: string };
  assert.deepEqual(saved.snapshot, INITIAL);
  assert.equal(saved.ownerPid, process.pid);
  assert.equal(saved.sessionId, session.sessionId);
  assert.deepEqual(adapter.fields, {
    'wifi mode': 'manual',
    'wifi server': '127.0.0.1:18080',
    'wifi pac': 'http://wpad.corp.example/wpad.dat',
    'wifi bypass': 'localhost,127.0.0.0/8,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,*.local,intranet.corp',
  });
  assert.equal(await session.check(), 'ours');
  await session.restore();
  await session.restore();
  assert.deepEqual(adapter.fields, INITIAL);
  assert.equal(existsSync(file), false);
  assert.equal(session.restored, true);
});

test('PAC mode points the system at the local proxy PAC file by default', async (t) => {
  const { adapter, base } = setup(t);
  const session = await applySystemProxy({ ...base, mode: 'pac' });
  assert.equal(adapter.fields['wifi pac'], 'http://127.0.0.1:18080/proxy.pac');
  assert.equal(adapter.fields['wifi mode'], 'pac');
  await session.restore();
  assert.deepEqual(adapter.fields, INITIAL);
});

test('an outside change is reported once, never fought, and re-applying then restoring brings back that change', async (t) => {
  const { adapter, base, lines } = setup(t);
  const session = await applySystemProxy({ ...base, mode: 'manual' });
  const seen: string[][] = [];
  const dispose = session.onChangedOutside((fields) => seen.push(fields));
  adapter.fields['wifi server'] = 'other.example:3128';
  const writesBefore = adapter.writes.length;
  assert.equal(await session.check(), 'changed-outside');
  assert.equal(await session.check(), 'changed-outside');
  assert.deepEqual(seen, [['wifi server']]);
  assert.equal(lines.filter((l) => l.msg === CHANGED_OUTSIDE_MESSAGE).length, 1);
  assert.equal(adapter.writes.length, writesBefore, 'Pinhole did not write anything back');

  await session.reapply();
  assert.equal(adapter.fields['wifi server'], '127.0.0.1:18080');
  assert.equal(await session.check(), 'ours');
  dispose();
  await session.restore();
  assert.deepEqual(adapter.fields, { ...INITIAL, 'wifi server': 'other.example:3128' });
});

test('a change the user made while connected survives the restore; the rest comes back', async (t) => {
  const { adapter, base } = setup(t);
  const session = await applySystemProxy({ ...base, mode: 'manual' });
  adapter.fields['wifi bypass'] = 'user.list';
  await session.restore();
  assert.deepEqual(adapter.fields, { ...INITIAL, 'wifi bypass': 'user.list' });
});

test('a half-applied change is undone and reported with a code', async (t) => {
  const { adapter, base, file } = setup(t);
  adapter.failAfter = 2;
  await assert.rejects(applySystemProxy({ ...base, mode: 'manual' }), { code: 'PINHOLE_SYSTEM_PROXY_FAILED' });
  assert.deepEqual(adapter.fields, INITIAL, 'the two settings already written were put back');
  assert.equal(adapter.writes.length, 4);
  assert.equal(existsSync(file), false);
});

test('network settings that appear while connected get the proxy too and are restored at the end', async (t) => {
  const { adapter, base } = setup(t);
  const session = await applySystemProxy({ ...base, mode: 'manual' });
  adapter.fields['dock mode'] = 'none';
  adapter.fields['dock server'] = null;
  await session.refresh();
  assert.equal(adapter.fields['dock mode'], 'manual');
  assert.equal(adapter.fields['dock server'], '127.0.0.1:18080');
  await session.restore();
  assert.deepEqual(adapter.fields, { ...INITIAL, 'dock mode': 'none', 'dock server': null });
});

test("at startup a dead Pinhole's leftover proxy is restored; a live one's is left alone", async (t) => {
  const { adapter, base, stateDir, file } = setup(t);
  assert.equal(await restoreStaleSystemProxy({ logger: base.logger, stateDir, adapter }), 'nothing');
  const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
  const applied = { 'wifi mode': 'manual', 'wifi server': '127.0.0.1:18080' };
  Object.assign(adapter.fields, applied);
  const state = {
    version: 1 as const,
    adapter: 'memory',
    snapshot: INITIAL,
    applied,
    settings: { mode: 'manual' as const, host: '127.0.0.1', port: 18080, bypass: [] },
    ownerPid: process.pid,
    sessionId: 'live',
    time: new Date().toISOString(),
  };
  await writeState(file, state);
  assert.equal(await restoreStaleSystemProxy({ logger: base.logger, stateDir, adapter }), 'owner-alive');
  assert.equal(adapter.fields['wifi mode'], 'manual');
  await writeState(file, { ...state, ownerPid: deadPid, sessionId: 'dead' });
  assert.equal(await restoreStaleSystemProxy({ logger: base.logger, stateDir, adapter }), 'restored');
  assert.deepEqual(adapter.fields, INITIAL);
  assert.equal(existsSync(file), false);
});
