import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MenuItemConstructorOptions } from 'electron';
import { buildTrayMenu, trayImageFile, trayTooltip, type TrayState } from './tray-menu.js';

const base: TrayState = {
  state: 'disconnected',
  profiles: [
    { id: 'a', name: 'Work' },
    { id: 'b', name: 'Lab' },
  ],
  activeProfileId: 'a',
  proxyAddress: '127.0.0.1:8080',
  shellExport: 'export https_proxy=http://127.0.0.1:8080',
};

const recorder = () => {
  const calls: string[] = [];
  return {
    calls,
    actions: {
      connect: (id?: string) => calls.push(`connect:${id ?? ''}`),
      disconnect: () => calls.push('disconnect'),
      open: () => calls.push('open'),
      copy: (text: string) => calls.push(`copy:${text}`),
      checkConnection: () => calls.push('check'),
      quit: () => calls.push('quit'),
    },
  };
};

const item = (menu: MenuItemConstructorOptions[], id: string): MenuItemConstructorOptions => {
  const found = menu.find((m) => m.id === id);
  assert.ok(found, `menu has ${id}`);
  return found;
};

const click = (entry: MenuItemConstructorOptions): void => (entry.click as unknown as () => void)();

test('disconnected: the tray offers Connect with the active profile, a profile switcher, Open, both copies and Quit', () => {
  const { calls, actions } = recorder();
  const menu = buildTrayMenu(base, actions);
  assert.equal(item(menu, 'status').label, 'Not connected');
  click(item(menu, 'connect'));
  const profiles = item(menu, 'profiles').submenu as MenuItemConstructorOptions[];
  assert.deepEqual(profiles.map((p) => [p.label, p.checked]), [['Work', true], ['Lab', false]]);
  click(profiles[1] as MenuItemConstructorOptions);
  click(item(menu, 'open'));
  click(item(menu, 'copy-address'));
  click(item(menu, 'copy-export'));
  click(item(menu, 'check'));
  click(item(menu, 'quit'));
  assert.deepEqual(calls, ['connect:a', 'connect:b', 'open', 'copy:127.0.0.1:8080', 'copy:export https_proxy=http://127.0.0.1:8080', 'check', 'quit']);
  assert.equal(menu.some((m) => m.id === 'disconnect'), false);
});

test('connected: Disconnect replaces Connect and the status names the gateway', () => {
  const { calls, actions } = recorder();
  const menu = buildTrayMenu({ ...base, state: 'connected', gateway: 'gw.example.com' }, actions);
  assert.equal(item(menu, 'status').label, 'Connected · gw.example.com');
  click(item(menu, 'disconnect'));
  assert.deepEqual(calls, ['disconnect']);
  assert.equal(menu.some((m) => m.id === 'connect'), false);
  assert.equal(trayTooltip({ ...base, state: 'connected', gateway: 'gw.example.com' }), 'Pinhole: Connected (gw.example.com)');
});

test('while connecting the switch reads "Stop connecting"; with no profiles Connect is disabled', () => {
  const { actions } = recorder();
  assert.equal(item(buildTrayMenu({ ...base, state: 'reconnecting' }, actions), 'disconnect').label, 'Stop connecting');
  const empty = buildTrayMenu({ ...base, profiles: [], activeProfileId: null }, actions);
  assert.equal(item(empty, 'connect').enabled, false);
  assert.equal(empty.some((m) => m.id === 'profiles'), false);
});

test('the tray image shows the state, as template images on macOS', () => {
  assert.equal(trayImageFile('connected', 'linux'), 'tray-connected.png');
  assert.equal(trayImageFile('reconnecting', 'win32'), 'tray-connecting.png');
  assert.equal(trayImageFile('error', 'darwin'), 'tray-errorTemplate.png');
  assert.equal(trayImageFile('disconnected', 'darwin'), 'tray-disconnectedTemplate.png');
});

test('connected with several gateways: the menu names the one in use with its round trip, then the others\' state, in the user\'s words', async () => {
  const { trayWords } = await import('./tray-words.js');
  const tray: TrayState = {
    ...base,
    state: 'connected',
    gateway: 'gw.example.com',
    gateways: {
      inUse: 'b.example.com:443',
      endpoints: [
        { endpoint: 'a.example.com:443', health: 'down', rttMs: null, current: false, failure: 'PINHOLE_GATEWAY_UNRESPONSIVE' },
        { endpoint: 'b.example.com:443', health: 'up', rttMs: 12.4, current: true },
        { endpoint: 'c.example.com:443', health: 'up', rttMs: 30, current: false },
      ],
    },
  };
  const labels = (menu: MenuItemConstructorOptions[]): string[] => menu.filter((i) => i.id?.startsWith('gateway:')).map((i) => String(i.label));
  const menu = buildTrayMenu(tray, recorder().actions);
  assert.deepEqual(labels(menu), ['Gateway b.example.com:443 · 12 ms', 'a.example.com:443 · not answering', 'c.example.com:443 · answering, 30 ms']);
  assert.ok(menu.filter((i) => i.id?.startsWith('gateway:')).every((i) => i.enabled === false), 'lines to read, not actions');
  assert.deepEqual(labels(buildTrayMenu(tray, recorder().actions, trayWords('es'))), ['Pasarela b.example.com:443 · 12 ms', 'a.example.com:443 · no responde', 'c.example.com:443 · responde, 30 ms']);
  assert.equal(labels(buildTrayMenu(tray, recorder().actions, trayWords('zh-CN')))[1], 'a.example.com:443 · 无响应');
  // One endpoint, or not connected: nothing to choose between, no lines.
  assert.deepEqual(labels(buildTrayMenu({ ...tray, state: 'reconnecting' }, recorder().actions)), []);
  assert.deepEqual(labels(buildTrayMenu({ ...tray, gateways: { inUse: 'b.example.com:443', endpoints: [tray.gateways!.endpoints[1]!] } }, recorder().actions)), []);
});
