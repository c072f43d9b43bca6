import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createGnomeAdapter, parseGsettingsList } from './gnome.js';
import { recordedRunner } from './recorded-runner.js';

// Recorded from `gsettings list-recursively org.gnome.system.proxy` on Debian 12 (GLib 2.74),
// after a company set a PAC URL.
const RECORDED = `org.gnome.system.proxy autoconfig-url 'http://wpad.corp.example/wpad.dat'
org.gnome.system.proxy ignore-hosts ['localhost', '127.0.0.0/8', '::1']
org.gnome.system.proxy mode 'auto'
org.gnome.system.proxy use-same-proxy true
org.gnome.system.proxy.ftp host ''
org.gnome.system.proxy.ftp port 0
org.gnome.system.proxy.http authentication-password ''
org.gnome.system.proxy.http authentication-user ''
org.gnome.system.proxy.http enabled false
org.gnome.system.proxy.http host ''
org.gnome.system.proxy.http port 8080
org.gnome.system.proxy.http use-authentication false
org.gnome.system.proxy.https host ''
org.gnome.system.proxy.https port 0
org.gnome.system.proxy.socks host ''
org.gnome.system.proxy.socks port 0
`;

const BYPASS = ['localhost', '127.0.0.0/8', '::1', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '*.local'];

test('the GNOME snapshot keeps the managed keys exactly as gsettings printed them', () => {
  assert.deepEqual(parseGsettingsList(RECORDED), {
    'org.gnome.system.proxy autoconfig-url': "'http://wpad.corp.example/wpad.dat'",
    'org.gnome.system.proxy ignore-hosts': "['localhost', '127.0.0.0/8', '::1']",
    'org.gnome.system.proxy mode': "'auto'",
    'org.gnome.system.proxy use-same-proxy': 'true',
    'org.gnome.system.proxy.http host': "''",
    'org.gnome.system.proxy.http port': '8080',
    'org.gnome.system.proxy.https host': "''",
    'org.gnome.system.proxy.https port': '0',
    'org.gnome.system.proxy.socks host': "''",
  });
});

test('manual mode on GNOME sets http, https and the bypass list, and switches the mode last', async () => {
  const runner = recordedRunner().on('gsettings list-recursively org.gnome.system.proxy', RECORDED);
  await createGnomeAdapter({ runner: runner.run }).apply({ mode: 'manual', host: '127.0.0.1', port: 18080, bypass: BYPASS });
  assert.deepEqual(runner.calls, [
    { file: 'gsettings', args: ['list-recursively', 'org.gnome.system.proxy'] },
    { file: 'gsettings', args: ['set', 'org.gnome.system.proxy.http', 'host', "'127.0.0.1'"] },
    { file: 'gsettings', args: ['set', 'org.gnome.system.proxy.http', 'port', '18080'] },
    { file: 'gsettings', args: ['set', 'org.gnome.system.proxy.https', 'host', "'127.0.0.1'"] },
    { file: 'gsettings', args: ['set', 'org.gnome.system.proxy.https', 'port', '18080'] },
    { file: 'gsettings', args: ['set', 'org.gnome.system.proxy.socks', 'host', "''"] },
    { file: 'gsettings', args: ['set', 'org.gnome.system.proxy', 'use-same-proxy', 'true'] },
    {
      file: 'gsettings',
      args: ['set', 'org.gnome.system.proxy', 'ignore-hosts', "['localhost', '127.0.0.0/8', '::1', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '*.local']"],
    },
    { file: 'gsettings', args: ['set', 'org.gnome.system.proxy', 'mode', "'manual'"] },
  ]);
});

test('PAC mode on GNOME sets the autoconfig URL, then mode auto', async () => {
  const runner = recordedRunner().on('gsettings list-recursively org.gnome.system.proxy', RECORDED);
  await createGnomeAdapter({ runner: runner.run }).apply({ mode: 'pac', pacUrl: 'http://127.0.0.1:18080/proxy.pac' });
  assert.deepEqual(runner.calls.slice(1), [
    { file: 'gsettings', args: ['set', 'org.gnome.system.proxy', 'autoconfig-url', "'http://127.0.0.1:18080/proxy.pac'"] },
    { file: 'gsettings', args: ['set', 'org.gnome.system.proxy', 'mode', "'auto'"] },
  ]);
});

test('restoring on GNOME writes the recorded text back verbatim, mode last', async () => {
  const runner = recordedRunner();
  await createGnomeAdapter({ runner: runner.run }).restore({
    adapter: 'gnome',
    fields: {
      'org.gnome.system.proxy mode': "'auto'",
      'org.gnome.system.proxy autoconfig-url': "'http://wpad.corp.example/wpad.dat'",
      'org.gnome.system.proxy ignore-hosts': '@as []',
    },
  });
  assert.deepEqual(
    runner.calls.map((c) => c.args),
    [
      ['set', 'org.gnome.system.proxy', 'autoconfig-url', "'http://wpad.corp.example/wpad.dat'"],
      ['set', 'org.gnome.system.proxy', 'ignore-hosts', '@as []'],
      ['set', 'org.gnome.system.proxy', 'mode', "'auto'"],
    ],
  );
});

test('a machine without the GNOME proxy schema is reported, not guessed', async () => {
  const runner = recordedRunner().on('gsettings list-recursively org.gnome.system.proxy', '');
  await assert.rejects(createGnomeAdapter({ runner: runner.run }).read(), { code: 'PINHOLE_SYSTEM_PROXY_FAILED' });
});
