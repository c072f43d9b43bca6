import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMacosAdapter, macField, parseAutoProxy, parseBypass, parseServices, parseWebProxy } from './macos.js';
import { recordedRunner } from './recorded-runner.js';

const NS = '/usr/sbin/networksetup';

// Recorded on macOS 14 (Sonoma): `networksetup -listallnetworkservices` and the per-service getters.
const SERVICES = `An asterisk (*) denotes that a network service is disabled.
USB 10/100/1000 LAN
Wi-Fi
*Bluetooth PAN
Thunderbolt Bridge
`;
const WEB_OFF = 'Enabled: No\nServer: \nPort: 0\nAuthenticated Proxy Enabled: 0\n';
const WEB_CORP = 'Enabled: Yes\nServer: proxy.corp.example\nPort: 3128\nAuthenticated Proxy Enabled: 0\n';
const AUTO_NONE = 'URL: (null)\nEnabled: No\n';
const AUTO_CORP = 'URL: http://wpad.corp.example/wpad.dat\nEnabled: Yes\n';
const NO_BYPASS = "There aren't any bypass domains set on Wi-Fi.\n";
const BYPASS = '*.local\n169.254/16\n';

const mac = () =>
  recordedRunner()
    .on(`${NS} -listallnetworkservices`, SERVICES)
    .on(`${NS} -getwebproxy Wi-Fi`, WEB_CORP)
    .on(`${NS} -getsecurewebproxy Wi-Fi`, WEB_CORP)
    .on(`${NS} -getautoproxyurl Wi-Fi`, AUTO_NONE)
    .on(`${NS} -getproxybypassdomains Wi-Fi`, BYPASS)
    .on(`${NS} -getautoproxyurl USB 10/100/1000 LAN`, AUTO_CORP)
    .on(`${NS} -getproxybypassdomains USB 10/100/1000 LAN`, NO_BYPASS)
    .onPrefix(`${NS} -getwebproxy`, WEB_OFF)
    .onPrefix(`${NS} -getsecurewebproxy`, WEB_OFF)
    .onPrefix(`${NS} -getautoproxyurl`, AUTO_NONE)
    .onPrefix(`${NS} -getproxybypassdomains`, NO_BYPASS);

test('networksetup output parses into services and settings', () => {
  assert.deepEqual(parseServices(SERVICES), ['USB 10/100/1000 LAN', 'Wi-Fi', 'Thunderbolt Bridge']);
  assert.deepEqual(parseWebProxy(WEB_OFF), { enabled: false, server: '', port: 0 });
  assert.deepEqual(parseWebProxy(WEB_CORP), { enabled: true, server: 'proxy.corp.example', port: 3128 });
  assert.deepEqual(parseAutoProxy(AUTO_NONE), { enabled: false, url: '' });
  assert.deepEqual(parseAutoProxy(AUTO_CORP), { enabled: true, url: 'http://wpad.corp.example/wpad.dat' });
  assert.deepEqual(parseBypass(NO_BYPASS), []);
  assert.deepEqual(parseBypass(BYPASS), ['*.local', '169.254/16']);
});

test('the macOS snapshot covers every enabled network service and skips disabled ones', async () => {
  const runner = mac();
  const snapshot = await createMacosAdapter({ runner: runner.run }).snapshot();
  assert.equal(snapshot.fields[macField('Wi-Fi', 'web')], JSON.stringify({ enabled: true, server: 'proxy.corp.example', port: 3128 }));
  assert.equal(snapshot.fields[macField('USB 10/100/1000 LAN', 'autoproxy')], JSON.stringify({ enabled: true, url: 'http://wpad.corp.example/wpad.dat' }));
  assert.equal(Object.keys(snapshot.fields).length, 12);
  assert.ok(!runner.calls.some((c) => c.args.includes('Bluetooth PAN') || c.args.includes('*Bluetooth PAN')));
});

test('manual mode on macOS sets bypass, web and secure web proxies on every service, and turns a PAC off', async () => {
  const runner = mac();
  await createMacosAdapter({ runner: runner.run }).apply({ mode: 'manual', host: '127.0.0.1', port: 18080, bypass: ['localhost', '*.local'] });
  const writes = runner.calls.filter((c) => c.args[0]?.startsWith('-set')).map((c) => c.args);
  assert.deepEqual(writes, [
    ['-setproxybypassdomains', 'USB 10/100/1000 LAN', 'localhost', '*.local'],
    ['-setwebproxy', 'USB 10/100/1000 LAN', '127.0.0.1', '18080'],
    ['-setsecurewebproxy', 'USB 10/100/1000 LAN', '127.0.0.1', '18080'],
    ['-setautoproxyurl', 'USB 10/100/1000 LAN', 'http://wpad.corp.example/wpad.dat'],
    ['-setautoproxystate', 'USB 10/100/1000 LAN', 'off'],
    ['-setproxybypassdomains', 'Wi-Fi', 'localhost', '*.local'],
    ['-setwebproxy', 'Wi-Fi', '127.0.0.1', '18080'],
    ['-setsecurewebproxy', 'Wi-Fi', '127.0.0.1', '18080'],
    ['-setproxybypassdomains', 'Thunderbolt Bridge', 'localhost', '*.local'],
    ['-setwebproxy', 'Thunderbolt Bridge', '127.0.0.1', '18080'],
    ['-setsecurewebproxy', 'Thunderbolt Bridge', '127.0.0.1', '18080'],
  ]);
});

test('PAC mode on macOS sets the auto proxy URL and turns enabled manual proxies off', async () => {
  const runner = mac();
  await createMacosAdapter({ runner: runner.run }).apply({ mode: 'pac', pacUrl: 'http://127.0.0.1:18080/proxy.pac' });
  const writes = runner.calls.filter((c) => c.args[0]?.startsWith('-set') && c.args[1] === 'Wi-Fi').map((c) => c.args);
  assert.deepEqual(writes, [
    ['-setwebproxy', 'Wi-Fi', 'proxy.corp.example', '3128'],
    ['-setwebproxystate', 'Wi-Fi', 'off'],
    ['-setsecurewebproxy', 'Wi-Fi', 'proxy.corp.example', '3128'],
    ['-setsecurewebproxystate', 'Wi-Fi', 'off'],
    ['-setautoproxyurl', 'Wi-Fi', 'http://127.0.0.1:18080/proxy.pac'],
  ]);
});

test('restoring on macOS puts back empty settings as off and an empty bypass list as Empty', async () => {
  const runner = recordedRunner();
  await createMacosAdapter({ runner: runner.run }).restore({
    adapter: 'macos',
    fields: {
      [macField('Wi-Fi', 'autoproxy')]: JSON.stringify({ enabled: false, url: '' }),
      [macField('Wi-Fi', 'web')]: JSON.stringify({ enabled: false, server: '', port: 0 }),
      [macField('Wi-Fi', 'bypass')]: JSON.stringify([]),
    },
  });
  assert.deepEqual(
    runner.calls.map((c) => c.args),
    [
      ['-setproxybypassdomains', 'Wi-Fi', 'Empty'],
      ['-setwebproxystate', 'Wi-Fi', 'off'],
      ['-setautoproxystate', 'Wi-Fi', 'off'],
    ],
  );
});
