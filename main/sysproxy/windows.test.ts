import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INTERNET_SETTINGS_KEY, POWERSHELL_ARGS, createWindowsAdapter, parseRegQuery, windowsBypass } from './windows.js';
import { recordedRunner } from './recorded-runner.js';

// Recorded on Windows 11 23H2: `reg query "HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings"`
// on a machine whose company set a PAC URL.
const RECORDED = [
  '',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings',
  '    DisableCachingOfSSLPages    REG_DWORD    0x0',
  '    IE5_UA_Backup_Flag    REG_SZ    5.0',
  '    PrivacyAdvanced    REG_DWORD    0x1',
  '    SecureProtocols    REG_DWORD    0xa80',
  '    User Agent    REG_SZ    Mozilla/4.0 (compatible; MSIE 8.0; Win32)',
  '    CertificateRevocation    REG_DWORD    0x1',
  '    ZonesSecurityUpgrade    REG_BINARY    3C6EB3B1F0B2D901',
  '    ProxyEnable    REG_DWORD    0x0',
  '    AutoConfigURL    REG_SZ    http://wpad.corp.example/wpad.dat',
  '    ProxyOverride    REG_SZ    ',
  '',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\5.0',
  'HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\Connections',
  '',
].join('\r\n');

const KEY = INTERNET_SETTINGS_KEY;

test('reg query output parses into the four proxy values; a missing one is null', () => {
  assert.deepEqual(parseRegQuery(RECORDED), {
    ProxyEnable: 'REG_DWORD 0x0',
    ProxyServer: null,
    ProxyOverride: 'REG_SZ ',
    AutoConfigURL: 'REG_SZ http://wpad.corp.example/wpad.dat',
  });
});

test('manual mode on Windows writes the registry with argument arrays, then notifies WinINet', async () => {
  const runner = recordedRunner().on(`reg.exe query ${KEY}`, RECORDED);
  await createWindowsAdapter({ runner: runner.run }).apply({ mode: 'manual', host: '127.0.0.1', port: 18080, bypass: ['localhost', '127.0.0.0/8', '::1', '*.local'] });
  assert.deepEqual(runner.calls, [
    { file: 'reg.exe', args: ['query', KEY] },
    { file: 'reg.exe', args: ['add', KEY, '/v', 'ProxyServer', '/t', 'REG_SZ', '/d', '127.0.0.1:18080', '/f'] },
    { file: 'reg.exe', args: ['add', KEY, '/v', 'ProxyOverride', '/t', 'REG_SZ', '/d', 'localhost;127.*;[::1];*.local;<local>', '/f'] },
    { file: 'reg.exe', args: ['delete', KEY, '/v', 'AutoConfigURL', '/f'] },
    { file: 'reg.exe', args: ['add', KEY, '/v', 'ProxyEnable', '/t', 'REG_DWORD', '/d', '1', '/f'] },
    { file: 'powershell.exe', args: [...POWERSHELL_ARGS] },
  ]);
  const script = POWERSHELL_ARGS.at(-1) ?? '';
  assert.match(script, /InternetSetOption\(\[IntPtr\]::Zero, 39,/);
  assert.match(script, /InternetSetOption\(\[IntPtr\]::Zero, 37,/);
  assert.match(script, /Add-Type/);
});

test('PAC mode on Windows sets AutoConfigURL and turns the manual proxy off', async () => {
  const runner = recordedRunner().on(`reg.exe query ${KEY}`, RECORDED);
  await createWindowsAdapter({ runner: runner.run }).apply({ mode: 'pac', pacUrl: 'http://127.0.0.1:18080/proxy.pac' });
  assert.deepEqual(
    runner.calls.slice(1).map((c) => c.args),
    [['add', KEY, '/v', 'AutoConfigURL', '/t', 'REG_SZ', '/d', 'http://127.0.0.1:18080/proxy.pac', '/f'], ['add', KEY, '/v', 'ProxyEnable', '/t', 'REG_DWORD', '/d', '0', '/f'], [...POWERSHELL_ARGS]],
  );
});

test('restoring a value that did not exist deletes it, and a failed delete of an absent value is fine', async () => {
  const runner = recordedRunner().on(`reg.exe delete ${KEY} /v ProxyServer /f`, new Error('ERROR: The system was unable to find the specified registry key or value.'));
  await createWindowsAdapter({ runner: runner.run }).restore({ adapter: 'windows', fields: { ProxyServer: null, ProxyEnable: 'REG_DWORD 0x0' } });
  assert.deepEqual(
    runner.calls.map((c) => c.args[0]),
    ['delete', 'add', '-NoProfile'],
  );
});

test('the Windows bypass list turns local networks into WinINet wildcards and adds <local>', () => {
  const list = windowsBypass(['localhost', '127.0.0.0/8', '::1', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '*.local']).split(';');
  assert.deepEqual(list.slice(0, 5), ['localhost', '127.*', '[::1]', '10.*', '172.16.*']);
  assert.ok(list.includes('172.31.*') && !list.includes('172.32.*') && !list.includes('172.15.*'));
  assert.deepEqual(list.slice(-3), ['192.168.*', '*.local', '<local>']);
});
