import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKdeAdapter, kdeProxyUrl } from './kde.js';
import { recordedRunner } from './recorded-runner.js';

const key = (version: number, k: string): string => `kreadconfig${version} --file kioslaverc --group Proxy Settings --key ${k}`;

// What kreadconfig5 prints for a Plasma 5 desktop whose company set a PAC script (no manual proxy).
const recorded = (version: 5 | 6) =>
  recordedRunner()
    .on(key(version, 'ProxyType'), '2\n')
    .on(key(version, 'httpProxy'), '\n')
    .on(key(version, 'httpsProxy'), '\n')
    .on(key(version, 'Proxy Config Script'), 'http://wpad.corp.example/wpad.dat\n')
    .on(key(version, 'NoProxyFor'), '\n');

test('the KDE snapshot reads kioslaverc key by key; an empty answer means the key is absent', async () => {
  const runner = recorded(5);
  const snapshot = await createKdeAdapter({ runner: runner.run, version: 5 }).snapshot();
  assert.deepEqual(snapshot, {
    adapter: 'kde5',
    fields: { ProxyType: '2', httpProxy: null, httpsProxy: null, 'Proxy Config Script': 'http://wpad.corp.example/wpad.dat', NoProxyFor: null },
  });
  assert.deepEqual(runner.calls[0], { file: 'kreadconfig5', args: ['--file', 'kioslaverc', '--group', 'Proxy Settings', '--key', 'ProxyType'] });
});

test('manual mode on Plasma 6 writes with kwriteconfig6, ProxyType last, then sends the reparse signal', async () => {
  const runner = recorded(6);
  await createKdeAdapter({ runner: runner.run, version: 6 }).apply({ mode: 'manual', host: '127.0.0.1', port: 18080, bypass: ['localhost', '127.0.0.0/8', '::1'] });
  const base = ['--file', 'kioslaverc', '--group', 'Proxy Settings', '--key'];
  assert.deepEqual(runner.calls.slice(5), [
    { file: 'kwriteconfig6', args: [...base, 'httpProxy', 'http://127.0.0.1 18080'] },
    { file: 'kwriteconfig6', args: [...base, 'httpsProxy', 'http://127.0.0.1 18080'] },
    { file: 'kwriteconfig6', args: [...base, 'NoProxyFor', 'localhost,127.0.0.0/8,::1'] },
    { file: 'kwriteconfig6', args: [...base, 'ProxyType', '1'] },
    { file: 'dbus-send', args: ['--type=signal', '/KIO/Scheduler', 'org.kde.KIO.Scheduler.reparseSlaveConfiguration', "string:''"] },
  ]);
});

test('PAC mode on KDE sets the config script and ProxyType 2', async () => {
  const runner = recorded(5);
  await createKdeAdapter({ runner: runner.run }).apply({ mode: 'pac', pacUrl: 'http://127.0.0.1:18080/proxy.pac' });
  assert.deepEqual(
    runner.calls.slice(5).map((c) => [c.file, c.args.at(-2), c.args.at(-1)]),
    [
      ['kwriteconfig5', 'Proxy Config Script', 'http://127.0.0.1:18080/proxy.pac'],
      ['kwriteconfig5', 'ProxyType', '2'],
      ['dbus-send', 'org.kde.KIO.Scheduler.reparseSlaveConfiguration', "string:''"],
    ],
  );
});

test('restoring an absent KDE key deletes it; restoring nothing sends no signal', async () => {
  const runner = recordedRunner();
  const kde = createKdeAdapter({ runner: runner.run });
  await kde.restore({ adapter: 'kde5', fields: {} });
  assert.equal(runner.calls.length, 0);
  await kde.restore({ adapter: 'kde5', fields: { ProxyType: '0', httpProxy: null } });
  assert.deepEqual(
    runner.calls.map((c) => [c.file, ...(c.file === 'dbus-send' ? c.args.slice(1) : c.args.slice(5))]),
    [
      ['kwriteconfig5', 'httpProxy', '--delete'],
      ['kwriteconfig5', 'ProxyType', '0'],
      ['dbus-send', '/KIO/Scheduler', 'org.kde.KIO.Scheduler.reparseSlaveConfiguration', "string:''"],
    ],
  );
});

test('KDE proxy URLs put the port after a space and bracket IPv6', () => {
  assert.equal(kdeProxyUrl('127.0.0.1', 8080), 'http://127.0.0.1 8080');
  assert.equal(kdeProxyUrl('::1', 8080), 'http://[::1] 8080');
});
