import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandRunner } from '../sysproxy/types.js';
import { MacAppLookup, parseLsofFields, parsePsComm, pickLsofClient } from './macos.js';
import { displayName } from './types.js';
import { owningProcessScript, parseOwningProcess, parseProcessJson, WindowsAppLookup } from './windows.js';

const ENDS = { clientAddress: '127.0.0.1', clientPort: 54321, proxyAddress: '127.0.0.1', proxyPort: 8080 };

// Recorded: `lsof -nP -iTCP@127.0.0.1:54321 -Fpcn` on macOS 14 while Chrome talked to the local proxy (pid 777).
const LSOF = ['p512', 'cGoogle Chrome He', 'f23', 'n127.0.0.1:54321->127.0.0.1:8080', 'p777', 'cnode', 'f31', 'n127.0.0.1:8080->127.0.0.1:54321', ''].join('\n');
const PS = '/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/120.0.6099.129/Helpers/Google Chrome Helper.app/Contents/MacOS/Google Chrome Helper\n';

// Recorded on Windows 11 (PowerShell 5.1).
const OWNING = '\r\n8840\r\n';
const OWNING_TABLE = 'OwningProcess\r\n-------------\r\n         8840\r\n';
const PROCESS = '{"Id":8840,"ProcessName":"curl","Path":"C:\\\\Windows\\\\System32\\\\curl.exe"}\r\n';

const recorded = (answers: Record<string, string>, calls: string[][]): CommandRunner => (file, args) => {
  calls.push([file, ...args]);
  const key = Object.keys(answers).find((k) => [file, ...args].join(' ').includes(k));
  if (key === undefined) return Promise.reject(new Error(`unexpected command ${file} ${args.join(' ')}`));
  return Promise.resolve({ stdout: answers[key] ?? '', stderr: '' });
};

test('lsof -F output: the socket whose local end is the client belongs to the app, not our own proxy', () => {
  const sockets = parseLsofFields(LSOF);
  assert.deepEqual(sockets, [
    { pid: 512, command: 'Google Chrome He', name: '127.0.0.1:54321->127.0.0.1:8080' },
    { pid: 777, command: 'node', name: '127.0.0.1:8080->127.0.0.1:54321' },
  ]);
  assert.equal(pickLsofClient(sockets, ENDS, 777)?.pid, 512);
  assert.equal(pickLsofClient(sockets.slice(1), ENDS, 777), undefined);
  assert.equal(parsePsComm(PS)?.endsWith('/MacOS/Google Chrome Helper'), true);
  assert.equal(parsePsComm('\n'), undefined);
  assert.deepEqual(parseLsofFields('pX\ncfoo\nnbar\n'), []);
});

test('macOS lookup: lsof then ps, with the outer app bundle as the display name, cached per pid', async () => {
  const calls: string[][] = [];
  const lookup = new MacAppLookup(recorded({ lsof: LSOF, ps: PS }, calls), 777);
  const app = await lookup.forConnection(ENDS);
  assert.equal(app?.pid, 512);
  assert.equal(app?.name, 'Google Chrome', 'a helper inside an app bundle shows as the app');
  assert.deepEqual(calls[0], ['lsof', '-nP', '-iTCP@127.0.0.1:54321', '-Fpcn']);
  await lookup.forConnection(ENDS);
  assert.equal(calls.filter((c) => c[0] === 'ps').length, 1);
  const failing = new MacAppLookup(() => Promise.reject(new Error('exit 1')), 777);
  assert.equal(await failing.forConnection(ENDS), undefined);
});

test('Get-NetTCPConnection and Get-Process output parse to the owning app', () => {
  assert.equal(parseOwningProcess(OWNING), 8840);
  assert.equal(parseOwningProcess(OWNING_TABLE), 8840);
  assert.equal(parseOwningProcess('0\r\n'), undefined);
  assert.equal(parseOwningProcess(''), undefined);
  assert.deepEqual(parseProcessJson(PROCESS), { pid: 8840, path: 'C:\\Windows\\System32\\curl.exe', name: 'curl.exe' });
  assert.deepEqual(parseProcessJson('[{"Id":4,"ProcessName":"System","Path":null}]'), { pid: 4, path: 'System', name: 'System' });
  for (const bad of ['', 'not json', '{"ProcessName":"x"}', 'null']) assert.equal(parseProcessJson(bad), undefined, bad);
  assert.match(owningProcessScript(ENDS), /-LocalPort 54321 -RemotePort 8080/);
  assert.throws(() => owningProcessScript({ ...ENDS, clientPort: Number.NaN }));
});

test('Windows lookup: two PowerShell calls with argument arrays', async () => {
  const calls: string[][] = [];
  const lookup = new WindowsAppLookup(recorded({ 'Get-NetTCPConnection': OWNING, 'Get-Process': PROCESS }, calls));
  const app = await lookup.forConnection(ENDS);
  assert.equal(app?.path, 'C:\\Windows\\System32\\curl.exe');
  assert.equal(calls[0]?.[0], 'powershell.exe');
  assert.ok(calls[0]?.includes('-NoProfile'));
});

test('display names: the .app bundle on macOS, else the file name', () => {
  assert.equal(displayName('/Applications/Safari.app/Contents/MacOS/Safari'), 'Safari');
  assert.equal(displayName('/usr/bin/curl'), 'curl');
  assert.equal(displayName('C:\\Program Files\\Mozilla Firefox\\firefox.exe'), 'firefox.exe');
});
